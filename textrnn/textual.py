"""The plain-text steps of inference that need no torch: truncating and padding ids (as numpy arrays), a tagger's
casing classes, character ids, word offsets, windows and entity spans, a language model's generation settings
and the space between a prompt and its continuation.

They live here rather than beside the torch code that uses them (``encode``, ``models.tagger``, ``tasks.tag``,
``tasks.lm``, which import them from here), so that ``textrnn.onnx_runtime`` answers as a saved pipeline does with
numpy and onnxruntime alone, from the same code. (Cleaning a text is ``tokenize.clean_text``, also torch-free.)
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from textrnn.errors import ConfigError
from textrnn.tokenize import WordTokenizer
from textrnn.vocab import PAD_ID

TRUNCATE = ("tail", "head", "head+tail")
CASINGS = ("pad", "lower", "upper", "title", "mixed", "numeric", "contains_digit", "other")
NUM_CASINGS = len(CASINGS)
NUMBER_MARKS = frozenset(".,:/-+%")
TAG_WINDOW = 400      # a long text is tagged in windows of at most this many words, cut after a sentence end where
                      # one is near (training sentences are far shorter: CoNLL's longest has 124 words)
SENTENCE_ENDS = frozenset(".!?")
MAX_WORD_CHARS = 20   # longer words keep their first 20 characters for a tagger's character features


def truncate(ids: Sequence[int], max_len: int | None, keep: str = "head") -> list[int]:
    """Cut a sequence to ``max_len``: keep the ``head`` (first tokens), the ``tail`` (last tokens), or
    ``head+tail`` (the first third and the last two thirds: openings and conclusions both carry signal)."""
    if max_len is None or len(ids) <= max_len:
        return list(ids)
    if keep == "head":
        return list(ids[:max_len])
    if keep == "tail":
        return list(ids[len(ids) - max_len:])
    if keep == "head+tail":
        head = max_len // 3
        return list(ids[:head]) + list(ids[len(ids) - (max_len - head):])
    raise ValueError(f"truncate keep must be one of {TRUNCATE}, got {keep!r}")


def pad_ids(sequences: Sequence[Sequence[int]], max_len: int | None = None, keep: str = "head",
            min_len: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Right-padded int64 ids (B, T) and lengths (B,), each sequence truncated to ``max_len`` first; an empty one
    gets length 0 and a row of padding, and ``T`` is at least ``min_len``."""
    cut = [truncate(s, max_len, keep) for s in sequences]
    lengths = np.fromiter((len(s) for s in cut), dtype=np.int64, count=len(cut))
    width = max(int(lengths.max()) if len(cut) else 0, min_len)
    out = np.full((len(cut), width), PAD_ID, dtype=np.int64)
    for row, s in zip(out, cut, strict=True):
        row[: len(s)] = s
    return out, lengths


def casing_class(token: str) -> int:
    """The casing class id of a token (0 is padding, never returned).

    1 lower (letters, none upper; uncased scripts such as Hangul too), 2 upper, 3 title (first letter upper, the
    rest lower), 4 mixed, 5 numeric (digits with at most ``.,:/-+%``), 6 contains a digit, 7 other (no letter or
    digit: punctuation, symbols).
    """
    if any(c.isdigit() for c in token):
        return CASINGS.index("numeric") if all(c.isdigit() or c in NUMBER_MARKS for c in token) else CASINGS.index("contains_digit")
    letters = [c for c in token if c.isalpha()]
    if not letters:
        return CASINGS.index("other")
    upper = sum(c.isupper() for c in letters)
    if upper == 0:
        return CASINGS.index("lower")
    if upper == len(letters):
        return CASINGS.index("upper")
    if upper == 1 and letters[0].isupper():
        return CASINGS.index("title")
    return CASINGS.index("mixed")


def casing_ids(rows: list[list[str]], steps: int) -> np.ndarray:
    """(B, steps) casing class ids of each row's words, 0 past a row's end."""
    out = np.zeros((len(rows), steps), dtype=np.int64)
    for r, row in enumerate(rows):
        out[r, : len(row)] = [casing_class(w) for w in row]
    return out


def char_ids(rows: list[list[str]], steps: int, chars) -> np.ndarray:
    """(B, steps, W) character ids (the ``chars`` vocabulary's; 0 is padding) of each row's words, W the longest
    word's length up to MAX_WORD_CHARS (a longer word keeps its first characters)."""
    width = max(1, min(MAX_WORD_CHARS, max((len(w) for row in rows for w in row), default=1)))
    out = np.zeros((len(rows), steps, width), dtype=np.int64)
    for r, row in enumerate(rows):
        for col, word in enumerate(row):
            out[r, col, : min(width, len(word))] = chars.encode(list(word[:width]))
    return out


def normalize(tokenizer, tokens: list[str]) -> list[str]:
    """A tagger's words as its word ids see them: lower-cased when the tokenizer lower-cases (CoNLL's words too)."""
    return [t.lower() for t in tokens] if tokenizer.lower else tokens


def written_spans(tokenizer, text: str) -> list[tuple[str, int, int]]:
    """A plain text's words as written, with their character offsets (start, end) into ``text`` as given."""
    if isinstance(tokenizer, WordTokenizer):
        return tokenizer.spans(text)
    pieces, at = [], 0
    for token in tokenizer.tokenize(text):
        start = text.find(token, at) if token.strip() else at
        start = at if start < 0 else start
        pieces.append((token, start, start + len(token)))
        at = start + len(token)
    return pieces


def windows(tokens: list[str], width: int = TAG_WINDOW) -> list[tuple[int, int]]:
    """(start, end) word ranges that cover ``tokens`` in order, each at most ``width`` words, cut after the last
    sentence end in a window's second half where there is one."""
    if width < 2:
        raise ConfigError(f"a tagging window holds at least 2 words, got {width}")
    out, start = [], 0
    while len(tokens) - start > width:
        end = start + width
        for cut in range(end, start + width // 2, -1):
            if tokens[cut - 1] in SENTENCE_ENDS:
                end = cut
                break
        out.append((start, end))
        start = end
    out.append((start, len(tokens)))
    return out


def entities(text: str, spans: list[tuple[str, int, int]], tags: list[str]) -> list[dict]:
    """Entity spans from IOB2 tags: ``[{"text", "type", "start", "end"}]`` with character offsets into ``text``."""
    found, current = [], None
    for (_token, start, end), tag_name in zip(spans, tags, strict=True):
        kind = tag_name[2:]
        if tag_name.startswith("B-") or (tag_name.startswith("I-") and (current is None or current["type"] != kind)):
            if current:
                found.append(current)
            current = {"type": kind, "start": start, "end": end}
        elif tag_name.startswith("I-") and current is not None:
            current["end"] = end
        else:
            if current:
                found.append(current)
            current = None
    if current:
        found.append(current)
    return [{"text": text[e["start"]:e["end"]], "type": e["type"], "start": e["start"], "end": e["end"]} for e in found]


def needs_space(left: str, new_tokens: Sequence[str], tokenizer) -> bool:
    """Whether ``left`` and the text of ``new_tokens`` must be joined with a space, as the tokenizer would write."""
    if not left or left[-1].isspace() or not new_tokens:
        return False
    kind = getattr(tokenizer, "kind", "word")
    if kind == "char":
        return False
    if kind == "sentencepiece":
        return new_tokens[0].startswith("▁")   # decoding drops the leading space of the first piece
    left_tokens = tokenizer.tokenize(left)
    if not left_tokens:
        return False
    a, b = left_tokens[-1], new_tokens[0]
    return tokenizer.detokenize([a, b]) != a + b


@dataclass
class GenerationConfig:
    """How to continue a text.

    ``temperature`` 0 is greedy decoding. ``top_k`` > 0 samples among the k likeliest tokens only; ``top_p`` < 1
    samples from the smallest set of tokens whose probability reaches p (nucleus sampling). ``beam`` > 1 runs beam
    search, which is deterministic (temperature, top-k and top-p are then unused) and picks the finished text with
    the best mean log-probability per token (so long texts are not punished for being long). ``seed`` makes sampling repeatable. With ``stop_at_eos``
    generation ends at ``<eos>``; without it ``<eos>`` is never emitted (a running text such as a play has no
    sentence ends). ``<pad>``, ``<unk>`` and ``<bos>`` are never emitted. Raises ConfigError for a bad value.
    """

    max_tokens: int = 100
    temperature: float = 1.0
    top_k: int = 0
    top_p: float = 1.0
    beam: int = 1
    seed: int | None = None
    stop_at_eos: bool = True

    def __post_init__(self):
        def integer(value) -> bool:
            return isinstance(value, int) and not isinstance(value, bool)

        def number(value) -> bool:
            return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)

        problems = {
            "max_tokens": integer(self.max_tokens) and self.max_tokens >= 0,
            "temperature": number(self.temperature) and self.temperature >= 0,
            "top_k": integer(self.top_k) and self.top_k >= 0,
            "top_p": number(self.top_p) and 0 < self.top_p <= 1,
            "beam": integer(self.beam) and self.beam >= 1,
            "seed": self.seed is None or integer(self.seed),
        }
        wanted = {"max_tokens": "an integer >= 0", "temperature": "a number >= 0 (0 = greedy)",
                  "top_k": "an integer >= 0 (0 = no limit)", "top_p": "a number in (0, 1]",
                  "beam": "an integer >= 1", "seed": "an integer or None"}
        for key, ok in problems.items():
            if not ok:
                raise ConfigError(f"generation setting {key} must be {wanted[key]}, got {getattr(self, key)!r}")

"""Filling one blank (``___``) in a sentence with a language model: ranking candidates, or proposing whole-word
fills by beam search and rescoring them as whole sentences."""
from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from textrnn.errors import ConfigError, TextrnnError
from textrnn.tasks.lm.sampling import NEG_INF, batch_dims, evaluating, last_logits, select
from textrnn.tasks.lm.scoring import score
from textrnn.textual import needs_space
from textrnn.tokenize import WordTokenizer
from textrnn.vocab import EOS_ID, SPECIALS, UNK_ID, Vocab

BLANK_RE = re.compile(r"_{3,}")
# A fill is at most this many tokens unless told otherwise; characters need more of them for a word or two.
FILL_TOKENS = {"char": 24}
DEFAULT_FILL_TOKENS = 8
# A proposed fill must be followed by a new word, punctuation or <eos> with at least this probability.
MIN_END_PROBABILITY = 0.05
LEFT_CONTEXT_CHARS = 4000   # the text before a blank is read from at most its last 4,000 characters


def _recent(before: str) -> tuple[str, str]:
    """(the last LEFT_CONTEXT_CHARS characters of ``before``, cut after a space where one is near; the rest)."""
    if len(before) <= LEFT_CONTEXT_CHARS:
        return before, ""
    cut = len(before) - LEFT_CONTEXT_CHARS
    space = before.find(" ", cut, cut + 200)
    cut = space + 1 if space >= 0 else cut
    return before[cut:], before[:cut]


def parse_blank(text: str) -> tuple[str, str]:
    """Split a sentence on its one blank, written as three or more underscores: ``(before, after)``.

    A run of underscores is one blank however long it is; ``__`` is not a blank. Raises TextrnnError when the
    text has no blank or several.
    """
    if not isinstance(text, str):
        raise TypeError(f"parse_blank takes a string, got {type(text).__name__}")
    blanks = list(BLANK_RE.finditer(text))
    shown = repr(text if len(text) <= 80 else text[:77] + "...")
    if not blanks:
        raise TextrnnError(f"no blank in {shown}: write the missing part as ___ (three or more underscores)")
    if len(blanks) > 1:
        raise TextrnnError(f"{len(blanks)} blanks in {shown}: write exactly one ___ to fill")
    blank = blanks[0]
    return text[: blank.start()], text[blank.end():]


def word_start(token: str, tokenizer) -> bool:
    """Whether ``token`` opens a new word: every token of a word tokenizer; a sentencepiece piece beginning with
    ``▁``; for characters, whitespace (the space before a word opens it, as sentencepiece's ``▁`` does)."""
    kind = getattr(tokenizer, "kind", "word")
    if kind == "char":
        return token.isspace()
    if kind == "sentencepiece":
        return token.startswith("▁")
    return True


def _is_punctuation(token: str, kind: str) -> bool:
    text = token.lstrip("▁") if kind == "sentencepiece" else token
    return bool(text) and all(unicodedata.category(c).startswith("P") for c in text)


@dataclass
class _FillRules:
    """(V,) masks over the vocabulary for proposing fills."""

    first: torch.Tensor      # may open a fill
    inside: torch.Tensor     # may continue a fill
    boundary: torch.Tensor   # may follow a finished fill: a new word, punctuation, <eos>
    space: torch.Tensor      # whitespace inside a character fill (never two in a row)


def _fill_rules(vocab: Vocab, tokenizer, before: str, device) -> _FillRules:
    kind = getattr(tokenizer, "kind", "word")
    glued = bool(before) and not before[-1].isspace()   # the blank touches the word before it
    first, inside, boundary, space = [], [], [], []
    for i, token in enumerate(vocab.itos):
        special = i < len(SPECIALS)
        punctuation = _is_punctuation(token, kind)
        starts = word_start(token, tokenizer)
        if kind == "char":
            blank = token.isspace()
            ok = not special and not punctuation and (not blank or token == " ")
            first.append(ok and not blank)
            inside.append(ok)
            boundary.append(i == EOS_ID or (not special and (punctuation or blank)))
            space.append(blank)
        else:
            ok = not special and not punctuation
            first.append(ok and (starts or glued))
            inside.append(ok)
            boundary.append(i == EOS_ID or (not special and (punctuation or starts)) or i == UNK_ID)
            space.append(False)

    def mask(values: list[bool]) -> torch.Tensor:
        return torch.tensor(values, dtype=torch.bool, device=device)

    return _FillRules(mask(first), mask(inside), mask(boundary), mask(space))


def _readable(fill: str) -> bool:
    """A fill worth proposing: not empty, no space at either end, and no half of a character (sentencepiece byte
    pieces decode an incomplete UTF-8 sequence to U+FFFD) nor control characters."""
    return (bool(fill) and fill == fill.strip() and "\ufffd" not in fill
            and not any(unicodedata.category(c) == "Cc" for c in fill))


def _propose(model, tokenizer, vocab: Vocab, before: str, start_id: int | None, max_fill_tokens: int,
             width: int, device) -> list[tuple[float, float, str, list[str]]]:
    """Fills proposed by beam search after ``before``, best first: ``(approximate logprob, end logprob, text,
    tokens)``, where the end log-probability is that of a new word, punctuation or ``<eos>`` following the fill
    and the approximate logprob includes it. A fill is one or more whole words without punctuation. The caller
    rescores the proposals as whole sentences.
    """
    rules = _fill_rules(vocab, tokenizer, before, device)
    context = ([] if start_id is None else [int(start_id)])
    context += [vocab.stoi.get(t, UNK_ID) for t in tokenizer.tokenize(before)]
    if not context:
        raise TextrnnError("the blank opens the text and there is no start_id: nothing to predict the fill from")
    logits, state = last_logits(model, torch.tensor([context], device=device), None)   # (1, V)
    vocab_size = logits.size(-1)
    if vocab_size != len(vocab):
        raise TextrnnError(f"the model predicts {vocab_size} tokens but the vocabulary has {len(vocab)}")
    dims = batch_dims(model, state, device)
    beams: list[list[int]] = [[]]
    scores = torch.zeros(1, dtype=torch.float64, device=device)
    proposals: dict[str, tuple[float, float, str, list[str]]] = {}
    for step in range(max_fill_tokens + 1):
        logprobs = F.log_softmax(logits, dim=-1)                                        # (k, V)
        if step > 0:
            ends = torch.logsumexp(logprobs.masked_fill(~rules.boundary, NEG_INF), dim=-1)   # (k,)
            for ids, total, end in zip(beams, scores.tolist(), ends.tolist(), strict=True):
                tokens = vocab.decode(ids)
                text = tokenizer.detokenize(tokens)
                if _readable(text) and (text not in proposals or proposals[text][0] < total + end):
                    proposals[text] = (total + end, end, text, tokens)
        if step == max_fill_tokens:
            break
        allowed = (rules.first if step == 0 else rules.inside)[None, :].expand(len(beams), -1)
        if step > 0 and bool(rules.space.any()):
            after_space = rules.space[torch.tensor([b[-1] for b in beams], device=device)]
            allowed = allowed & ~(after_space[:, None] & rules.space[None, :])
        totals, index = (scores[:, None] + logprobs.masked_fill(~allowed, NEG_INF)).view(-1).topk(
            min(width, len(beams) * vocab_size))
        alive = totals > NEG_INF
        if not bool(alive.any()):
            break
        totals, index = totals[alive], index[alive]
        rows, tokens = index // vocab_size, index % vocab_size
        beams = [beams[r] + [t] for r, t in zip(rows.tolist(), tokens.tolist(), strict=True)]
        scores = totals
        state = select(state, dims, rows)
        logits, state = last_logits(model, tokens[:, None], state)
    return sorted(proposals.values(), key=lambda p: -p[0])


_WORDS = WordTokenizer(lower=True)


def _runs_into(fill: str, after_words: list[str]) -> bool:
    """Whether a fill of several words goes on, after its first word, with the words that follow the blank, so that
    the sentence would say them twice ("net ___ of $ N million" filled with "loss of" or "loss of $ N million or N
    cents"). A fill that is nothing but those words ("I think ___ that it works" filled with "that") is left for the
    scoring to judge."""
    words = _WORDS.tokenize(fill)
    for i in range(1, len(words)):
        k = min(len(after_words), len(words) - i)
        if k and words[i:i + k] == after_words[:k]:
            return True
    return False


def _softmax(values: list[float]) -> list[float]:
    if not values:
        return []
    top = max(values)
    if top == NEG_INF:
        return [1.0 / len(values)] * len(values)
    weights = [math.exp(v - top) for v in values]
    total = sum(weights)
    return [w / total for w in weights]


@torch.inference_mode()
def complete(model, tokenizer, vocab: Vocab, text: str, candidates: Sequence[str] | None = None, top: int = 3,
             start_id: int | None = EOS_ID, max_fill_tokens: int | None = None, beam: int = 8,
             add_eos: bool = True, pmi: bool = False) -> dict:
    """Fill the one blank (``___``) in ``text``: ``{"text", "fills": [{"fill", "sentence", "logprob",
    "probability", "unknown"}, ...]}``, best first.

    With ``candidates``, each is put in the blank as written and the WHOLE sentence (before + fill + after, so the
    words after the blank count, and ``<eos>`` with ``add_eos``) is scored; every candidate is returned, and
    ``probability`` is the softmax of the candidates' total log-probabilities. Without candidates the model
    proposes fills: beam search (``beam`` wide) from the text before the blank over up to ``max_fill_tokens``
    tokens (default 8, 24 for character tokenizers), a fill being one or more whole words that never crosses
    punctuation or ``<eos>`` (a new word starts with ``▁`` for sentencepiece and after a space for characters;
    every word token is a word). A blank that ends the sentence (nothing but punctuation after it) thus takes
    fills up to where the model puts punctuation or ends the sentence. Proposals after which the model gives a
    word end less than MIN_END_PROBABILITY are dropped as half words, and so are fills of several words that run on
    into the words after the blank ("loss of" for "a net ___ of $ N million"), unless none is left. Each proposal is
    rescored as a whole sentence with the text after the blank; the ``top`` best are returned (fewer when fewer
    are plausible), ``probability`` normalised over all rescored proposals.

    The text before the blank is read from its last LEFT_CONTEXT_CHARS characters (a recurrent model's state
    carries little from further back), so memory and time stay bounded however long the text is; the returned
    sentences are whole.

    With ``pmi`` candidates are ranked by the sentence's log-probability minus the candidate's own as a text
    (``pmi`` in each fill; Holtzman et al. 2021): a frequent word no longer wins for being frequent, which matters
    where fills are inflected words of very different frequency (Korean verbs).

    Raises TextrnnError for a text without exactly one blank, or an empty candidate list.
    """
    before, after = parse_blank(text)
    before, dropped = _recent(before)
    kind = getattr(tokenizer, "kind", "word")
    if candidates is not None:
        fills = list(dict.fromkeys(str(c) for c in candidates))
        if not fills:
            raise TextrnnError("no candidates to rank: give at least one fill, or none to let the model propose")
        sentences = [before + fill + after for fill in fills]
    else:
        if top < 1 or beam < 1:
            raise ConfigError(f"complete needs top >= 1 and beam >= 1, got top={top}, beam={beam}")
        limit = max_fill_tokens if max_fill_tokens is not None else FILL_TOKENS.get(kind, DEFAULT_FILL_TOKENS)
        if limit < 1:
            raise ConfigError(f"max_fill_tokens must be at least 1, got {limit}")
        with evaluating(model) as device:
            proposals = _propose(model, tokenizer, vocab, before, start_id, limit, beam, device)
        after_words = _WORDS.tokenize(after)
        proposals = [p for p in proposals if not _runs_into(p[2], after_words)] or proposals[:1]
        # A fill after which the model hardly ever ends a word is most likely half a word ("먹" of "먹었다").
        plausible = [p for p in proposals if p[1] >= math.log(MIN_END_PROBABILITY)] or proposals[:1]
        plausible = plausible[: max(beam, 3 * top)]
        fills = [fill for _, _, fill, _ in plausible]
        sentences = [before + (" " if needs_space(before, tokens, tokenizer) else "") + fill + after
                     for _, _, fill, tokens in plausible]
    results = score(model, tokenizer, vocab, sentences, start_id=start_id, add_eos=add_eos)
    ranking = [r["logprob"] for r in results]
    if pmi and candidates is not None:
        alone = score(model, tokenizer, vocab, fills, start_id=start_id, add_eos=False)
        ranking = [r["logprob"] - a["logprob"] for r, a in zip(results, alone, strict=True)]
    probabilities = _softmax(ranking)
    entries = [{"fill": fill, "sentence": dropped + sentence, "logprob": r["logprob"], "probability": p,
                "unknown": r["unknown"], **({"pmi": value} if pmi and candidates is not None else {})}
               for fill, sentence, r, p, value in zip(fills, sentences, results, probabilities, ranking, strict=True)]
    entries.sort(key=lambda e: -e["probability"])
    if candidates is None:
        entries = entries[:top]
    return {"text": text, "fills": entries}


"""Tokenizers: character, word (Unicode-aware, Hangul included) and sentencepiece subwords.

Each has ``tokenize(text) -> tokens``, ``detokenize(tokens) -> text`` and ``config()`` (a JSON-able dict that
``tokenizer_from_config`` turns back into the same tokenizer). Word tokenizing is reversible up to spacing:
``tokenize(detokenize(tokenize(text))) == tokenize(text)``; characters and sentencepiece are exact.
"""
from __future__ import annotations

import html
import io
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Protocol

from textrnn.errors import ConfigError, PipelineError
from textrnn.vocab import BOS, BOS_ID, EOS, EOS_ID, PAD, PAD_ID, UNK, UNK_ID, Vocab

_COMBINING = "\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f"
# Decimal numbers stay whole ("3.5", "1,000"); words are runs of letters and digits in any script (Latin, Hangul,
# CJK) with combining marks and inner apostrophes ("don't"); anything else that is not space is one token.
# (Measured: this form tokenizes 25k IMDB reviews about a third faster than one built on [^\W_] classes.)
# "<unk>" as written is one token, the vocabulary's own: corpora that mark their rare words with it (the Penn
# Treebank, WikiText) keep one predicted <unk> per rare word, not the three tokens "<", "unk", ">", which a language
# model predicts almost for free and which made PTB perplexities incomparable with published ones
CHARACTER_COVERAGE = 0.9995   # sentencepiece's default: the rarest characters are spelled as bytes
_HTML_BREAK = re.compile(r"<br\s*/?>", re.IGNORECASE)
_WORD_RE = re.compile(rf"<unk>|\d+(?:[.,]\d+)+|[\w{_COMBINING}]+(?:['’][\w{_COMBINING}]+)*|\S")
_find_words = _WORD_RE.findall
_is_alnum = str.isalnum


def _words(text: str) -> list[str]:
    """``_WORD_RE.findall(text)`` in about 30% less time (measured on IMDB train). No token of the pattern holds
    or crosses white space, which ``\\S`` and ``str.split`` agree on, so the text can be read between its spaces;
    and a run of letters and digits alone (``str.isalnum``, a subset of ``\\w``) is one word, with no regex call.
    Only runs holding punctuation, apostrophes, marks or "<unk>" go through the pattern."""
    chunks = text.split()
    if all(map(_is_alnum, chunks)):
        return chunks
    tokens: list[str] = []
    add, extend = tokens.append, tokens.extend
    for chunk in chunks:
        if _is_alnum(chunk):
            add(chunk)
        else:
            extend(_find_words(chunk))
    return tokens


# a sentence ends at ".", "!" or "?" (and any closing quote or bracket) before white space and a capital letter,
# digit or opening quote, unless the word before the stop is one letter ("J. Smith") or a usual abbreviation
_SENTENCE_END = re.compile(r"""(?<=[.!?])(["')\]’”]*)\s+(?=["'(\[‘“]?[A-Z0-9])""")
_ABBREVIATIONS = {"mr", "mrs", "ms", "dr", "prof", "st", "jr", "sr", "co", "corp", "inc", "ltd", "no", "vs", "gen",
                  "gov", "sen", "rep", "jan", "feb", "mar", "apr", "aug", "sep", "sept", "oct", "nov", "dec", "u.s",
                  "u.k", "e.g", "i.e", "approx"}


def split_sentences(text: str) -> list[str]:
    """The sentences of a running text (news, reviews), its white space made single spaces. A simple rule-based cut,
    good enough to give taggers sentence-sized unlabelled texts; it does not claim a treebank's accuracy."""
    text = " ".join(text.split())
    sentences, start = [], 0
    for match in _SENTENCE_END.finditer(text):
        before = text[start:match.start()].rsplit(" ", 1)[-1].rstrip(".!?").lower()
        if len(before) <= 1 or before in _ABBREVIATIONS:
            continue
        sentences.append(text[start:match.end(1)])     # the stop and any closing quotes after it
        start = match.end()
    if text[start:]:
        sentences.append(text[start:])
    return sentences


_NO_SPACE_BEFORE = set(".,!?;:%)]}”’…")
_NO_SPACE_AFTER = set("([{“‘")


class Tokenizer(Protocol):
    kind: str

    def tokenize(self, text: str) -> list[str]: ...

    def detokenize(self, tokens: Iterable[str]) -> str: ...

    def config(self) -> dict: ...


def _composes(before: str, char: str) -> bool:
    """Whether NFC may join ``char`` to the cluster ``before`` it: a combining mark (NFC reorders marks and may
    compose one with the base past another), or a Hangul vowel or final jamo, an Indic vowel sign that composes."""
    return (unicodedata.combining(char) != 0
            or unicodedata.normalize("NFC", before + char) != unicodedata.normalize("NFC", before) + char)


def _nfc_offsets(text: str) -> tuple[list[int], list[int]]:
    """For each character of ``NFC(text)``, where it starts and ends in ``text``: its own place in the part of a
    cluster that NFC leaves as it is, else the place of the rest of the cluster.

    ``text`` is cut into clusters (a character and those NFC joins to it); each cluster normalises on its own, and
    NFC of the whole is the clusters' NFC end to end."""
    starts: list[int] = []
    ends: list[int] = []
    begin = 0
    for i in range(1, len(text) + 1):
        if i < len(text) and _composes(text[begin:i], text[i]):
            continue
        cluster = text[begin:i]
        normal = unicodedata.normalize("NFC", cluster)
        same = next((k for k, (a, b) in enumerate(zip(cluster, normal, strict=False)) if a != b),
                    min(len(cluster), len(normal)))   # the length of the unchanged start
        starts += [*range(begin, begin + same), *[begin + same] * (len(normal) - same)]
        ends += [*range(begin + 1, begin + same + 1), *[i] * (len(normal) - same)]
        begin = i
    return starts, ends


@dataclass
class CharTokenizer:
    """One token per Unicode character (spaces and newlines included); exactly reversible."""

    lower: bool = False
    kind: str = "char"

    def tokenize(self, text: str) -> list[str]:
        return list(text.lower() if self.lower else text)

    def detokenize(self, tokens: Iterable[str]) -> str:
        return "".join(tokens)

    def config(self) -> dict:
        return asdict(self)


@dataclass
class WordTokenizer:
    """Words, numbers and single punctuation marks; Unicode-aware (Latin, Hangul, CJK, accents).

    Korean words stay whole eojeol ("밥을"), as written between spaces. Text is NFC-normalised first so that
    decomposed accents and Hangul jamo sequences become one token. ``lower`` lower-cases.
    """

    lower: bool = False
    kind: str = "word"

    def tokenize(self, text: str) -> list[str]:
        text = unicodedata.normalize("NFC", text)
        return _words(text.lower() if self.lower else text)

    def spans(self, text: str) -> list[tuple[str, int, int]]:
        """The words (NFC, never lower-cased: they belong with their offsets) with their character offsets (start,
        end) into ``text`` as given: ``text[start:end]`` is the word as written, decomposed accents and all."""
        normal = unicodedata.normalize("NFC", text)
        if normal == text:
            return [(m.group(), m.start(), m.end()) for m in _WORD_RE.finditer(text)]
        starts, ends = _nfc_offsets(text)
        return [(m.group(), starts[m.start()], ends[m.end() - 1]) for m in _WORD_RE.finditer(normal)]

    def detokenize(self, tokens: Iterable[str]) -> str:
        out: list[str] = []
        previous = ""
        for token in tokens:
            if out and token not in _NO_SPACE_BEFORE and previous not in _NO_SPACE_AFTER:
                out.append(" ")
            out.append(token)
            previous = token
        return "".join(out)

    def config(self) -> dict:
        return asdict(self)


class SentencePieceTokenizer:
    """Subword pieces from a sentencepiece model whose ids are textrnn's (``<pad>``=0, ``<unk>``=1, ...).

    Train with ``SentencePieceTokenizer.train(texts, vocab_size=8000, model_type="unigram")``; the model's bytes
    are kept (``model_bytes``) and saved as ``spm.model`` inside a pipeline.
    """

    kind = "sentencepiece"

    def __init__(self, model_bytes: bytes, model_type: str = "unigram", lower: bool = False):
        import sentencepiece as spm

        self.model_bytes = bytes(model_bytes)
        self.model_type = model_type
        self.lower = lower   # lower-case before encoding, like the other tokenizers (the model was trained so)
        self.processor = spm.SentencePieceProcessor()
        try:
            self.processor.LoadFromSerializedProto(self.model_bytes)
        except Exception as error:  # sentencepiece raises RuntimeError/OSError for a bad proto
            raise PipelineError(f"not a sentencepiece model ({error}); the spm.model file is corrupted") from None
        expected = {PAD_ID: PAD, UNK_ID: UNK, BOS_ID: BOS, EOS_ID: EOS}
        for i, piece in expected.items():
            if i >= self.processor.get_piece_size() or self.processor.id_to_piece(i) != piece:
                raise PipelineError(f"sentencepiece model does not use textrnn's special ids ({piece} must be id {i})")

    @classmethod
    def train(
        cls,
        texts: Iterable[str],
        vocab_size: int = 8000,
        model_type: str = "unigram",
        max_sentences: int = 2_000_000,
        lower: bool = False,
    ) -> SentencePieceTokenizer:
        """Train on texts (the train split only) with textrnn's special-token ids; byte fallback keeps any text.
        ``lower`` lower-cases the texts before training and every text before encoding."""
        import sentencepiece as spm

        if model_type not in ("unigram", "bpe"):
            raise ConfigError(f"tokenizer.model_type must be 'unigram' or 'bpe', got {model_type!r}")
        sentences = [t.lower() if lower else t for t in texts if t.strip()]
        if not sentences:
            raise ConfigError("cannot train sentencepiece on an empty corpus")
        model = io.BytesIO()
        try:
            _train_sentencepiece(spm, sentences, model, vocab_size, model_type, max_sentences)
        except RuntimeError as error:
            # sentencepiece's messages look like "INTERNAL: file.cc(94) [the failed check] the explanation"
            check, _, explanation = str(error).partition("] ")
            reason = explanation.strip() or f"its check {check.partition('[')[2]}] failed."
            raise ConfigError(
                f"sentencepiece could not train {vocab_size} pieces on {len(sentences):,} texts: {reason} "
                "Set tokenizer.vocab_size higher (at least the distinct characters the text needs), or give more "
                "text") from None
        return cls(model.getvalue(), model_type, lower=lower)

    def tokenize(self, text: str) -> list[str]:
        return self.processor.encode(text.lower() if self.lower else text, out_type=str)

    def detokenize(self, tokens: Iterable[str]) -> str:
        return self.processor.decode_pieces(list(tokens))

    def vocab(self) -> Vocab:
        """The pieces as a Vocab (index = sentencepiece id), so ids agree with the model's."""
        return Vocab([self.processor.id_to_piece(i) for i in range(self.processor.get_piece_size())])

    def config(self) -> dict:
        return {"kind": self.kind, "model_type": self.model_type, "lower": self.lower}

    def save_model(self, path: str | Path) -> None:
        from textrnn.fileio import atomic_write_bytes

        atomic_write_bytes(path, self.model_bytes)


def _train_sentencepiece(spm, sentences: list[str], model, vocab_size: int, model_type: str,
                         max_sentences: int) -> None:
    """One sentencepiece training run with textrnn's special ids, byte fallback and a soft vocabulary limit."""
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(sentences),
        model_writer=model,
        vocab_size=vocab_size,
        model_type=model_type,
        character_coverage=CHARACTER_COVERAGE,
        pad_id=PAD_ID, unk_id=UNK_ID, bos_id=BOS_ID, eos_id=EOS_ID,
        pad_piece=PAD, unk_piece=UNK, bos_piece=BOS, eos_piece=EOS,
        byte_fallback=True,
        hard_vocab_limit=False,
        input_sentence_size=max_sentences,
        shuffle_input_sentence=True,
        num_threads=2,
        minloglevel=2,
    )


TOKENIZERS = {"char": CharTokenizer, "word": WordTokenizer}
KINDS = ("word", "char", "sentencepiece")


@dataclass
class TokenizerConfig:
    kind: str = "word"               # "word" | "char" | "sentencepiece"
    lower: bool = False
    vocab_size: int = 8000           # sentencepiece only
    model_type: str = "unigram"      # sentencepiece only: "unigram" | "bpe"


def build_tokenizer(config: TokenizerConfig, texts: Iterable[str]):
    """The tokenizer ``config`` names; sentencepiece is trained on ``texts`` (the train split's, cleaned)."""
    if config.kind == "sentencepiece":
        return SentencePieceTokenizer.train(texts, vocab_size=config.vocab_size, model_type=config.model_type,
                                            lower=config.lower)
    if config.kind not in TOKENIZERS:
        raise ConfigError(f"tokenizer.kind must be one of {', '.join(KINDS)}, got {config.kind!r}")
    return TOKENIZERS[config.kind](lower=config.lower)


def clean_text(text: str, strip_html: bool) -> str:
    """``text`` with, for ``strip_html`` (IMDB), line-break tags made spaces and entities such as ``&amp;`` decoded."""
    return html.unescape(_HTML_BREAK.sub(" ", text)) if strip_html else text


def tokenizer_from_config(config: dict, model_file: str | Path | None = None):
    """Rebuild a tokenizer from ``config()``; sentencepiece reads its model from ``model_file`` (a run's spm.model)."""
    if not isinstance(config, dict) or not isinstance(config.get("kind"), str):
        raise PipelineError("tokenizer config must be an object with a 'kind' string")
    kind = config["kind"]
    lower = config.get("lower", False)
    if not isinstance(lower, bool):
        raise PipelineError("tokenizer 'lower' must be true or false")
    if kind == "sentencepiece":
        if model_file is None:
            raise PipelineError("a sentencepiece tokenizer needs its spm.model file")
        path = Path(model_file)
        if not path.exists():
            raise PipelineError(f"{path}: missing sentencepiece model; copy the whole run directory")
        return SentencePieceTokenizer(path.read_bytes(), config.get("model_type", "unigram"), lower=lower)
    if kind not in TOKENIZERS:
        raise PipelineError(f"unknown tokenizer kind {kind!r}; known: char, word, sentencepiece")
    return TOKENIZERS[kind](lower=lower)

"""What a task module provides (``Task``, a plain record of its functions: no base class to inherit from), and
what the text tasks share when they build their parts: the tokenizer and the word vocabulary from train."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from textrnn.errors import DataError
from textrnn.tokenize import build_tokenizer, clean_text
from textrnn.vocab import Vocab


@dataclass(frozen=True)
class Task:
    """One task. ``pipe`` below is the ``Pipeline`` that holds the task's parts and model.

    ``build(config, examples, corpus, extra_texts, quiet) -> Built``: the parts (tokenizer(s), vocabularies, labels)
    from the train examples (and the extra unlabelled texts, for ``vocab.extra_min_freq``), and whatever the model
    settings need from them (written into ``config.model``).
    ``make_model(model_config, parts) -> nn.Module``.
    ``encode(pipe, examples, with_labels, where)``: examples -> the task's encoded form (``where`` names the split
    or file in errors). ``loop(pipe, train, valid, train_config) -> TaskLoop`` (``valid`` None: no validation).
    ``evaluate(pipe, encoded, model=None) -> dict`` (DESIGN.md's metric names).
    ``commands``: the inference functions, ``name -> fn(pipe, ...)``; ``Pipeline.predict`` and friends call them.
    ``settings``: the dataclass of the task's own settings (a recipe's table named after the task: ``[lm]``).
    ``prepare(pipe, examples, quiet)``: after the model is built from train (a tagger holds its CRF to IOB2).
    ``files``: the part files a saved pipeline of this task may hold (nothing else is read or moved in a run).
    ``report(pipe, corpus, encoded_valid, out_dir, samples, quiet) -> dict``: what a recipe run adds (plots,
    samples, a baseline).
    ``evaluate_file(pipe, path, [target]) -> dict``: metrics on a file (and its aligned target file), where the task
    reads files its own way
    (None: the corpus readers with the run's fields, then ``evaluate``).
    ``defaults``: the settings of ``textrnn train NAME`` beside the user's.
    ``graph(pipe) -> models.traceable.GraphSpec``: what ``textrnn export`` traces (None: the task is not exported;
    a task may raise ExportError with its reason instead).
    ``word_tables(pipe) -> [(name, vocab, [embedding, ...])]``: the word embeddings that word2vec fills, each with
    the vocabulary of its rows (None: the one ``vocab`` and every embedding of its size).
    """

    name: str
    model_config: type
    build: Callable
    make_model: Callable
    encode: Callable
    loop: Callable
    evaluate: Callable
    commands: dict[str, Callable] = field(default_factory=dict)
    settings: type | None = None
    prepare: Callable | None = None
    files: frozenset[str] = frozenset()
    report: Callable | None = None
    evaluate_file: Callable | None = None
    defaults: dict = field(default_factory=dict)
    graph: Callable | None = None
    word_tables: Callable | None = None


@dataclass
class Built:
    """What ``Task.build`` returns: the parts by name, and the tokens of each train example and of each extra text
    as the vocabulary saw them (word2vec trains on them; empty for a task without a word vocabulary)."""

    parts: dict[str, Any]
    token_lists: list[list[str]] = field(default_factory=list)
    extra_lists: list[list[str]] = field(default_factory=list)


def tokenizer_and_vocab(config, texts: list[str], token_lists_of, extra_texts: list[str]):
    """The tokenizer ``config.tokenizer`` names (sentencepiece trained on ``texts``), the train token lists
    (``token_lists_of(tokenizer)``), the vocabulary (sentencepiece's own, or the train words by ``config.vocab``,
    extended by the extra texts' words seen ``vocab.extra_min_freq`` times) and the extra texts' token lists (made
    only where word2vec or the vocabulary reads them). Returns (tokenizer, vocab, token_lists, extra_lists)."""
    if not texts:
        raise DataError("the train split is empty: nothing to build a vocabulary from")
    tokenizer = build_tokenizer(config.tokenizer, texts)
    token_lists = token_lists_of(tokenizer)
    word2vec = (config.model.get("embedding") or {}).get("kind") == "word2vec"
    extra_lists = []
    if extra_texts and (word2vec or config.vocab.extra_min_freq > 0):
        strip = config.encode.strip_html
        extra_lists = [tokenizer.tokenize(clean_text(text, strip)) for text in extra_texts]
    if config.tokenizer.kind == "sentencepiece":
        vocab = tokenizer.vocab()
    else:
        vocab = Vocab.build(token_lists, min_freq=config.vocab.min_freq, max_size=config.vocab.max_size)
        if config.vocab.extra_min_freq > 0 and extra_lists:
            vocab = vocab.extended(extra_lists, config.vocab.extra_min_freq)
    return tokenizer, vocab, token_lists, extra_lists


def build_from_texts(config, examples, extra_texts: list[str]):
    """``tokenizer_and_vocab`` over the examples' texts as the tokenizer reads them (cleaned)."""
    texts = [clean_text(e.text or "", config.encode.strip_html) for e in examples]
    return tokenizer_and_vocab(config, texts, lambda tokenizer: [tokenizer.tokenize(t) for t in texts], extra_texts)


def nonempty(texts, what: str = "text") -> list[str]:
    """The texts as a list; DataError naming the first empty one (an empty text has nothing to predict from)."""
    texts = list(texts)
    for number, text in enumerate(texts, 1):
        if not isinstance(text, str) or not text.strip():
            raise DataError(f"{what} {number} is empty; give text to work on")
    return texts

"""Many-to-many, aligned: one tag per token (named entities, the 'hello' next-character drill).

A tagger reads words as written: the characters and casing features see them so, while the word ids follow the
tokenizer's ``lower`` (``textual.normalize``). ``words`` is the one place that decides an example's words.
"""
from __future__ import annotations

import sys
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch

from textrnn.encode import Batch, bucket_batches, pad
from textrnn.errors import ConfigError, DataError
from textrnn.models.tagger import TaggerConfig, build_tagger
from textrnn.models.traceable import GraphSpec, TaggerGraph, random_ids
from textrnn.tasks.base import Built, Task, nonempty, tokenizer_and_vocab
from textrnn.textual import NUM_CASINGS, casing_ids, char_ids, entities, normalize, windows, written_spans
from textrnn.tokenize import clean_text
from textrnn.train import TaskLoop, TrainConfig
from textrnn.vocab import LabelVocab, Vocab


@dataclass
class Encoded:
    tokens: list[list[str]]           # the words as written (casing and characters come from these)
    ids: list[list[int]]
    tags: list[list[int]] | None
    aux: list | None = None           # per sentence, (words, K) value ids of the middle CoNLL columns for the
                                      # auxiliary heads (-1: none), or None without them

    def __len__(self) -> int:
        return len(self.ids)


# ----- words ------------------------------------------------------------------------------------------------------
def words(tokenizer, strip_html: bool, example) -> list[str]:
    """An example's words as written: its tokens (CoNLL), or its text's words after the text is cleaned."""
    if example.tokens is not None:
        return list(example.tokens)
    return [w for w, _, _ in written_spans(tokenizer, clean_text(example.text or "", strip_html))]


# ----- building ---------------------------------------------------------------------------------------------------
def build(config, examples, corpus, extra_texts: list[str], quiet: bool) -> Built:
    strip = config.encode.strip_html
    texts = [clean_text(e.text if e.text is not None else " ".join(e.tokens or ()), strip) for e in examples]
    written: list[list[str]] = []

    def token_lists(tokenizer) -> list[list[str]]:
        written.extend(words(tokenizer, strip, e) for e in examples)
        return [normalize(tokenizer, w) for w in written]

    tokenizer, vocab, lists, extra_lists = tokenizer_and_vocab(config, texts, token_lists, extra_texts)
    parts = {"tokenizer": tokenizer, "vocab": vocab, "labels": LabelVocab.build(t for e in examples for t in e.tags or [])}
    _find_aux_columns(config, examples, quiet)
    if (config.model.get("char_dim") or 0) > 0:
        parts["chars"] = Vocab.build([list(w) for sentence in written for w in sentence])
        config.model = {**config.model, "char_vocab_size": len(parts["chars"])}
    return Built(parts, lists, extra_lists)


def _find_aux_columns(config, examples: list, quiet: bool) -> None:
    """The auxiliary heads' columns (``model.aux_weight``): the values of each column between token and tag in the
    train file (CoNLL-2003: part of speech, chunk), kept in the model settings. Without such columns the heads are
    left out, and the run says so."""
    settings = config.model
    if float(settings.get("aux_weight") or 0.0) <= 0 or settings.get("aux_labels"):
        return
    widths = {len((e.meta or {}).get("columns") or []) for e in examples}
    if widths == {0}:
        if not quiet:
            print("model.aux_weight: the train file has no columns between token and tag, so the auxiliary heads are "
                  "left out (set model.aux_weight=0 to silence this)", file=sys.stderr)
        return
    values: list[set[str]] = [set() for _ in range(max(widths))]
    for e in examples:
        for k, column in enumerate((e.meta or {}).get("columns") or []):
            values[k].update(column)
    config.model = {**settings, "aux_labels": [sorted(v) for v in values]}
    if not quiet:
        print(f"auxiliary heads: {len(values)} column(s) between token and tag, with "
              f"{', '.join(str(len(v)) for v in values)} values", file=sys.stderr)


def make_model(config: TaggerConfig, parts: dict) -> torch.nn.Module:
    return build_tagger(config, len(parts["vocab"]), len(parts["labels"]))


def is_iob(tag_names: list[str]) -> bool:
    return all(t == "O" or (t[:2] in ("B-", "I-") and len(t) > 2) for t in tag_names)


def _crfs(pipe) -> list:
    from textrnn.models.crf import CRF

    return [module for module in pipe.model.modules() if isinstance(module, CRF)]


def prepare(pipe, examples, quiet: bool) -> None:
    """A CRF tagger whose tags are IOB2 (names B-X, I-X, O) and whose training tags all follow it learns and
    decodes only paths IOB2 allows: no I-X after O, at the start, or after another type. The constraint is kept in
    the model's buffers, so a saved model keeps it."""
    from textrnn.corpus import iob2_break

    crfs = _crfs(pipe)
    if not crfs or not is_iob(pipe.labels.itos) or any(e.tags and iob2_break(e.tags) is not None for e in examples):
        return
    for crf in crfs:
        crf.constrain_iob2(pipe.labels.itos)


def _check_iob2_held(pipe, encoded: Encoded) -> None:
    """A tagger whose CRF is held to IOB2 paths cannot learn tags that break IOB2 (such a gold path scores as
    forbidden): DataError naming the first one, with the fix."""
    from textrnn.corpus import check_iob2

    if not any(not bool(crf.allowed_transitions.all()) for crf in _crfs(pipe)):
        return
    for n, tags in enumerate(encoded.tags, 1):
        try:
            check_iob2(pipe.labels.decode(tags), f"train example {n}")
        except DataError as error:
            raise DataError(f"{error}; this tagger's CRF allows only IOB2 paths") from None


# ----- encoding and batches ---------------------------------------------------------------------------------------
def encode(pipe, examples, with_labels: bool = True, where: str = "") -> Encoded:
    tokens = [words(pipe.tokenizer, pipe.config.encode.strip_html, e) for e in examples]
    ids = [pipe.vocab.encode(normalize(pipe.tokenizer, t)) for t in tokens]
    tags = None
    if with_labels:
        tags = []
        for n, example in enumerate(examples):
            line = (example.meta or {}).get("line")
            at = f"{where or 'data'}" + (f":{line}" if line is not None else f" example {n + 1}")
            if example.tags is None or len(example.tags) != len(tokens[n]):
                raise DataError(f"{at}: {len(tokens[n])} tokens but {0 if example.tags is None else len(example.tags)} "
                                "tags; give one tag per token")
            tags.append(pipe.labels.encode(example.tags, where=at))
    aux = None
    config = pipe.model_config
    if with_labels and config.aux_weight > 0 and config.aux_labels:
        indexes = [{v: i for i, v in enumerate(known)} for known in config.aux_labels]
        aux = [aux_ids(e, indexes, len(t)) for e, t in zip(examples, tokens, strict=True)]
    return Encoded(tokens, ids, tags, aux)


def aux_ids(example, indexes: list[dict[str, int]], length: int) -> np.ndarray:
    """(length, K) ids of an example's middle columns (``meta["columns"]``), each column's values looked up in its
    index; -1 for a value not there, and for every word of an example without those columns (another file's)."""
    out = np.full((length, len(indexes)), -1, dtype=np.int64)
    columns = (example.meta or {}).get("columns") or []
    if len(columns) == len(indexes):
        for k, (column, index) in enumerate(zip(columns, indexes, strict=True)):
            out[: len(column), k] = [index.get(v, -1) for v in column[:length]]
    return out


def make_batch(pipe, encoded: Encoded, index: list[int]) -> Batch:
    """One batch of sentences ``index`` with the features the model reads (characters, casing, auxiliary targets)."""
    words_of = [encoded.tokens[i] for i in index]
    ids, lengths = pad([encoded.ids[i] for i in index])
    targets = pad([encoded.tags[i] for i in index])[0] if encoded.tags is not None else None
    batch = Batch(ids=ids, lengths=lengths, targets=targets, index=list(index))
    if encoded.aux is not None:
        aux = torch.full((len(index), ids.size(1), encoded.aux[0].shape[1]), -1, dtype=torch.long)
        for row, i in enumerate(index):
            aux[row, :len(encoded.aux[i])] = torch.from_numpy(encoded.aux[i])
        batch.aux = aux
    config = pipe.model_config
    if config.char_dim > 0:
        batch.chars = torch.from_numpy(char_ids(words_of, ids.size(1), pipe.parts["chars"]))
    if config.casing_dim > 0:
        batch.casing = torch.from_numpy(casing_ids(words_of, ids.size(1)))
    return batch


def iter_batches(pipe, encoded: Encoded, batch_size: int, shuffle: bool, seed: int = 0) -> Iterator[Batch]:
    """The batches one at a time, each made when it is needed."""
    for index in bucket_batches([len(i) for i in encoded.ids], batch_size, shuffle, seed):
        yield make_batch(pipe, encoded, index)


# ----- training and evaluation ------------------------------------------------------------------------------------
def loop(pipe, train: Encoded, valid: Encoded | None, config: TrainConfig) -> TaskLoop:
    _check_iob2_held(pipe, train)

    def step(model, batch, carry):
        options = {} if batch.aux is None else {"aux_targets": batch.aux}
        _, loss = model(batch.ids, batch.lengths, batch.targets, chars=batch.chars, casing=batch.casing, **options)
        return loss, None

    return TaskLoop(
        batches=lambda epoch: list(iter_batches(pipe, train, config.batch_size, True, config.seed * 1000 + epoch)),
        step=step, evaluate=None if valid is None else lambda model: evaluate(pipe, valid, model=model))


@torch.inference_mode()
def decode(pipe, encoded: Encoded, batch_size: int = 128, model=None) -> tuple[list[list[int]], float]:
    """Predicted tag ids per example (in order) and the mean loss when gold tags are known."""
    model = model or pipe.model
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    out: list[list[int]] = [[] for _ in range(len(encoded))]
    loss_sum, count = 0.0, 0
    for batch in iter_batches(pipe, encoded, batch_size, shuffle=False):
        batch = batch.to(device)
        paths = model.decode(batch.ids, batch.lengths, chars=batch.chars, casing=batch.casing)
        for i, path in zip(batch.index, paths, strict=True):
            out[i] = list(path)
        if batch.targets is not None:
            _, loss = model(batch.ids, batch.lengths, batch.targets, chars=batch.chars, casing=batch.casing)
            loss_sum += float(loss) * batch.size
            count += batch.size
    model.train(was_training)
    return out, (loss_sum / count if count else float("nan"))


def evaluate(pipe, encoded: Encoded, model=None) -> dict:
    from textrnn.metrics import entity_report

    predicted, loss = decode(pipe, encoded, model=model)
    gold = [pipe.labels.decode(t) for t in encoded.tags]
    guess = [pipe.labels.decode(t) for t in predicted]
    total = sum(len(t) for t in gold)
    correct = sum(a == b for g, p in zip(gold, guess, strict=True) for a, b in zip(g, p, strict=True))
    metrics = {"task": "tag", "n": len(encoded), "loss": loss, "token_accuracy": correct / max(1, total)}
    if is_iob(pipe.labels.itos):
        metrics.update(entity_report(gold, guess))
    else:
        metrics["accuracy"] = metrics["token_accuracy"]
    return metrics


# ----- inference --------------------------------------------------------------------------------------------------
def tag(pipe, texts, batch_size: int = 64) -> list[dict]:
    """Tokens, tags and entity spans for plain texts: ``[{"tokens", "tags", "entities": [{"text", "type", "start",
    "end"}]}]`` with character offsets into each text as given. A long text is tagged whole, in windows of at most
    textual.TAG_WINDOW words. Raises DataError for an empty text, ConfigError for ``batch_size`` below 1."""
    from textrnn.corpus import Example

    if batch_size < 1:
        raise ConfigError(f"tag needs batch_size >= 1, got {batch_size}")
    texts = nonempty(texts)
    spans = [written_spans(pipe.tokenizer, text) for text in texts]
    pieces = [(n, a, b) for n, s in enumerate(spans) for a, b in windows([w for w, _, _ in s])]
    encoded = encode(pipe, [Example(tokens=[w for w, _, _ in spans[n][a:b]]) for n, a, b in pieces], with_labels=False)
    paths, _ = decode(pipe, encoded, batch_size=batch_size)
    tags: list[list[str]] = [[] for _ in texts]
    for (n, _, _), path in zip(pieces, paths, strict=True):
        tags[n] += pipe.labels.decode(path)
    return [{"tokens": [w for w, _, _ in s], "tags": t, "entities": entities(text, s, t)}
            for text, s, t in zip(texts, spans, tags, strict=True)]


def graph(pipe) -> GraphSpec:
    """``ids``, ``lengths`` [, ``chars`` (batch, steps, width)] [, ``casing``] -> ``scores`` (batch, steps, tags):
    tag probabilities, or with a CRF the emissions and, beside the graph, the mean CRF scores Viterbi decodes with."""
    module = TaggerGraph(pipe.model)
    first = module.members[0]
    names = ["ids", "lengths"] + (["chars"] if first.chars is not None else []) + \
            (["casing"] if first.casing is not None else [])

    def inputs(rng, batch, steps, width):
        ids, lengths = random_ids(rng, batch, steps, len(pipe.vocab))
        real = ids != 0
        made = {"ids": ids, "lengths": lengths}
        if "chars" in names:
            chars = rng.integers(1, max(2, len(pipe.parts["chars"])), size=(batch, steps, width)).astype(np.int64)
            counts = rng.integers(1, width + 1, size=(batch, steps))
            chars[np.arange(width)[None, None, :] >= counts[..., None]] = 0
            chars[~real] = 0
            made["chars"] = chars
        if "casing" in names:
            made["casing"] = np.where(real, rng.integers(1, NUM_CASINGS, size=(batch, steps)), 0).astype(np.int64)
        return made

    dynamic = {"ids": {0: "batch", 1: "steps"}, "lengths": {0: "batch"},
               "chars": {0: "batch", 1: "steps", 2: "width"}, "casing": {0: "batch", 1: "steps"}}
    return GraphSpec(module, names, ["scores"], {n: dynamic[n] for n in names},
                     {"scores": ["batch", "steps", len(pipe.labels)]}, inputs, crf=_crf_scores(module.members))


def _crf_scores(taggers) -> dict | None:
    """The mean (transitions, start, end) of the taggers' CRFs; None without a CRF."""
    crfs = [tagger.crf for tagger in taggers if tagger.crf is not None]
    if not crfs:
        return None
    with torch.no_grad():
        parts = [torch.stack(p).mean(0).float().tolist() for p in zip(*(c.scores() for c in crfs), strict=True)]
    return dict(zip(("transitions", "start", "end"), parts, strict=True))


TASK = Task(
    name="tag", model_config=TaggerConfig, build=build, make_model=make_model, encode=encode, loop=loop,
    evaluate=evaluate, commands={"tag": tag}, prepare=prepare, graph=graph,
    files=frozenset({"vocab.json", "labels.json", "chars.json", "spm.model"}),
    defaults={"model": {"cell": "lstm", "hidden_dim": 128, "bidirectional": True},
              "train": {"epochs": 15, "batch_size": 32, "lr": 0.002, "early_stopping": 3}},
)

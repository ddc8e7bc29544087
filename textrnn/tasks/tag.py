"""Many-to-many, aligned: one tag per token (named entities, the 'hello' next-character drill)."""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch

from textrnn.encode import Batch, bucket_batches, pad
from textrnn.encode import mask as length_mask
from textrnn.train import TaskLoop, TrainConfig

MAX_WORD_CHARS = 20   # longer words keep their first 20 characters for the character features


@dataclass
class Encoded:
    tokens: list[list[str]]           # the words as written (casing and characters come from these)
    ids: list[list[int]]
    tags: list[list[int]] | None
    groups: list[list[int]] | None = None   # sentences tagged together as one row (a window of one document);
                                            # None: each sentence alone
    context: list | None = None             # per sentence, (words, dim) contextual character features (the
                                            # pipeline's ContextFeatures), or None without them
    aux: list | None = None                 # per sentence, (words, K) value ids of the middle CoNLL columns for
                                            # the auxiliary heads (-1: none), or None without them

    def __len__(self) -> int:
        return len(self.ids)

    def rows(self) -> list[list[int]]:
        return self.groups if self.groups is not None else [[i] for i in range(len(self.ids))]


def example_tokens(pipe, example) -> list[str]:
    return list(example.tokens) if example.tokens is not None else pipe.tokenizer.tokenize(example.text or "")


def document_windows(documents: list, lengths: list[int], width: int) -> list[list[int]]:
    """Consecutive sentences of one document in windows of at most ``width`` tokens (a longer sentence alone).

    ``documents[i]`` names sentence i's document (CoNLL's ``-DOCSTART-`` sections); a sentence with None has no
    document and stays alone. Every sentence is in exactly one window, in order.
    """
    windows: list[list[int]] = []
    current: list[int] = []
    size, document = 0, None
    for i, (doc, n) in enumerate(zip(documents, lengths, strict=True)):
        if current and (doc is None or doc != document or size + n > width):
            windows.append(current)
            current, size = [], 0
        current.append(i)
        size += n
        document = doc
    if current:
        windows.append(current)
    return windows


def encode(pipe, examples, with_labels: bool = True, where: str = "") -> Encoded:
    tokens = [example_tokens(pipe, e) for e in examples]
    ids = [pipe.vocab.encode(pipe.normalize_tokens(t)) for t in tokens]
    tags = None
    if with_labels:
        tags = []
        for n, example in enumerate(examples):
            if example.tags is None or len(example.tags) != len(tokens[n]):
                from textrnn.errors import DataError

                raise DataError(f"{where or 'data'}: example {n + 1} has {len(tokens[n])} tokens but "
                                f"{0 if example.tags is None else len(example.tags)} tags; give one tag per token")
            tags.append(pipe.labels.encode(example.tags, where=f"{where} example {n + 1}" if where else f"example {n + 1}"))
    groups = None
    width = pipe.config.encode.document_window
    if width and any(e.meta.get("doc") is not None for e in examples):
        groups = document_windows([e.meta.get("doc") for e in examples], [len(i) for i in ids], width)
    context = pipe.context.features(tokens) if getattr(pipe, "context", None) is not None else None
    aux = None
    config = pipe.model_config
    if with_labels and getattr(config, "aux_weight", 0) > 0 and config.aux_labels:
        indexes = [{v: i for i, v in enumerate(known)} for known in config.aux_labels]
        aux = [aux_ids(e, indexes, len(t)) for e, t in zip(examples, tokens, strict=True)]
    return Encoded(tokens, ids, tags, groups, context, aux)


def aux_ids(example, indexes: list[dict[str, int]], length: int) -> np.ndarray:
    """(length, K) ids of an example's middle columns (``meta["columns"]``), each column's values looked up in its
    index; -1 for a value not there, and for every word of an example without those columns (another file's)."""
    out = np.full((length, len(indexes)), -1, dtype=np.int64)
    columns = (example.meta or {}).get("columns") or []
    if len(columns) == len(indexes):
        for k, (column, index) in enumerate(zip(columns, indexes, strict=True)):
            out[: len(column), k] = [index.get(v, -1) for v in column[:length]]
    return out


def make_batch(pipe, encoded: Encoded, rows: list[list[int]], index: list[int]) -> Batch:
    """One batch of rows ``index`` (into ``rows``, which is ``encoded.rows()``): each row its sentences end to end."""
    members = [rows[i] for i in index]
    words = [[w for s in row for w in encoded.tokens[s]] for row in members]
    ids, lengths = pad([[t for s in row for t in encoded.ids[s]] for row in members])
    targets = None
    if encoded.tags is not None:
        targets = pad([[t for s in row for t in encoded.tags[s]] for row in members])[0]
    batch = Batch(ids=ids, lengths=lengths, targets=targets, index=list(index))
    if encoded.aux is not None:
        aux = torch.full((len(index), ids.size(1), encoded.aux[0].shape[1]), -1, dtype=torch.long)
        for r, row in enumerate(members):
            if row:
                joined = np.concatenate([encoded.aux[s] for s in row])
                aux[r, :len(joined)] = torch.from_numpy(joined)
        batch.aux = aux
    model_config = pipe.model_config
    if getattr(model_config, "char_dim", 0) > 0:
        width = max(1, min(MAX_WORD_CHARS, max((len(w) for row in words for w in row), default=1)))
        chars = np.zeros((len(index), ids.size(1), width), dtype=np.int64)
        for r, row in enumerate(words):
            for col, word in enumerate(row):
                chars[r, col, : min(width, len(word))] = pipe.char_vocab.encode(list(word[:width]))
        batch.chars = torch.from_numpy(chars)
    if getattr(model_config, "casing_dim", 0) > 0:
        from textrnn.models.tagger import casing_class

        batch.casing = pad([[casing_class(w) for w in row] for row in words])[0]
    if encoded.context is not None:
        context = torch.zeros(len(index), ids.size(1), encoded.context[0].size(-1))
        for r, row in enumerate(members):
            if row:
                joined = torch.cat([encoded.context[s].float() for s in row])
                context[r, :len(joined)] = joined
        batch.context = context
    return batch


def iter_batches(pipe, encoded: Encoded, batch_size: int, shuffle: bool, seed: int = 0) -> Iterator[Batch]:
    """The batches one at a time, each made when it is needed (unlabelled sentences can be many)."""
    rows = encoded.rows()
    lengths = [sum(len(encoded.ids[s]) for s in row) for row in rows]
    for index in bucket_batches(lengths, batch_size, shuffle, seed):
        yield make_batch(pipe, encoded, rows, index)


def batches(pipe, encoded: Encoded, batch_size: int, shuffle: bool, seed: int = 0) -> list[Batch]:
    return list(iter_batches(pipe, encoded, batch_size, shuffle, seed))


def loop(pipe, train: Encoded, valid: Encoded, config: TrainConfig, unlabelled: Encoded | None = None) -> TaskLoop:
    """``unlabelled``: encoded sentences without tags, for virtual adversarial training (``train.virtual_adversarial``)."""
    def step(model, batch, carry):
        options = {} if batch.aux is None else {"aux_targets": batch.aux}
        _, loss = model(batch.ids, batch.lengths, batch.targets, chars=batch.chars, casing=batch.casing,
                        context=batch.context, **options)
        return loss, None

    def logits(model, batch):
        """Each real token's scores (tokens, tags): virtual adversarial training compares them token by token."""
        scores, _ = model(batch.ids, batch.lengths, chars=batch.chars, casing=batch.casing, context=batch.context)
        return scores[length_mask(batch.lengths.to(scores.device), scores.size(1))]

    return TaskLoop(
        batches=lambda epoch: batches(pipe, train, config.batch_size, True, config.seed * 1000 + epoch),
        step=step,
        evaluate=lambda model: evaluate(pipe, valid, model=model),
        unlabelled=(lambda epoch: iter_batches(pipe, unlabelled, config.unlabelled_batch_size, True,
                                               config.seed * 1000 + epoch + 500))
        if unlabelled is not None and len(unlabelled) else None,
        logits=logits,
    )


@torch.inference_mode()
def decode(pipe, encoded: Encoded, batch_size: int = 128, model=None) -> tuple[list[list[int]], float]:
    """Predicted tag ids per example (in order) and the mean loss when gold tags are known."""
    model = model or pipe.model
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    out: list[list[int]] = [[] for _ in range(len(encoded))]
    loss_sum, count = 0.0, 0
    rows = encoded.rows()
    for batch in batches(pipe, encoded, batch_size, shuffle=False):
        batch = batch.to(device)
        paths = model.decode(batch.ids, batch.lengths, chars=batch.chars, casing=batch.casing, context=batch.context)
        for i, path in zip(batch.index, paths, strict=True):
            at = 0
            for s in rows[i]:      # a row's path split back into its sentences
                out[s] = list(path[at:at + len(encoded.ids[s])])
                at += len(encoded.ids[s])
        if batch.targets is not None:
            _, loss = model(batch.ids, batch.lengths, batch.targets, chars=batch.chars, casing=batch.casing,
                            context=batch.context)
            loss_sum += float(loss) * batch.size
            count += batch.size
    model.train(was_training)
    return out, (loss_sum / count if count else float("nan"))


def is_iob(tag_names: list[str]) -> bool:
    return all(t == "O" or (t[:2] in ("B-", "I-") and len(t) > 2) for t in tag_names)


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

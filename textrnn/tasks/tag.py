"""Many-to-many, aligned: one tag per token (named entities, the 'hello' next-character drill)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from textrnn.encode import Batch, bucket_batches, pad
from textrnn.train import TaskLoop, TrainConfig

MAX_WORD_CHARS = 20   # longer words keep their first 20 characters for the character features


@dataclass
class Encoded:
    tokens: list[list[str]]           # the words as written (casing and characters come from these)
    ids: list[list[int]]
    tags: list[list[int]] | None

    def __len__(self) -> int:
        return len(self.ids)


def example_tokens(pipe, example) -> list[str]:
    return list(example.tokens) if example.tokens is not None else pipe.tokenizer.tokenize(example.text or "")


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
    return Encoded(tokens, ids, tags)


def make_batch(pipe, encoded: Encoded, index: list[int]) -> Batch:
    ids, lengths = pad([encoded.ids[i] for i in index])
    targets = pad([encoded.tags[i] for i in index])[0] if encoded.tags is not None else None
    batch = Batch(ids=ids, lengths=lengths, targets=targets, index=list(index))
    model_config = pipe.model_config
    if getattr(model_config, "char_dim", 0) > 0:
        width = max(1, min(MAX_WORD_CHARS, max((len(w) for i in index for w in encoded.tokens[i]), default=1)))
        chars = np.zeros((len(index), ids.size(1), width), dtype=np.int64)
        for row, i in enumerate(index):
            for col, word in enumerate(encoded.tokens[i]):
                chars[row, col, : min(width, len(word))] = pipe.char_vocab.encode(list(word[:width]))
        batch.chars = torch.from_numpy(chars)
    if getattr(model_config, "casing_dim", 0) > 0:
        from textrnn.models.tagger import casing_class

        batch.casing = pad([[casing_class(w) for w in encoded.tokens[i]] for i in index])[0]
    return batch


def batches(pipe, encoded: Encoded, batch_size: int, shuffle: bool, seed: int = 0) -> list[Batch]:
    lengths = [len(s) for s in encoded.ids]
    return [make_batch(pipe, encoded, index) for index in bucket_batches(lengths, batch_size, shuffle, seed)]


def loop(pipe, train: Encoded, valid: Encoded, config: TrainConfig) -> TaskLoop:
    def step(model, batch, carry):
        _, loss = model(batch.ids, batch.lengths, batch.targets, chars=batch.chars, casing=batch.casing)
        return loss, None

    return TaskLoop(
        batches=lambda epoch: batches(pipe, train, config.batch_size, True, config.seed * 1000 + epoch),
        step=step,
        evaluate=lambda model: evaluate(pipe, valid, model=model),
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
    for batch in batches(pipe, encoded, batch_size, shuffle=False):
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

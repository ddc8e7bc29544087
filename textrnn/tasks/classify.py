"""Many-to-one: a text -> one label (Reuters topics, IMDB sentiment, anyone's labelled texts)."""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch

from textrnn.encode import Batch, bucket_batches, pad
from textrnn.train import TaskLoop, TrainConfig


@dataclass
class Encoded:
    ids: list[list[int]]
    labels: np.ndarray | None     # None at prediction time
    aux: np.ndarray | None = None  # the finer label's index per text (-1: none), for the auxiliary head

    def __len__(self) -> int:
        return len(self.ids)


def encode(pipe, examples, with_labels: bool = True, where: str = "") -> Encoded:
    from textrnn.encode import truncate

    settings = pipe.config.encode
    ids = [truncate(pipe.text_ids(example.text), settings.max_len, settings.truncate) for example in examples]
    labels = aux = None
    if with_labels:
        labels = np.asarray(pipe.labels.encode([e.label for e in examples], where=where), dtype=np.int64)
        config = pipe.model_config
        if getattr(config, "aux_weight", 0) > 0 and config.aux_field and config.aux_labels:
            index = {value: i for i, value in enumerate(config.aux_labels)}
            aux = np.asarray([index.get(aux_value(e, config.aux_field), -1) for e in examples], dtype=np.int64)
    return Encoded(ids, labels, aux)


def aux_value(example, field: str) -> str | None:
    """An example's finer label (``example.meta[field]``) as a string, or None when it has none."""
    value = (example.meta or {}).get(field)
    return None if value is None or value == "" else str(value)


def make_batch(encoded: Encoded, index: list[int]) -> Batch:
    ids, lengths = pad([encoded.ids[i] for i in index])
    targets = torch.from_numpy(encoded.labels[index]) if encoded.labels is not None else None
    aux = torch.from_numpy(encoded.aux[index]) if encoded.aux is not None else None
    return Batch(ids=ids, lengths=lengths, targets=targets, aux=aux, index=list(index))


def iter_batches(encoded: Encoded, batch_size: int, shuffle: bool, seed: int = 0) -> Iterator[Batch]:
    """The batches one at a time, each made when it is needed (unlabelled texts can be many)."""
    lengths = [len(s) for s in encoded.ids]
    for index in bucket_batches(lengths, batch_size, shuffle, seed):
        yield make_batch(encoded, index)


def batches(encoded: Encoded, batch_size: int, shuffle: bool, seed: int = 0) -> list[Batch]:
    return list(iter_batches(encoded, batch_size, shuffle, seed))


def loop(pipe, train: Encoded, valid: Encoded, config: TrainConfig, unlabelled: Encoded | None = None) -> TaskLoop:
    """``unlabelled``: encoded texts without labels, for virtual adversarial training (``train.virtual_adversarial``)."""
    def step(model, batch, carry):
        options = {} if batch.aux is None else {"aux_targets": batch.aux}
        _, loss = model(batch.ids, batch.lengths, batch.targets, **options)
        return loss, None

    return TaskLoop(
        batches=lambda epoch: batches(train, config.batch_size, True, config.seed * 1000 + epoch),
        step=step,
        evaluate=lambda model: evaluate(pipe, valid, model=model),
        unlabelled=(lambda epoch: iter_batches(unlabelled, config.unlabelled_batch_size, True,
                                               config.seed * 1000 + epoch + 500))
        if unlabelled is not None and len(unlabelled) else None,
        logits=lambda model, batch: model(batch.ids, batch.lengths)[0],
    )


@torch.inference_mode()
def probabilities(pipe, encoded: Encoded, batch_size: int = 256, model=None) -> np.ndarray:
    """(N, C) class probabilities in the examples' order."""
    model = model or pipe.model
    was_training = model.training
    model.eval()
    out = np.zeros((len(encoded), len(pipe.labels)), dtype=np.float32)
    device = next(model.parameters()).device
    for batch in batches(encoded, batch_size, shuffle=False):
        batch = batch.to(device)
        logits, _ = model(batch.ids, batch.lengths)
        out[batch.index] = torch.softmax(logits.float(), dim=-1).cpu().numpy()
    model.train(was_training)
    return out


def evaluate(pipe, encoded: Encoded, model=None) -> dict:
    from textrnn.metrics import classification_report

    probs = probabilities(pipe, encoded, model=model)
    predicted = probs.argmax(axis=1)
    picked = probs[np.arange(len(predicted)), encoded.labels]
    loss = float(-np.log(np.clip(picked, 1e-12, None)).mean()) if len(picked) else float("nan")
    report = classification_report(encoded.labels, predicted, pipe.labels.itos)
    return {"task": "classify", "n": len(encoded), "loss": loss, **report}

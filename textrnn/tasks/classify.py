"""Many-to-one: a text -> one label (Reuters topics, IMDB sentiment, anyone's labelled texts)."""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from textrnn.encode import Batch, bucket_batches, pad
from textrnn.errors import ConfigError
from textrnn.models.classifier import ClassifierConfig, build_classifier
from textrnn.models.traceable import ClassifierGraph, GraphSpec, random_ids
from textrnn.tasks.base import Built, Task, build_from_texts, nonempty
from textrnn.textual import truncate
from textrnn.train import TaskLoop, TrainConfig
from textrnn.vocab import LabelVocab

PREDICT_MAX_TOKENS = 5000   # without encode.max_len, a text at prediction time keeps its first 5,000 tokens


@dataclass
class Encoded:
    ids: list[list[int]]
    labels: np.ndarray | None     # None at prediction time

    def __len__(self) -> int:
        return len(self.ids)


def build(config, examples, corpus, extra_texts: list[str], quiet: bool) -> Built:
    tokenizer, vocab, token_lists, extra_lists = build_from_texts(config, examples, extra_texts)
    declared = getattr(corpus, "labels", None) if corpus is not None else None
    labels = LabelVocab.build((e.label for e in examples), order=declared)
    return Built({"tokenizer": tokenizer, "vocab": vocab, "labels": labels}, token_lists, extra_lists)


def make_model(config: ClassifierConfig, parts: dict) -> torch.nn.Module:
    return build_classifier(config, len(parts["vocab"]), len(parts["labels"]))


def encode(pipe, examples, with_labels: bool = True, where: str = "") -> Encoded:
    settings = pipe.config.encode
    ids = [truncate(pipe.text_ids(example.text), settings.max_len, settings.truncate) for example in examples]
    labels = None
    if with_labels:
        labels = np.asarray(pipe.labels.encode([e.label for e in examples], where=where), dtype=np.int64)
    return Encoded(ids, labels)


def make_batch(encoded: Encoded, index: list[int]) -> Batch:
    ids, lengths = pad([encoded.ids[i] for i in index])
    targets = torch.from_numpy(encoded.labels[index]) if encoded.labels is not None else None
    return Batch(ids=ids, lengths=lengths, targets=targets, index=list(index))


def iter_batches(encoded: Encoded, batch_size: int, shuffle: bool, seed: int = 0) -> Iterator[Batch]:
    """The batches one at a time, each made when it is needed."""
    lengths = [len(s) for s in encoded.ids]
    for index in bucket_batches(lengths, batch_size, shuffle, seed):
        yield make_batch(encoded, index)


def loop(pipe, train: Encoded, valid: Encoded | None, config: TrainConfig) -> TaskLoop:
    def step(model, batch, carry):
        _, loss = model(batch.ids, batch.lengths, batch.targets)
        return loss, None

    return TaskLoop(batches=lambda epoch: list(iter_batches(train, config.batch_size, True, config.seed * 1000 + epoch)),
                    step=step, evaluate=None if valid is None else lambda model: evaluate(pipe, valid, model=model))


@torch.inference_mode()
def probabilities(pipe, encoded: Encoded, batch_size: int = 256, model=None) -> np.ndarray:
    """(N, C) class probabilities in the examples' order."""
    model = model or pipe.model
    was_training = model.training
    model.eval()
    out = np.zeros((len(encoded), len(pipe.labels)), dtype=np.float32)
    device = next(model.parameters()).device
    for batch in iter_batches(encoded, batch_size, shuffle=False):
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


def predict(pipe, texts, top: int = 1, batch_size: int = 256) -> list[dict]:
    """Labels with probabilities: ``[{"text", "label", "probability", "top": [{"label", "probability"}]}]``, the
    ``top`` likeliest labels of each text. A text is cut as in training (``encode.max_len``, else its first
    PREDICT_MAX_TOKENS tokens). Raises ConfigError for ``top`` or ``batch_size`` below 1, DataError for an empty
    text."""
    from textrnn.corpus import Example

    if top < 1 or batch_size < 1:
        raise ConfigError(f"predict needs top >= 1 and batch_size >= 1, got top={top}, batch_size={batch_size}")
    texts = nonempty(texts)
    encoded = encode(pipe, [Example(text=t) for t in texts], with_labels=False)
    encoded.ids = [ids[:PREDICT_MAX_TOKENS] for ids in encoded.ids]
    probs = probabilities(pipe, encoded, batch_size=batch_size)
    results = []
    for text, row in zip(texts, probs, strict=True):
        order = row.argsort()[::-1][:top]
        ranked = [{"label": pipe.labels.itos[i], "probability": float(row[i])} for i in order]
        results.append({"text": text, "label": ranked[0]["label"], "probability": ranked[0]["probability"],
                        "top": ranked})
    return results


def report(pipe, corpus, valid: Encoded, out_dir: Path, samples: list[str], quiet: bool) -> dict:
    """A recipe run's confusion matrix on the validation split, drawn as confusion.png."""
    from textrnn.metrics import confusion_matrix
    from textrnn.plots import plot_confusion

    predicted = probabilities(pipe, valid).argmax(axis=1)
    plot_confusion(confusion_matrix(valid.labels, predicted, len(pipe.labels)), pipe.labels.itos,
                   out_dir / "confusion.png")
    return {}


def graph(pipe) -> GraphSpec:
    """``ids`` (batch, steps) and ``lengths`` (batch,) -> ``probabilities`` (batch, labels)."""
    def inputs(rng, batch, steps, width):
        ids, lengths = random_ids(rng, batch, steps, len(pipe.vocab))
        return {"ids": ids, "lengths": lengths}

    return GraphSpec(ClassifierGraph(pipe.model), ["ids", "lengths"], ["probabilities"],
                     {"ids": {0: "batch", 1: "steps"}, "lengths": {0: "batch"}},
                     {"probabilities": ["batch", len(pipe.labels)]}, inputs,
                     settings={"predict_max_tokens": PREDICT_MAX_TOKENS})


TASK = Task(
    name="classify", model_config=ClassifierConfig, build=build, make_model=make_model, encode=encode, loop=loop,
    evaluate=evaluate, commands={"predict": predict}, files=frozenset({"vocab.json", "labels.json", "spm.model"}),
    report=report, graph=graph,
    defaults={"model": {"cell": "lstm", "hidden_dim": 128, "bidirectional": True, "pooling": "max"},
              "vocab": {"min_freq": 2, "max_size": 30000}, "encode": {"max_len": 400},
              "train": {"epochs": 10, "batch_size": 32, "lr": 0.002, "early_stopping": 3, "monitor": "accuracy"}},
)

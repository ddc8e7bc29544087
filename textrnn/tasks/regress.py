"""Sequence to number(s): numeric inputs (B, T, F) -> one or more values (the multiplication problem, the sine
window, energy forecasting). Data are arrays rather than text, so the drills build them directly."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from textrnn.encode import Batch
from textrnn.train import TaskLoop, TrainConfig


@dataclass
class Encoded:
    inputs: np.ndarray        # (N, T, F) float32
    targets: np.ndarray       # (N, K) or (N, T, K) float32

    def __len__(self) -> int:
        return len(self.inputs)


def encode(pipe, examples, with_labels: bool = True, where: str = ""):
    from textrnn.errors import ConfigError

    raise ConfigError("regress pipelines take numeric arrays; use textrnn.tasks.regress.Encoded(inputs, targets)")


def batches(data: Encoded, batch_size: int, shuffle: bool, seed: int = 0) -> list[Batch]:
    order = np.random.default_rng(seed).permutation(len(data)) if shuffle else np.arange(len(data))
    inputs, targets = torch.from_numpy(data.inputs), torch.from_numpy(data.targets)
    out = []
    for start in range(0, len(order), batch_size):
        index = torch.from_numpy(order[start:start + batch_size])
        out.append(Batch(inputs=inputs[index], targets=targets[index], index=index.tolist()))
    return out


@torch.inference_mode()
def predict(model, inputs: np.ndarray, batch_size: int = 1024) -> np.ndarray:
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    parts = []
    for start in range(0, len(inputs), batch_size):
        x = torch.from_numpy(inputs[start:start + batch_size]).to(device)
        predictions, _ = model(x)
        parts.append(predictions.float().cpu().numpy())
    model.train(was_training)
    return np.concatenate(parts) if parts else np.zeros((0,), dtype=np.float32)


def report(truth: np.ndarray, predicted: np.ndarray, tolerance: float | None = None) -> dict:
    """MSE, MAE, MAPE (percent) and, with a tolerance, the share of items within it (``accuracy``)."""
    from textrnn.metrics import regression_report

    metrics = {"task": "regress", "n": int(len(truth)), **regression_report(truth.reshape(-1), predicted.reshape(-1))}
    if tolerance is not None:
        metrics["accuracy"] = float(np.mean(np.abs(predicted.reshape(-1) - truth.reshape(-1)) <= tolerance))
    return metrics


def loop(model, train: Encoded, valid: Encoded, config: TrainConfig,
         metrics: Callable[[np.ndarray, np.ndarray], dict] | None = None) -> TaskLoop:
    """A TaskLoop over arrays; ``metrics(truth, predicted)`` adds figures beside the validation loss."""

    def step(model, batch, carry):
        _, loss = model(batch.inputs, None, batch.targets)
        return loss, None

    def evaluate(model) -> dict:
        predicted = predict(model, valid.inputs)
        loss = float(np.mean((predicted - valid.targets) ** 2))
        extra = metrics(valid.targets, predicted) if metrics is not None else {}
        return {"loss": loss, **extra}

    return TaskLoop(batches=lambda epoch: batches(train, config.batch_size, True, config.seed * 1000 + epoch),
                    step=step, evaluate=evaluate)

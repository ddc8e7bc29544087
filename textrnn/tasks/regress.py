"""Sequence to number(s): numeric inputs (B, T, F) -> one or more values (the multiplication problem, the sine
window, energy forecasting). Data are arrays rather than text: a regress pipeline trains on ``Encoded`` arrays."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from textrnn.encode import Batch
from textrnn.errors import ConfigError
from textrnn.models.regressor import Regressor, RegressorConfig
from textrnn.models.traceable import GraphSpec, RegressorGraph
from textrnn.tasks.base import Built, Task
from textrnn.train import TaskLoop, TrainConfig


@dataclass
class RegressSettings:
    tolerance: float = 0.0           # >0: evaluation also reports ``accuracy``, the share within this of the truth


@dataclass
class Encoded:
    inputs: np.ndarray        # (N, T, F) float32
    targets: np.ndarray       # (N, K) or (N, T, K) float32

    def __len__(self) -> int:
        return len(self.inputs)


def build(config, data, corpus, extra_texts: list[str], quiet: bool) -> Built:
    encode(None, data)
    return Built({})


def make_model(config: RegressorConfig, parts: dict) -> torch.nn.Module:
    return Regressor(config)


def encode(pipe, data, with_labels: bool = True, where: str = "") -> Encoded:
    """Regress data come encoded: numeric arrays, ``Encoded(inputs, targets)``."""
    if not isinstance(data, Encoded):
        raise ConfigError(f"{where or 'regress data'}: a regress pipeline takes numeric arrays, "
                          f"textrnn.tasks.regress.Encoded(inputs, targets), not {type(data).__name__}")
    return data


def batches(data: Encoded, batch_size: int, shuffle: bool, seed: int = 0) -> list[Batch]:
    order = np.random.default_rng(seed).permutation(len(data)) if shuffle else np.arange(len(data))
    inputs, targets = torch.from_numpy(data.inputs), torch.from_numpy(data.targets)
    out = []
    for start in range(0, len(order), batch_size):
        index = torch.from_numpy(order[start:start + batch_size])
        out.append(Batch(inputs=inputs[index], targets=targets[index], index=index.tolist()))
    return out


@torch.inference_mode()
def predict_values(model, inputs: np.ndarray, batch_size: int = 1024) -> np.ndarray:
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    parts = []
    for start in range(0, len(inputs), batch_size):
        x = torch.from_numpy(np.ascontiguousarray(inputs[start:start + batch_size], dtype=np.float32)).to(device)
        predictions, _ = model(x)
        parts.append(predictions.float().cpu().numpy())
    model.train(was_training)
    return np.concatenate(parts) if parts else np.zeros((0,), dtype=np.float32)


def report(truth: np.ndarray, predicted: np.ndarray, tolerance: float = 0.0) -> dict:
    """MSE, MAE, MAPE (percent) and, with a tolerance, the share of items within it (``accuracy``)."""
    from textrnn.metrics import regression_report

    metrics = {"task": "regress", "n": int(len(truth)), **regression_report(truth.reshape(-1), predicted.reshape(-1))}
    if tolerance > 0:
        metrics["accuracy"] = float(np.mean(np.abs(predicted.reshape(-1) - truth.reshape(-1)) <= tolerance))
    return metrics


def evaluate(pipe, encoded: Encoded, model=None) -> dict:
    predicted = predict_values(model or pipe.model, encoded.inputs)
    metrics = report(encoded.targets, predicted, pipe.settings.tolerance)
    metrics["loss"] = float(np.mean((predicted.reshape(encoded.targets.shape) - encoded.targets) ** 2))
    return metrics


def loop(pipe, train: Encoded, valid: Encoded | None, config: TrainConfig) -> TaskLoop:
    def step(model, batch, carry):
        _, loss = model(batch.inputs, None, batch.targets)
        return loss, None

    return TaskLoop(batches=lambda epoch: batches(train, config.batch_size, True, config.seed * 1000 + epoch),
                    step=step, evaluate=None if valid is None else lambda model: evaluate(pipe, valid, model=model))


def predict(pipe, inputs: np.ndarray, batch_size: int = 1024) -> np.ndarray:
    """The model's predictions for numeric inputs (N, T, F)."""
    return predict_values(pipe.model, inputs, batch_size)


# ----- hourly series (the energy drill's forecasters) ---------------------------------------------------------------
SEASON = 24


def features(hours: np.ndarray, scaled: np.ndarray, calendar: bool) -> np.ndarray:
    """(N, F) per-hour inputs: the scaled load and, with ``calendar``, hour-of-day and day-of-week on circles."""
    columns = [scaled]
    if calendar:
        hour = (hours.astype("datetime64[h]").astype(np.int64) % 24).astype(np.float32)
        day = ((hours.astype("datetime64[D]").astype(np.int64) + 3) % 7).astype(np.float32)  # 1970-01-01 was a Thursday
        columns += [np.sin(2 * np.pi * hour / 24), np.cos(2 * np.pi * hour / 24),
                    np.sin(2 * np.pi * day / 7), np.cos(2 * np.pi * day / 7)]
    return np.stack(columns, axis=1).astype(np.float32)


def make_windows(inputs: np.ndarray, scaled: np.ndarray, targets_at: np.ndarray, window: int, horizon: int) -> Encoded:
    """Windows ending at each index in ``targets_at`` (exclusive) -> the next ``horizon`` changes from the last value."""
    index = targets_at[:, None] + np.arange(-window, 0)[None, :]
    x = inputs[index]
    last = scaled[targets_at - 1]
    y = np.stack([scaled[targets_at + k] - last for k in range(horizon)], axis=1)
    return Encoded(x.astype(np.float32), y.astype(np.float32))


def mape(truth: np.ndarray, predicted: np.ndarray) -> float:
    return float(np.mean(np.abs(predicted - truth) / np.abs(truth)) * 100)


def evaluate_file(pipe, path) -> dict:
    """Next-hour MAPE of a saved series forecaster (the energy drill's) over every window of a CSV with the same
    columns, beside persistence on the same hours. ConfigError for a run whose data were generated."""
    from textrnn.corpus import read_series

    meta = pipe.config.meta
    if "window" not in meta:
        raise ConfigError(f"'evaluate --data' works for series forecasters (the energy drill's); this run's data "
                          f"are generated by its recipe ({meta.get('recipe', 'regress')}): rerun the recipe instead")
    result = read_series(path, meta["time_column"], meta["value_column"])
    hours, values = result[0], result[1]
    window = int(meta["window"])
    scaled = ((values - meta["mean"]) / meta["std"]).astype(np.float32)
    inputs = features(hours, scaled, bool(meta["calendar"]))
    at = np.arange(max(window, SEASON), len(values) - int(meta["horizon"]) + 1)
    if len(at) == 0:
        raise ConfigError(f"{path}: too few hours for windows of {window}")
    windows = make_windows(inputs, scaled, at, window, int(meta["horizon"]))
    forecast = values[at - 1] + predict_values(pipe.model, windows.inputs)[:, 0] * meta["std"]
    truth = values[at]
    return {"task": "regress", "n": int(len(at)), "mse": float(np.mean((forecast - truth) ** 2)),
            "mae": float(np.mean(np.abs(forecast - truth))), "mape": mape(truth, forecast),
            "persistence_mape": mape(truth, values[at - 1])}


def graph(pipe) -> GraphSpec:
    """``inputs`` (batch, steps, features) float -> ``predictions``, shaped by the regressor's mode."""
    config = pipe.model.config

    def inputs(rng, batch, steps, width):
        return {"inputs": rng.normal(size=(batch, steps, config.input_dim)).astype(np.float32)}

    shape = {"many_to_one": ["batch", config.output_dim], "many_to_many": ["batch", "steps", config.output_dim],
             "repeat": ["batch", config.horizon, config.output_dim]}[config.mode]
    return GraphSpec(RegressorGraph(pipe.model), ["inputs"], ["predictions"], {"inputs": {0: "batch", 1: "steps"}},
                     {"predictions": shape}, inputs)


TASK = Task(name="regress", model_config=RegressorConfig, build=build, make_model=make_model, encode=encode,
            loop=loop, evaluate=evaluate, settings=RegressSettings, commands={"predict": predict},
            evaluate_file=evaluate_file, graph=graph)

"""The course's window example: a noisy sine, windows of the past values -> the next value.

Three shapes from the course are compared with the naive forecast (the last value of the window):
many-to-one (the last state -> Dense), many-to-many (``return_sequences``: a prediction at every step, the last
one is the forecast) and one-to-many (a RepeatVector decoder that forecasts the next ``horizon`` values at once).
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

from textrnn.drills import table, train_regressor
from textrnn.recipes import Recipe, base_metrics
from textrnn.tasks.regress import Encoded, report


def noisy_sine(points: int, step: float, noise: float, seed: int) -> np.ndarray:
    """sin(step * t) + noise * N(0, 1), as the course draws it (numpy seed 0 gives its first values)."""
    np.random.seed(seed)
    t = np.arange(points) * step
    return (np.sin(t) + noise * np.random.randn(points)).astype(np.float32)


def windows(series: np.ndarray, width: int, horizon: int) -> tuple[np.ndarray, np.ndarray]:
    """(N, width, 1) windows and (N, horizon) next values."""
    count = len(series) - width - horizon + 1
    x = np.stack([series[i:i + width] for i in range(count)])[:, :, None]
    y = np.stack([series[i + width:i + width + horizon] for i in range(count)])
    return x.astype(np.float32), y.astype(np.float32)


def shaped(x: np.ndarray, y: np.ndarray, mode: str) -> Encoded:
    if mode == "many_to_many":
        # the target at step t is the value after step t: the window shifted by one, ending with the next value
        shifted = np.concatenate([x[:, 1:, 0], y[:, :1]], axis=1)[:, :, None]
        return Encoded(x, shifted)
    if mode == "repeat":
        return Encoded(x, y[:, :, None])
    return Encoded(x, y[:, :1])


def forecast(mode: str, predicted: np.ndarray) -> np.ndarray:
    """The next-value forecast from each shape's output."""
    if mode == "many_to_many":
        return predicted[:, -1, 0]
    if mode == "repeat":
        return predicted[:, 0, 0]
    return predicted[:, 0]


def run(recipe: Recipe, out_dir: Path, data_dir: str | None = None, resume: bool = False, quiet: bool = False) -> dict:
    from textrnn.plots import plot_series

    d = recipe.drill
    width, horizon = int(d.get("window", 5)), int(d.get("horizon", 3))
    series = noisy_sine(int(d.get("points", 1000)), float(d.get("step", 0.2)), float(d.get("noise", 0.1)),
                        int(d.get("seed", 0)))
    x, y = windows(series, width, horizon)
    cut_train, cut_valid = int(len(x) * 0.7), int(len(x) * 0.85)
    began = time.perf_counter()
    models, forecasts, best = {}, {}, None
    truth = y[cut_valid:, 0]
    naive = x[cut_valid:, -1, 0]
    for mode in d.get("modes", ["many_to_one", "many_to_many", "repeat"]):
        settings = {**recipe.model, "mode": mode, "input_dim": 1, "output_dim": 1,
                    "horizon": horizon if mode == "repeat" else 1}
        train = shaped(x[:cut_train], y[:cut_train], mode)
        valid = shaped(x[cut_train:cut_valid], y[cut_train:cut_valid], mode)
        pipe, history = train_regressor(settings, train, valid, recipe.train, out_dir / "models" / mode, quiet=True,
                                        resume=resume, meta={"recipe": recipe.name, "drill": "sine", "model": mode})
        predicted = forecast(mode, pipe.predict(x[cut_valid:]))
        metrics = report(truth, predicted)
        metrics["epochs"] = len(history.epochs)
        metrics["seconds_per_epoch"] = sum(e["seconds"] for e in history.epochs) / max(1, len(history.epochs))
        models[mode] = metrics
        forecasts[mode] = predicted
        if best is None or metrics["mse"] < best[0]:
            best = (metrics["mse"], mode, pipe)
    baseline = report(truth, naive)
    rows = [{"model": "last value", **baseline}] + [{"model": m, **v} for m, v in models.items()]
    text = table(rows, [("model", "model", ""), ("mse", "test MSE", ".5f"), ("mae", "test MAE", ".4f")])
    if not quiet:
        print(f"\nnoisy sine, windows of {width} -> the next value (test = last 15%):\n{text}", file=sys.stderr)
    out_dir.mkdir(parents=True, exist_ok=True)
    shown = slice(0, min(200, len(truth)))
    plot_series(truth[shown], {"last value": naive[shown], **{m: f[shown] for m, f in forecasts.items()}},
                out_dir / "forecast.png", "Noisy sine: next-value forecasts on the test part")
    _, best_mode, best_pipe = best
    metrics = base_metrics(recipe, None, str(best_pipe.device))
    metrics.update({"models": models, "baseline_last_value": baseline, "table": text,
                    "seconds": round(time.perf_counter() - began, 1),
                    "seconds_per_epoch": sum(m["seconds_per_epoch"] for m in models.values()) / len(models),
                    "valid": {**models[best_mode], "model": best_mode, "baseline_mse": baseline["mse"]},
                    "epochs": int(recipe.train.get("epochs", 10))})
    best_pipe.save(out_dir, metrics)
    return metrics

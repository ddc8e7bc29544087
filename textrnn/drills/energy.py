"""Hourly electricity load forecast with a GRU (AEP, or any CSV with a time and a value column).

Steps: sort by time, average duplicated hours and interpolate missing ones (``corpus.read_series``); split
chronologically (last 10% test, the 10% before it validation); scale with the training part's statistics; windows
of the past hours plus calendar features (hour of day, day of week) -> the change to the next hour (and
optionally the next 24). Reported against persistence (the last value) and seasonal naive (the same hour
yesterday) on the same test hours, with a plot of a test week.
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

from textrnn.drills import table, train_regressor
from textrnn.errors import ConfigError
from textrnn.recipes import Recipe, base_metrics
from textrnn.tasks.regress import SEASON, Encoded, features, make_windows, mape


def load_series(recipe: Recipe, data_dir: str | None):
    from textrnn.corpus import load_corpus, read_series

    d = recipe.drill
    path = recipe.data.path
    time_column, value_column = d.get("time_column"), d.get("value_column")
    if not path:
        corpus = load_corpus(recipe.data.corpus or "energy", data_dir=data_dir)
        meta = corpus.train[0].meta
        path = meta["path"]
        time_column = time_column or meta["time_column"]
        value_column = value_column or meta["value_column"]
    if not time_column or not value_column:
        raise ConfigError("with --data, name the columns: --time-column COLUMN --value-column COLUMN")
    result = read_series(path, time_column, value_column)
    return result[0], result[1], str(path)


def run(recipe: Recipe, out_dir: Path, data_dir: str | None = None, resume: bool = False, quiet: bool = False) -> dict:
    from textrnn.plots import plot_series

    d = recipe.drill
    window, horizon, calendar = int(d.get("window", 48)), int(d.get("horizon", 1)), bool(d.get("calendar", True))
    began = time.perf_counter()
    # 1. data: a regular hourly series, split in time order
    hours, values, path = load_series(recipe, data_dir)
    if d.get("limit"):
        hours, values = hours[-int(d["limit"]):], values[-int(d["limit"]):]
    n = len(values)
    test_start, valid_start = int(n * 0.9), int(n * 0.8)
    if valid_start <= window + 1:
        raise ConfigError(f"{path}: {n} hours are too few for windows of {window}; use a longer series or a smaller drill.window")
    # 2. scaling with the training part only
    mean, std = float(values[:valid_start].mean()), float(values[:valid_start].std() or 1.0)
    scaled = ((values - mean) / std).astype(np.float32)
    inputs = features(hours, scaled, calendar)
    last_target = n - horizon + 1
    train = make_windows(inputs, scaled, np.arange(window, valid_start), window, horizon)
    valid = make_windows(inputs, scaled, np.arange(max(window, valid_start), test_start), window, horizon)
    test_at = np.arange(max(window, test_start, SEASON), last_target)
    test = make_windows(inputs, scaled, test_at, window, horizon)
    if d.get("train_stride"):
        stride = int(d["train_stride"])
        train = Encoded(train.inputs[::stride], train.targets[::stride])
    if not quiet:
        print(f"energy: {n:,} hours from {path}; {len(train):,} train / {len(valid):,} valid / {len(test):,} test windows "
              f"of {window} h", file=sys.stderr)
    # 3-4. model and training
    settings = {**recipe.model, "input_dim": inputs.shape[1], "output_dim": horizon, "mode": "many_to_one"}
    pipe, history = train_regressor(settings, train, valid, recipe.train, out_dir, quiet=quiet, resume=resume)
    # 5. evaluation in megawatts on the same test hours for every forecast
    change = pipe.predict(test.inputs)
    last = values[test_at - 1]
    truth = values[test_at]
    forecast = last + change[:, 0] * std
    persistence = last
    seasonal = values[test_at - SEASON]
    rows = {}
    for name, guess in (("gru", forecast), ("persistence", persistence), ("seasonal_naive", seasonal)):
        rows[name] = {"mae": float(np.mean(np.abs(guess - truth))), "mape": mape(truth, guess),
                      "mse": float(np.mean((guess - truth) ** 2))}
    metrics = base_metrics(recipe, history, str(pipe.device))
    test_metrics = {"task": "regress", "n": int(len(truth)), **rows["gru"],
                    "persistence_mape": rows["persistence"]["mape"], "persistence_mae": rows["persistence"]["mae"],
                    "seasonal_naive_mape": rows["seasonal_naive"]["mape"],
                    "seasonal_naive_mae": rows["seasonal_naive"]["mae"],
                    "mape_ratio_to_persistence": rows["gru"]["mape"] / rows["persistence"]["mape"]}
    if horizon > 1:
        full = last[:, None] + change * std
        later = values[test_at[:, None] + np.arange(horizon)[None, :]] if test_at[-1] + horizon <= n else None
        if later is not None:
            test_metrics[f"mape_next_{horizon}"] = mape(later, full)
    # a chronological split has no test file to wait for: the last 10% is the test part
    metrics["test"] = test_metrics
    metrics["valid"] = {"task": "regress", "loss": history.best, "n": len(valid)}
    text = table([{"model": k, **v} for k, v in rows.items()],
                 [("model", "forecast", ""), ("mae", "MAE (MW)", ",.1f"), ("mape", "MAPE (%)", ".3f")])
    metrics["table"] = text
    metrics["seconds"] = round(time.perf_counter() - began, 1)
    if not quiet:
        print(f"\nnext-hour forecast on the last 10% ({len(truth):,} hours):\n{text}\n"
              f"GRU MAPE / persistence MAPE = {test_metrics['mape_ratio_to_persistence']:.2f}", file=sys.stderr)
    week = slice(max(0, len(truth) - 24 * 7), len(truth))
    out_dir.mkdir(parents=True, exist_ok=True)
    from textrnn.plots import plot_curves

    plot_series(truth[week], {"GRU": forecast[week], "persistence": persistence[week], "same hour yesterday": seasonal[week]},
                out_dir / "forecast.png", "Hourly load: the last test week (MW)")
    plot_curves(history.epochs, out_dir / "curves.png")
    # 6. save with the scaling, so evaluate --data can reuse it
    pipe.config.meta = {"recipe": recipe.name, "drill": "energy", "mean": mean, "std": std, "window": window,
                        "horizon": horizon, "calendar": calendar, "time_column": d.get("time_column") or "Datetime",
                        "value_column": d.get("value_column") or "AEP_MW"}
    pipe.save(out_dir, metrics)
    return metrics

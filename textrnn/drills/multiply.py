"""The course variant of the LSTM paper's multiplication problem (Hochreiter & Schmidhuber 1997, experiment 5).

3,000 sequences of 100 steps of (mark, value), values uniform in [0, 1), exactly two marks; the target is the
product of the two marked values. 2,560 train (its last 20% for validation, as Keras's validation_split) and 440
test; a prediction is right when its absolute error is at most 0.04. The data for a seed are exactly those of the
course's Keras script for that seed, so the comparison is like for like.
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

from textrnn.drills import mean, table, train_regressor
from textrnn.recipes import Recipe, base_metrics
from textrnn.tasks.regress import Encoded, report

TOLERANCE = 0.04


def make_data(seed: int, sequences: int = 3000, steps: int = 100) -> tuple[np.ndarray, np.ndarray]:
    """(N, steps, 2) inputs [mark, value] and (N, 1) products, drawn in the Keras anchor's order."""
    rng = np.random.default_rng(seed)
    inputs = np.zeros((sequences, steps, 2), dtype=np.float32)
    targets = np.zeros((sequences, 1), dtype=np.float32)
    for n in range(sequences):
        values = rng.random(steps)
        marked = rng.choice(steps, 2, replace=False)
        inputs[n, marked, 0] = 1.0
        inputs[n, :, 1] = values
        targets[n, 0] = np.prod(values[marked])
    return inputs, targets


def splits(seed: int, train_size: int = 2560, valid_share: float = 0.2, sequences: int = 3000, steps: int = 100):
    inputs, targets = make_data(seed, sequences, steps)
    cut = int(train_size * (1 - valid_share))
    train = Encoded(inputs[:cut], targets[:cut])
    valid = Encoded(inputs[cut:train_size], targets[cut:train_size])
    test = Encoded(inputs[train_size:], targets[train_size:])
    return train, valid, test


def variants(recipe: Recipe) -> dict[str, dict]:
    """Model settings per reported variant: each cell, plus SimpleRNN with the remedy when asked."""
    out = {}
    for cell in recipe.drill.get("cells", ["rnn", "lstm", "gru"]):
        out[cell] = {**recipe.model, "cell": cell}
    remedy = recipe.drill.get("rnn_remedy")
    if remedy and "rnn" in out:
        out["rnn+" + remedy.get("init", "remedy")] = {**recipe.model, "cell": "rnn", **remedy}
    return out


def run(recipe: Recipe, out_dir: Path, data_dir: str | None = None, resume: bool = False, quiet: bool = False) -> dict:
    from textrnn.plots import plot_bars, plot_loss_curves
    from textrnn.summary import count_parameters

    seeds = [int(s) for s in recipe.drill.get("seeds", [0, 1, 2])]
    sequences = int(recipe.drill.get("sequences", 3000))
    train_size = int(recipe.drill.get("train_size", 2560))
    steps = int(recipe.drill.get("steps", 100))
    began = time.perf_counter()
    models, curves, best = {}, {}, None
    for name, settings in variants(recipe).items():
        train_settings = {k: v for k, v in recipe.train.items() if k != "remedy"}
        remedy_train = settings.pop("train", None)
        if remedy_train:
            train_settings.update(remedy_train)
        runs = []
        for seed in seeds:
            # 1. data (the same as the Keras anchor's for this seed)
            train, valid, test = splits(seed, train_size, sequences=sequences, steps=steps)
            # 2-4. model and training
            pipe, history = train_regressor(
                {**settings, "input_dim": 2, "output_dim": 1}, train, valid, {**train_settings, "seed": seed},
                out_dir / "models" / f"{name}-seed{seed}", quiet=True, resume=resume, tolerance=TOLERANCE,
                meta={"recipe": recipe.name, "drill": "multiply", "model": name})
            # 5. evaluation on the 440 test sequences
            metrics = report(test.targets, pipe.predict(test.inputs), TOLERANCE)
            # like Keras's fit time per epoch: training plus the validation pass
            metrics["seconds_per_epoch"] = sum(e["seconds"] + e["eval_seconds"] for e in history.epochs) / max(1, len(history.epochs))
            metrics["epochs"] = len(history.epochs)
            runs.append(metrics)
            curves[f"{name} seed {seed}"] = [e["valid_loss"] for e in history.epochs]
            if not quiet:
                print(f"{name:>14} seed {seed}: accuracy {metrics['accuracy']:.1%}  mse {metrics['mse']:.5f}  "
                      f"{metrics['seconds_per_epoch']:.2f} s/epoch", file=sys.stderr)
            if best is None or metrics["accuracy"] > best[0]:
                best = (metrics["accuracy"], name, pipe)
        total, trainable = count_parameters(pipe.model)
        models[name] = {"task": "regress", "n": runs[0]["n"], "accuracy": mean(r["accuracy"] for r in runs),
                        "mse": mean(r["mse"] for r in runs), "mae": mean(r["mae"] for r in runs),
                        "mape": mean(r["mape"] for r in runs), "params": trainable,
                        "seconds_per_epoch": mean(r["seconds_per_epoch"] for r in runs),
                        "epochs": mean(r["epochs"] for r in runs),
                        "accuracy_per_seed": [r["accuracy"] for r in runs], "seeds": seeds}
    # 6. the course's comparison table, a bar chart and the loss curves
    rows = [{"cell": name, **m} for name, m in models.items()]
    text = table(rows, [("cell", "cell", ""), ("params", "parameters", ",d"), ("mse", "test MSE", ".5f"),
                        ("accuracy", "accuracy", ".1%"), ("seconds_per_epoch", "s/epoch", ".2f")])
    if not quiet:
        print(f"\nmultiplication problem, mean of seeds {seeds} (right = |error| <= {TOLERANCE}):\n{text}", file=sys.stderr)
    out_dir.mkdir(parents=True, exist_ok=True)
    plot_bars(list(models), [m["accuracy"] * 100 for m in models.values()], out_dir / "accuracy.png",
              "Multiplication problem: test accuracy (|error| <= 0.04)", "accuracy (%)")
    plot_loss_curves(curves, out_dir / "curves.png")
    _, best_name, best_pipe = best
    metrics = base_metrics(recipe, None, str(best_pipe.device))   # "cuda:0", as the others say
    metrics.update({"models": models, "seconds": round(time.perf_counter() - began, 1), "table": text,
                    "epochs": int(recipe.train.get("epochs", 10)),
                    "seconds_per_epoch": mean(m["seconds_per_epoch"] for m in models.values())})
    metrics["valid"] = {**models[best_name], "model": best_name}
    # 7. save the best model as the run's pipeline
    best_pipe.save(out_dir, metrics)
    return metrics

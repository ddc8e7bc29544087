"""The course's sequence drills (hello, multiply, sine, energy): generated or numeric data, no download."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from textrnn.errors import ConfigError


def train_regressor(model_settings: dict, train, valid, train_settings: dict, run_dir: Path | None,
                    quiet: bool, resume: bool = False, metrics=None):
    """Build a Regressor from settings and train it on ``Encoded`` arrays; returns (model, history, config)."""
    from textrnn.config import from_dict
    from textrnn.models import MODELS
    from textrnn.tasks import regress
    from textrnn.train import TrainConfig, fit, resolve_device, set_seed, set_threads

    train_config = from_dict(TrainConfig, train_settings, "train")
    model_config = from_dict(MODELS["regressor"][0], model_settings, "model")
    set_threads(train_config.threads)
    set_seed(train_config.seed)
    model = MODELS["regressor"][1](model_config).to(resolve_device(train_config.device))
    loop = regress.loop(model, train, valid, train_config, metrics=metrics)
    history = fit(model, loop, train_config, run_dir=run_dir, resume=resume, quiet=quiet)
    return model, history, train_config


def save_regressor(out_dir: Path, model, model_settings: dict, meta: dict, metrics: dict) -> None:
    """Save a regressor as a pipeline directory (config.json with the scaling in ``meta``, model.safetensors)."""
    from textrnn.config import from_dict
    from textrnn.pipeline import Pipeline, PipelineConfig

    config = from_dict(PipelineConfig, {"task": "regress", "model": model_settings, "meta": meta})
    Pipeline(config, model=model.cpu()).save(out_dir, metrics)


def evaluate_saved(pipe, data: Path) -> dict:
    """Evaluate a saved regress pipeline on a data file (energy: a CSV with the same columns)."""
    kind = pipe.config.meta.get("drill")
    if kind != "energy":
        raise ConfigError(f"'evaluate --data' works for energy forecasters; this run is a {kind or 'regress'} drill "
                          "whose data are generated: rerun the recipe instead")
    from textrnn.drills.energy import evaluate_file

    return evaluate_file(pipe, data)


def table(rows: list[dict], columns: list[tuple[str, str, str]]) -> str:
    """A plain text table: ``columns`` are (key, title, format)."""
    header = "  ".join(f"{title:>12}" for _, title, _ in columns)
    lines = [header, "-" * len(header)]
    for row in rows:
        lines.append("  ".join(f"{format(row[key], fmt):>12}" for key, _, fmt in columns))
    return "\n".join(lines)


def mean(values) -> float:
    return float(np.mean(list(values))) if values else float("nan")

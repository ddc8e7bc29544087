"""The course's sequence drills (hello, multiply, sine, energy): generated or numeric data, no download."""
from __future__ import annotations

from pathlib import Path

import numpy as np


def train_regressor(model_settings: dict, train, valid, train_settings: dict, run_dir: Path | None, quiet: bool,
                    resume: bool = False, tolerance: float = 0.0, meta: dict | None = None):
    """A regress pipeline built from ``model_settings`` and trained on ``Encoded`` arrays; returns (pipe, history).
    ``tolerance`` > 0 adds the share of items within it (``accuracy``) to its evaluation."""
    from textrnn.pipeline import Pipeline

    pipe = Pipeline.for_task("regress", train=train, model=model_settings, settings={"tolerance": tolerance},
                             train_config=train_settings, meta=meta or {}, quiet=quiet)
    history = pipe.fit(train, valid, run_dir=run_dir, resume=resume, quiet=quiet)
    return pipe, history


def table(rows: list[dict], columns: list[tuple[str, str, str]]) -> str:
    """A plain text table: ``columns`` are (key, title, format)."""
    header = "  ".join(f"{title:>12}" for _, title, _ in columns)
    lines = [header, "-" * len(header)]
    for row in rows:
        lines.append("  ".join(f"{format(row[key], fmt):>12}" for key, _, fmt in columns))
    return "\n".join(lines)


def mean(values) -> float:
    values = list(values)
    return float(np.mean(values)) if values else float("nan")

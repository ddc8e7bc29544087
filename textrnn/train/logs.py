"""What a run tells while it trains: a progress bar, an epoch line, and the logs people read afterwards
(``history.json``, ``metrics.csv`` one row an epoch as Keras's and Lightning's CSVLogger write it, and TensorBoard
scalars when asked)."""
from __future__ import annotations

import csv
import io
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path

from textrnn.errors import ConfigError
from textrnn.fileio import atomic_write, atomic_write_json

CSV_LOG = "metrics.csv"
TENSORBOARD = "tensorboard"


@dataclass
class History:
    epochs: list[dict] = field(default_factory=list)
    best_epoch: int = 0
    best: float | None = None
    seconds: float = 0.0
    stopped: str = "completed"

    def to_dict(self) -> dict:
        return {"epochs": self.epochs, "best_epoch": self.best_epoch, "best": self.best,
                "seconds": self.seconds, "stopped": self.stopped}


def progress_bar(total: int, epoch: int, epochs: int, quiet: bool):
    """A rich progress bar on a terminal; None (epoch lines on stderr instead) when quiet or not a terminal."""
    if quiet or not sys.stderr.isatty():
        return None
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    progress = Progress(TextColumn(f"epoch {epoch}/{epochs}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                        TextColumn("{task.fields[info]}"), TimeRemainingColumn(), transient=True)
    progress.start()
    progress.add_task("train", total=total, info="")
    return progress


def epoch_line(row: dict, epochs: int, metrics: dict) -> str:
    shown = "  ".join(f"{k} {v:.4f}" for k, v in metrics.items() if isinstance(v, float))
    return (f"epoch {row['epoch']}/{epochs}  train_loss {row['train_loss']:.4f}  {shown}  {row['seconds']:.1f}s  "
            f"{row['tokens_per_second']:,.0f} tok/s")


class RunLogs:
    """``history.json`` and ``metrics.csv`` in ``run_dir`` (and TensorBoard's event files with ``tensorboard``).

    The CSV is appended and flushed after every epoch; a resumed run first rewrites it from its history, so it
    never holds an epoch twice. Columns are those of the first epoch; a later epoch's new keys are left out."""

    def __init__(self, run_dir: Path, tensorboard: bool, settings: dict):
        self.run_dir = run_dir
        self.columns: list[str] | None = None
        self.writer = None
        if tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter
            except ImportError:
                raise ConfigError('train.log=tensorboard needs the tensorboard package: pip install '
                                  '"textrnn[tensorboard]"') from None
            self.writer = SummaryWriter(str(run_dir / TENSORBOARD))
            self.writer.add_text("settings", "```\n" + json.dumps(settings, indent=2, default=str) + "\n```")

    def restart(self, history: History) -> None:
        """The CSV as the history holds it (a new run: just a header once its first epoch ends)."""
        self.columns = list(history.epochs[0]) if history.epochs else None
        if self.columns:
            buffer = io.StringIO()
            table = csv.DictWriter(buffer, self.columns, extrasaction="ignore")
            table.writeheader()
            table.writerows(history.epochs)
            atomic_write(self.run_dir / CSV_LOG, lambda tmp: tmp.write_text(buffer.getvalue(), encoding="utf-8"))
        else:
            (self.run_dir / CSV_LOG).unlink(missing_ok=True)

    def epoch(self, row: dict, history: History) -> None:
        atomic_write_json(self.run_dir / "history.json", history.to_dict())
        new = self.columns is None
        if new:
            self.columns = list(row)
        with open(self.run_dir / CSV_LOG, "a", encoding="utf-8", newline="") as f:
            table = csv.DictWriter(f, self.columns, extrasaction="ignore")
            if new:
                table.writeheader()
            table.writerow(row)
            f.flush()
        if self.writer is not None:
            for key, value in row.items():
                if key != "epoch" and isinstance(value, (int, float)):
                    self.writer.add_scalar(key, value, row["epoch"])
            self.writer.flush()

    def close(self, history: History) -> None:
        atomic_write_json(self.run_dir / "history.json", history.to_dict())
        if self.writer is not None:
            self.writer.close()

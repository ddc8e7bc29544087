"""The runs a server holds: named at start-up (``NAME=PATH``, or the folder's name), loaded once, each with the lock
its inference runs under."""
from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path

from textrnn.errors import ConfigError, PipelineError

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")   # a URL path segment as it is: no quoting, no slash


@dataclass
class LoadedRun:
    """One served run: its pipeline, the files beside it that the page reads, and its lock.

    Inference holds ``lock``: a pipeline's model is one set of modules (and a vocabulary that counts unknown words),
    so two requests for the same run take turns, while different runs answer side by side."""

    name: str
    pipe: object                  # a textrnn Pipeline
    metrics: dict
    history: dict | None
    lock: threading.Lock = field(default_factory=threading.Lock)


def parse_spec(spec: str) -> tuple[str, Path]:
    """``NAME=PATH`` or ``PATH`` (named by its folder) -> (name, path). Raises ConfigError for a name that is not a
    plain URL segment (letters, digits, ``.``, ``_``, ``-``; at most 64)."""
    name, sep, path = spec.partition("=")
    if not sep:
        path, name = spec, Path(spec.rstrip("/")).name
    if not NAME.match(name):
        raise ConfigError(f"{spec!r}: a model name is letters, digits, '.', '_' or '-' (at most 64, not starting "
                          f"with a sign); name it explicitly: NAME=PATH")
    return name, Path(path)


def _optional_json(path: Path) -> dict | None:
    """A run's metrics.json or history.json, or None when the run has none. Raises PipelineError for one that is
    not JSON."""
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise PipelineError(f"{path}: not valid JSON ({error}); the file is corrupted") from None


def load_runs(specs: list[str], device: str = "cpu") -> dict[str, LoadedRun]:
    """Load every run of ``specs`` (see ``parse_spec``), in order. Raises ConfigError for no runs or a name given
    twice, and PipelineError for a run that does not load."""
    from textrnn.pipeline import load
    from textrnn.runfiles import run_files

    if not specs:
        raise ConfigError("name at least one run to serve: textrnn serve runs/reuters [NAME=PATH ...]")
    runs: dict[str, LoadedRun] = {}
    for spec in specs:
        name, path = parse_spec(spec)
        if name in runs:
            raise ConfigError(f"two runs are named {name!r}; name them apart: NAME=PATH")
        pipe = load(path, device=device)
        runs[name] = LoadedRun(name, pipe, _optional_json(run_files(path)["metrics.json"]) or {},
                               _optional_json(path / "history.json"))
    return runs

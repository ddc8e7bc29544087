"""The folder a run writes into (``--out``), checked before any work: it can be written, and it holds nothing but
this run's own unfinished training (``--resume``) or, with ``--overwrite``, an earlier textrnn run to replace.

A run marks its folder with ``training.json`` (the recipe and task) when it starts, so a resume can tell its own
folder from another run's, and two runs never mix in one folder.
"""
from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

from textrnn import __version__
from textrnn.errors import ConfigError
from textrnn.fileio import atomic_write_json

MARKER = "training.json"


def _first_existing(path: Path) -> Path:
    for candidate in (path, *path.parents):
        if candidate.exists() or candidate.is_symlink():
            return candidate
    return Path(".")


def check_writable(out: Path) -> None:
    """ConfigError, with the fix, when ``out`` is a file, lies under a file, or cannot be created or written."""
    if out.exists() and not out.is_dir():
        raise ConfigError(f"--out {out}: is a file, not a folder; give a folder for the run (a new one is made)")
    existing = _first_existing(out)
    if not existing.is_dir():
        raise ConfigError(f"--out {out}: {existing} is a file, so no folder can be made under it; choose another --out")
    try:
        out.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".textrnn-probe-", dir=out)
        os.close(fd)
        os.unlink(probe)
    except OSError as error:
        raise ConfigError(f"--out {out}: cannot be written ({error.strerror or error}); choose another --out or fix "
                          "the folder's permissions") from None


def prepare(out: str | Path, recipe: str, task: str, resume: bool = False, overwrite: bool = False) -> Path:
    """Make ``out`` ready for a run of ``recipe`` and mark it; raises ConfigError (exit 2) naming the folder and the
    fix when it cannot be used as asked. Nothing is written or removed before every check has passed."""
    out = Path(out)
    if resume and overwrite:
        raise ConfigError("--resume continues a run and --overwrite replaces it: give one of them")
    if out.exists() and not out.is_dir():
        check_writable(out)
    entries = sorted(p.name for p in out.iterdir()) if out.is_dir() else []
    marker = _read_marker(out)
    if entries == [MARKER] and marker is not None and not resume:
        entries = []          # a run that stopped before it wrote anything: nothing there to keep or resume
    if entries and overwrite:
        if marker is None and not _saved_run(out):
            raise ConfigError(f"--out {out}: holds files that are not a textrnn run ({', '.join(entries[:5])}); "
                              "--overwrite only replaces an earlier run: choose a new or empty folder")
        shutil.rmtree(out)
    elif entries and resume:
        if marker is None:
            raise ConfigError(f"--out {out}: holds no training of textrnn's to resume ({', '.join(entries[:5])}); "
                              "choose the folder of the interrupted run, or a new folder without --resume")
        if marker.get("recipe") != recipe or marker.get("task") != task:
            raise ConfigError(f"--out {out}: holds a run of {marker.get('recipe')!r} ({marker.get('task')}), not of "
                              f"{recipe!r} ({task}); resume it with its own recipe, or choose another folder")
    elif entries:
        what = "an earlier run" if marker is not None or _saved_run(out) else "other files"
        raise ConfigError(f"--out {out}: is not empty (it holds {what}: {', '.join(entries[:5])}); give --resume to "
                          "continue an interrupted run there, --overwrite to replace an earlier run, or a new folder")
    check_writable(out)
    if marker is None or overwrite:
        atomic_write_json(out / MARKER, {"recipe": recipe, "task": task, "textrnn_version": __version__})
    return out


def _saved_run(out: Path) -> bool:
    """Whether ``out`` holds a pipeline textrnn saved (its config.json names the textrnn version)."""
    try:
        document = json.loads((out / "config.json").read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return False
    return isinstance(document, dict) and "textrnn_version" in document


def _read_marker(out: Path) -> dict | None:
    try:
        marker = json.loads((out / MARKER).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None
    return marker if isinstance(marker, dict) else None

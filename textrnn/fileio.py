"""Atomic writes: a save never leaves a half-written file, or a half-replaced set of files, in place of the last
good one."""
from __future__ import annotations

import errno
import json
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

TMP_PREFIX = ".tmp-"
STAGING = ".staging"        # a set of files being saved together (see save_together)
COMMIT = "COMMIT.json"      # inside STAGING: written once every file is there; the list of names to move in
_FIXES = {errno.ENOSPC: "free some disk space", errno.EDQUOT: "free some disk space (over the quota)",
          errno.EFBIG: "raise the file-size limit (ulimit -f)"}


def atomic_write(path: str | Path, write: Callable[[Path], None]) -> None:
    """Call ``write(tmp_path)`` on a temporary file beside ``path``, fsync it, then rename it over ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=TMP_PREFIX + path.name + ".", dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        write(tmp_path)
        os.chmod(tmp_path, 0o666 & ~_umask())   # mkstemp (and some writers) make files private; a run is a plain file
        with open(tmp_path, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp_path, path)
    except BaseException as error:
        tmp_path.unlink(missing_ok=True)
        from textrnn.errors import SaveError

        if isinstance(error, OSError) and not isinstance(error, SaveError):
            # a full disk, a file-size limit, no permission: name the file and the cause
            fix = f"; {_FIXES[error.errno]} and run again" if error.errno in _FIXES else ""
            raise SaveError(f"{path}: cannot be written ({error.strerror or error}); the previous {path.name}, "
                            f"if any, is unchanged{fix}") from error
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    atomic_write(path, lambda tmp: tmp.write_bytes(data))


def atomic_write_json(path: str | Path, obj: Any) -> None:
    text = json.dumps(obj, indent=2, ensure_ascii=False) + "\n"
    atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def clean_temporaries(folder: str | Path) -> int:
    """Remove half-written temporary files left by a killed save; returns how many were removed."""
    folder = Path(folder)
    if not folder.is_dir():
        return 0
    removed = 0
    for stale in folder.glob(TMP_PREFIX + "*"):
        stale.unlink(missing_ok=True)
        removed += 1
    return removed


def save_together(folder: str | Path, write: Callable[[Path], list[str]]) -> None:
    """Replace a set of files in ``folder`` all or nothing.

    ``write(staging)`` writes the files into a staging folder and returns their names in the order they should
    land (the one that names the others, such as a pipeline's config.json, last). Once all are written, a commit
    file records the names; only then are they moved in. A save cut off before its commit leaves the old files
    untouched; one cut off while moving is finished by ``finish_saving`` (the next save or load calls it)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    finish_saving(folder)
    staging = folder / STAGING
    shutil.rmtree(staging, ignore_errors=True)      # an earlier save that never reached its commit
    staging.mkdir()
    names = write(staging)
    atomic_write_json(staging / COMMIT, names)      # the commit point
    _fsync_folder(staging)
    finish_saving(folder)


def finish_saving(folder: str | Path) -> bool:
    """Move in the files of a committed save that was cut off while moving them; True when there was one."""
    folder = Path(folder)
    staging = folder / STAGING
    if not (staging / COMMIT).exists():
        return False
    names = json.loads((staging / COMMIT).read_text(encoding="utf-8"))
    for name in names:
        if (staging / name).exists():
            os.replace(staging / name, folder / name)
    _fsync_folder(folder)
    shutil.rmtree(staging, ignore_errors=True)
    return True


def _fsync_folder(folder: Path) -> None:
    """Make renames inside ``folder`` durable (a no-op where folders cannot be opened, as on Windows)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)

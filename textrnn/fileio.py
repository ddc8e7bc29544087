"""Atomic file writes: a save never leaves a half-written file in place of the last good one."""
from __future__ import annotations

import errno
import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

TMP_PREFIX = ".tmp-"
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

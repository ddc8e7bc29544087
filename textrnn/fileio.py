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

from textrnn.errors import PipelineError, SaveError

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


def save_together(folder: str | Path, write: Callable[[Path], list[str]], known: Callable[[str], bool]) -> None:
    """Replace a set of files in ``folder`` all or nothing.

    ``write(staging)`` writes the files into a staging folder and returns their names in the order they should
    land (the one that names the others, such as a pipeline's config.json, last); ``known(name)`` says which names
    the format has. Once all are written, a commit file records the names; only then are they moved in. A save cut
    off before its commit leaves the old files untouched; one cut off while moving is finished by the next save
    (or ``finish_saving``, the explicit repair); a reader sees it through ``committed_files`` without writing."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    finish_saving(folder, known)
    staging = folder / STAGING
    if staging.is_symlink():
        staging.unlink()
    shutil.rmtree(staging, ignore_errors=True)      # an earlier save that never reached its commit
    staging.mkdir()
    names = write(staging)
    for name in names:
        check_name(name, known, staging / COMMIT)
    atomic_write_json(staging / COMMIT, names)      # the commit point
    _fsync_folder(staging)
    finish_saving(folder, known)


def check_name(name: object, known: Callable[[str], bool], where: Path) -> str:
    """``name`` when it is a plain file name of the format (no folder, not hidden, one ``known`` accepts); else a
    PipelineError naming ``where`` and the fix."""
    plain = (isinstance(name, str) and name not in ("", ".", "..") and "/" not in name and "\\" not in name
             and "\0" not in name and not name.startswith(".") and Path(name).name == name)
    if not plain or not known(name):
        raise PipelineError(f"{where}: {name!r} is not a file of a saved run; the folder was changed by hand or by "
                            f"someone else: delete {where.parent if where.name == COMMIT else where} (an interrupted "
                            f"save is then lost; the run keeps its last finished files) or use a run you trust")
    return name


def read_commit(folder: str | Path, known: Callable[[str], bool]) -> list[str] | None:
    """The names an interrupted save committed to move in (checked by ``check_name``), or None when there is none.

    Reads only. Raises PipelineError naming the file for a commit file that is not a JSON list of known plain file
    names, and for a staging folder, commit file or staged file that is a symbolic link."""
    folder = Path(folder)
    staging, commit = folder / STAGING, folder / STAGING / COMMIT
    if not (staging.is_symlink() or commit.is_symlink() or commit.exists()):
        return None
    fix = f"delete {staging} (an interrupted save is then lost; the run keeps its last finished files)"
    if staging.is_symlink() or commit.is_symlink():
        raise PipelineError(f"{staging.parent}: its {STAGING} folder or commit file is a symbolic link, which a save "
                            f"never makes; {fix}")
    try:
        names = json.loads(commit.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError) as error:
        raise PipelineError(f"{commit}: not readable as JSON ({error}); it should list the file names of an "
                            f"interrupted save; {fix}") from None
    if not isinstance(names, list):
        raise PipelineError(f"{commit}: should be a JSON list of file names, got a {type(names).__name__}; {fix}")
    for name in names:
        check_name(name, known, commit)
        if (staging / name).is_symlink() or (folder / name).is_symlink():
            raise PipelineError(f"{folder / name}: a symbolic link, which a save never makes; {fix}")
    return names


def committed_files(folder: str | Path, known: Callable[[str], bool]) -> dict[str, Path]:
    """Where each file of an interrupted, committed save is now (the staging folder or the run itself), so that a
    reader sees the committed save without moving anything; {} when there is none."""
    folder = Path(folder)
    names = read_commit(folder, known) or []
    staged = {name: folder / STAGING / name for name in names}
    return {name: path if path.exists() else folder / name for name, path in staged.items()}


def finish_saving(folder: str | Path, known: Callable[[str], bool]) -> bool:
    """Move in the files of a committed save that was cut off while moving them; True when there was one.

    For writers only (the next save, or an explicit repair): a reader uses ``committed_files``. The names are
    checked first (``read_commit``), so a commit file cannot move anything outside ``folder``."""
    folder = Path(folder)
    names = read_commit(folder, known)
    if names is None:
        return False
    staging = folder / STAGING
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

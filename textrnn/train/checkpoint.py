"""The training checkpoint: everything a resumed run needs to continue to the same result, written atomically and
read back with ``weights_only=True`` (tensors and plain values only, never pickled code)."""
from __future__ import annotations

import io
import pickle
import zipfile
from pathlib import Path

import torch

from textrnn.errors import TrainingError
from textrnn.fileio import atomic_write

CHECKPOINT = "checkpoint.pt"


def save_checkpoint(path: Path, state: dict) -> None:
    """Write ``state`` to ``path`` atomically. The bytes are made in memory, so a full disk fails in Python's write
    with an OSError that names the cause (torch's own file writer raises an opaque RuntimeError)."""
    buffer = io.BytesIO()
    torch.save(state, buffer)
    atomic_write(path, lambda tmp: tmp.write_bytes(buffer.getbuffer()))


def load_checkpoint(path: str | Path) -> dict:
    """Read a checkpoint with ``weights_only=True``; a file holding anything else (pickled objects, code) or a
    damaged one is a TrainingError that says what to do, and never suggests unpickling it."""
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, ValueError, KeyError, AttributeError, TypeError,
            ImportError, zipfile.BadZipFile, OSError):   # what a damaged or hostile file makes torch.load raise
        raise TrainingError(f"{path}: not a textrnn checkpoint (it is damaged, or holds pickled objects, which textrnn "
                            "never loads); delete it to train from the start") from None

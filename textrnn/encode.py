"""Pure functions from token ids to tensors: padding and truncation, lengths and masks, length-bucketed
batches for classification and tagging, and contiguous windows for language models.

Padding is id 0 everywhere (``vocab.PAD_ID``) and always on the right, so ``lengths`` says where each row ends.
"""
from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, fields

import numpy as np
import torch

from textrnn.errors import DataError
from textrnn.textual import pad_ids


@dataclass
class EncodeConfig:
    max_len: int | None = None       # tokens kept per text in training and evaluation (classify); None keeps all
    truncate: str = "head"           # which part of a long text to keep: "head" | "tail" | "head+tail"
    strip_html: bool = False         # turn <br /> into spaces and decode &amp; and friends (IMDB)


def pad(sequences: Sequence[Sequence[int]], max_len: int | None = None, keep: str = "head",
        min_len: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-pad id lists into ``(ids (B, T) long, lengths (B,) long)``, truncating to ``max_len`` first
    (``textual.pad_ids`` as tensors).

    An empty sequence gets length 0 and a row of padding; ``T`` is at least ``min_len``.
    """
    ids, lengths = pad_ids(sequences, max_len, keep, min_len)
    return torch.from_numpy(ids), torch.from_numpy(lengths)


def mask(lengths: torch.Tensor, max_len: int | None = None) -> torch.Tensor:
    """A (B, T) bool mask, True where a position holds a real token."""
    width = int(lengths.max()) if max_len is None else max_len
    return torch.arange(width, device=lengths.device)[None, :] < lengths[:, None]


@dataclass
class Batch:
    """A batch for any task. ``ids`` (B, T) long or, for numeric sequences, ``inputs`` (B, T, F) float.

    ``targets``: (B,) labels, (B, T) tags or next tokens, or (B, K) numbers. ``chars`` (B, T, W) and ``casing``
    (B, T) are the tagger's extra features. ``index`` holds the examples' positions in their split.
    """

    ids: torch.Tensor | None = None
    lengths: torch.Tensor | None = None
    targets: torch.Tensor | None = None
    inputs: torch.Tensor | None = None
    chars: torch.Tensor | None = None
    casing: torch.Tensor | None = None
    aux: torch.Tensor | None = None       # a tagger's auxiliary heads' targets (B, T, K): its middle CoNLL columns
                                          # (-1: none)
    index: list[int] = field(default_factory=list)

    def to(self, device: torch.device | str) -> Batch:
        moved = {}
        for f in fields(self):
            value = getattr(self, f.name)
            # lengths stay on the CPU: pack_padded_sequence requires it, and indexing by them is cheap there.
            moved[f.name] = value.to(device, non_blocking=True) if isinstance(value, torch.Tensor) and f.name != "lengths" else value
        return Batch(**moved)

    @property
    def size(self) -> int:
        return len(self.lengths) if self.lengths is not None else len(self.targets)

    def num_tokens(self) -> int:
        """Real (unpadded) time steps: the lengths' sum, else every step of the ids or inputs (LM windows,
        fixed-length numeric sequences)."""
        if self.lengths is not None:
            return int(self.lengths.sum())
        steps = self.ids if self.ids is not None else self.inputs
        return int(steps.shape[0] * steps.shape[1]) if steps is not None and steps.dim() >= 2 else self.size


def bucket_batches(lengths: Sequence[int], batch_size: int, shuffle: bool = True, seed: int = 0,
                   pool: int = 50) -> list[list[int]]:
    """Index lists of about equal length, so little padding is computed.

    Without shuffling: sorted by length (stable). With shuffling: a seeded permutation is cut into pools of
    ``pool * batch_size`` examples, each pool sorted by length and cut into batches, then the batches shuffled.
    The same ``seed`` gives the same batches (an interrupted run resumes on the same order).
    """
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    lengths = np.asarray(lengths)
    if not shuffle:
        order = np.argsort(lengths, kind="stable")
        return [order[i:i + batch_size].tolist() for i in range(0, len(order), batch_size)]
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(lengths))
    batches = []
    step = pool * batch_size
    for start in range(0, len(order), step):
        chunk = order[start:start + step]
        chunk = chunk[np.argsort(lengths[chunk], kind="stable")]
        batches.extend(chunk[i:i + batch_size].tolist() for i in range(0, len(chunk), batch_size))
    rng.shuffle(batches)
    return batches


def lm_streams(ids: np.ndarray, batch_size: int) -> torch.Tensor:
    """Cut one long id stream into ``batch_size`` contiguous rows (B, N); the ragged end is dropped."""
    ids = np.asarray(ids, dtype=np.int64)
    per_row = len(ids) // batch_size
    if per_row < 2:
        raise DataError(f"the text holds {len(ids)} tokens, too few for {batch_size} rows of at least 2: give more "
                        f"text or set train.batch_size={max(1, len(ids) // 2)} or lower")
    return torch.from_numpy(ids[: per_row * batch_size].reshape(batch_size, per_row).copy())


def lm_windows(streams: torch.Tensor, bptt: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Consecutive (inputs, next-token targets) windows of width ``bptt`` over (B, N) streams.

    Row b of window k continues row b of window k-1, so a language model can carry its state across windows
    (truncated backpropagation through time).
    """
    total = streams.size(1) - 1
    for start in range(0, total, bptt):
        width = min(bptt, total - start)
        yield streams[:, start:start + width], streams[:, start + 1:start + 1 + width]

"""Parallel text for translation: batches of sentence pairs.

Each pair is an ``Example`` with ``text`` (the source sentence) and ``target`` (its translation); ``corpus.py``
reads them (``read_line_pairs``, ``read_tsv_pairs``) and carves a validation that keeps each target sentence on one
side (``carve_valid(group="target")``).
"""
from __future__ import annotations

from collections.abc import Sequence

from textrnn.encode import Batch, bucket_batches, pad
from textrnn.vocab import EOS_ID


def pair_batches(source_ids: Sequence[Sequence[int]], target_ids: Sequence[Sequence[int]], batch_size: int,
                 shuffle: bool = True, seed: int = 0) -> list[Batch]:
    """Batches of id pairs (the tokens' ids, no special tokens), bucketed by length (``encode.bucket_batches`` on
    the longer side of each pair), so little padding is computed on either side: ``ids`` (B, S) the sources,
    ``lengths`` (B,) their lengths, ``targets`` (B, T) the target ids + <eos>, and ``index`` the pairs' positions;
    ``seq2seq.decoder_inputs(batch.targets)`` gives the decoder's inputs. The same seed gives the same batches.
    Raises ValueError when the two sides hold different numbers of sentences."""
    if len(source_ids) != len(target_ids):
        raise ValueError(f"{len(source_ids)} source sentences but {len(target_ids)} targets")
    lengths = [max(len(s), len(t) + 1) for s, t in zip(source_ids, target_ids, strict=True)]
    batches = []
    for index in bucket_batches(lengths, batch_size, shuffle=shuffle, seed=seed):
        ids, src_lengths = pad([source_ids[i] for i in index])
        targets, _ = pad([list(target_ids[i]) + [EOS_ID] for i in index])
        batches.append(Batch(ids=ids, lengths=src_lengths, targets=targets, index=list(index)))
    return batches

"""Parallel text for translation: the translation-memory baseline and batches of sentence pairs.

Each pair is an ``Example`` with ``text`` (the source sentence) and ``target`` (its translation); ``corpus.py``
reads them (``read_line_pairs``, ``read_tsv_pairs``) and carves a validation that keeps each target sentence on one
side (``carve_valid(group="target")``).
"""
from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence

import numpy as np

from textrnn.encode import Batch, bucket_batches, pad
from textrnn.vocab import EOS_ID


def _ngrams(text: str, orders: Sequence[int]) -> Counter[str]:
    text = " ".join(text.split())
    return Counter(text[i:i + n] for n in orders for i in range(len(text) - n + 1))


def translation_memory(queries: Sequence[str], memory_sources: Sequence[str], memory_targets: Sequence[str],
                       orders: Sequence[int] = (1, 2, 3)) -> list[str]:
    """The translation-memory baseline: for each query the target of the memory pair whose source is nearest by
    character n-gram overlap (the Dice coefficient of the n-gram multisets of ``orders``, white space collapsed).
    Ties go to the earlier pair; a query sharing no n-gram with any source gets the first target. Raises
    ValueError for an empty memory or sources and targets of different lengths."""
    if len(memory_sources) != len(memory_targets):
        raise ValueError(f"{len(memory_sources)} memory sources but {len(memory_targets)} targets")
    if not memory_sources:
        raise ValueError("the translation memory is empty")
    postings: dict[str, list[tuple[int, int]]] = defaultdict(list)   # n-gram -> [(pair, count)]
    sizes = np.zeros(len(memory_sources))
    for i, text in enumerate(memory_sources):
        grams = _ngrams(text, orders)
        sizes[i] = sum(grams.values())
        for gram, count in grams.items():
            postings[gram].append((i, count))
    index = {gram: (np.array([i for i, _ in pairs]), np.array([c for _, c in pairs], dtype=np.float64))
             for gram, pairs in postings.items()}
    out = []
    for query in queries:
        grams = _ngrams(query, orders)
        overlap = np.zeros(len(memory_sources))
        for gram, count in grams.items():
            if gram in index:
                pairs, stored = index[gram]
                overlap[pairs] += np.minimum(stored, count)   # each pair holds a gram once in its posting list
        dice = 2 * overlap / np.maximum(sizes + sum(grams.values()), 1)
        out.append(memory_targets[int(np.argmax(dice))])
    return out


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

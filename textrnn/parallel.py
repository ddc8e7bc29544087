"""Parallel text for translation: readers, a validation carve that keeps sentence groups whole, a
translation-memory baseline and batches of sentence pairs.

Each pair is an ``Example`` with ``text`` (the source sentence), ``target`` (its translation) and ``meta``
(``line``: the line number in the file, plus a TSV's extra named columns, e.g. Tatoeba's attribution). Files may
be plain or gzip, UTF-8 with or without a BOM, LF or CRLF (``corpus.read_text``). Bad input raises DataError naming
the file and the line.
"""
from __future__ import annotations

import random
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from textrnn.corpus import Example, read_text
from textrnn.encode import Batch, bucket_batches, pad
from textrnn.errors import DataError
from textrnn.vocab import EOS_ID


def _lines(path: Path) -> list[str]:
    """The file's lines (a final line break ends the last line rather than starting an empty one)."""
    text = read_text(path)
    return text.removesuffix("\n").split("\n")


def read_line_pairs(source_path: str | Path, target_path: str | Path) -> list[Example]:
    """Pairs from two aligned line files: line n of ``source_path`` translates to line n of ``target_path``.

    Every line is kept, an empty one too (as an empty sentence), so that the numbering stays the files'.
    Raises DataError when the files differ in length, naming the longer one and its first line without a partner.
    """
    source_path, target_path = Path(source_path), Path(target_path)
    sources, targets = _lines(source_path), _lines(target_path)
    if len(sources) != len(targets):
        longer, shorter = (source_path, target_path) if len(sources) > len(targets) else (target_path, source_path)
        extra = min(len(sources), len(targets)) + 1
        raise DataError(f"{longer}:{extra}: {longer.name} has {max(len(sources), len(targets)):,} lines but "
                        f"{shorter} has {min(len(sources), len(targets)):,}; line {extra} of {longer.name} has no "
                        f"translation. Aligned files need one sentence per line, the same number in each")
    return [Example(text=s.strip(), target=t.strip(), meta={"line": n})
            for n, (s, t) in enumerate(zip(sources, targets, strict=True), 1)]


def read_tsv_pairs(path: str | Path, columns: Sequence[str] = ("source", "target"), source: str = "source",
                   target: str = "target") -> list[Example]:
    """Pairs from a tab-separated file without a header whose lines hold the fields named by ``columns``, in order.

    The column named ``source`` becomes ``text``, the one named ``target`` becomes ``target``, and every other named
    column is kept in ``meta`` under its name (e.g. ``columns=("en", "ko", "attribution"), source="ko",
    target="en"``). Fields are split on tabs only (no CSV quoting: quotes are part of a sentence). Blank lines are
    skipped. Raises DataError for a line with another number of fields (naming the file and line) or a file
    without pairs, ValueError for ``columns`` that do not name both sides.
    """
    columns = list(columns)
    if source not in columns or target not in columns or source == target or len(set(columns)) != len(columns):
        raise ValueError(f"columns {columns} must name distinct columns, among them source {source!r} and target "
                         f"{target!r}")
    path = Path(path)
    examples = []
    for n, line in enumerate(_lines(path), 1):
        if not line.strip():
            continue
        fields = line.split("\t")
        if len(fields) != len(columns):
            found = "one column (no tab)" if len(fields) == 1 else f"{len(fields)} tab-separated columns"
            raise DataError(f"{path}:{n}: {found}, expected {len(columns)} ({', '.join(columns)}); each line needs "
                            f"a sentence and its translation separated by a tab")
        row = dict(zip(columns, fields, strict=True))
        meta = {name: value for name, value in row.items() if name not in (source, target)}
        meta["line"] = n
        examples.append(Example(text=row[source].strip(), target=row[target].strip(), meta=meta))
    if not examples:
        raise DataError(f"{path}: holds no sentence pairs")
    return examples


def split_by_group(examples: Sequence[Example], fraction: float, seed: int = 0,
                   key: Callable[[Example], str] = lambda e: e.target) -> tuple[list[Example], list[Example]]:
    """A seeded (train, valid) split in which every group of examples with the same ``key`` (by default the
    target sentence) lies wholly on one side, so no sentence is both learnt and tested (Tatoeba gives one English
    sentence several translations). Valid receives whole groups, drawn in a seeded order, until it holds at least
    ``fraction`` of the examples. Both keep the input order. Raises ValueError for a fraction outside (0, 1) or
    when the groups cannot leave both sides non-empty."""
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"fraction must lie in (0, 1), got {fraction}")
    groups: dict[str, list[int]] = defaultdict(list)
    for i, example in enumerate(examples):
        groups[key(example)].append(i)
    if len(groups) < 2:
        raise ValueError(f"{len(examples)} examples form {len(groups)} group(s); a split needs at least two")
    names = sorted(groups)
    random.Random(seed).shuffle(names)
    wanted = max(1, round(fraction * len(examples)))
    chosen: set[int] = set()
    for name in names[:-1]:                   # the last group stays in train, so train is never empty
        if len(chosen) >= wanted:
            break
        chosen.update(groups[name])
    train = [e for i, e in enumerate(examples) if i not in chosen]
    valid = [e for i, e in enumerate(examples) if i in chosen]
    return train, valid


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

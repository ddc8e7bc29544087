"""A translation memory: sentence pairs searched by how near their sources are to a query. It is the translation
recipes' baseline (each source gets the translation of the nearest train source), and with ``translate.memory`` a
translator reads the nearest train pair's translation beside each source (Bulte and Tezcan 2019, "neural fuzzy
repair"). Needs no torch.
"""
from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from textrnn.errors import PipelineError
from textrnn.fileio import atomic_write_json


def _ngrams(text: str, orders: Sequence[int]) -> Counter[str]:
    text = " ".join(text.split())
    return Counter(text[i:i + n] for n in orders for i in range(len(text) - n + 1))


class Memory:
    """A translation memory: sentence pairs, searched by how near their sources are to a query (the Dice
    coefficient of the character n-gram multisets of ``orders``, white space collapsed). Saved with a run as a JSON
    file of the two lists. Raises ValueError for no pairs, or sources and targets of different lengths."""

    def __init__(self, sources: Sequence[str], targets: Sequence[str], orders: Sequence[int] = (1, 2, 3)):
        if len(sources) != len(targets):
            raise ValueError(f"{len(sources)} memory sources but {len(targets)} targets")
        if not sources:
            raise ValueError("the translation memory is empty")
        self.sources, self.targets, self.orders = list(sources), list(targets), tuple(orders)
        self._index: dict[str, tuple[np.ndarray, np.ndarray]] | None = None

    def __len__(self) -> int:
        return len(self.sources)

    def _build(self) -> None:
        postings: dict[str, list[tuple[int, int]]] = defaultdict(list)   # n-gram -> [(pair, count)]
        self._sizes = np.zeros(len(self.sources))
        for i, text in enumerate(self.sources):
            grams = _ngrams(text, self.orders)
            self._sizes[i] = sum(grams.values())
            for gram, count in grams.items():
                postings[gram].append((i, count))
        self._index = {gram: (np.array([i for i, _ in pairs]), np.array([c for _, c in pairs], dtype=np.float64))
                       for gram, pairs in postings.items()}
        by_target: dict[str, list[int]] = defaultdict(list)
        for i, target in enumerate(self.targets):
            by_target[target].append(i)
        self._by_target = {target: np.array(pairs) for target, pairs in by_target.items()}

    def nearest(self, queries: Sequence[str], avoid: Sequence[str | None] | None = None) -> list[int]:
        """For each query, the position of the pair whose source is nearest (ties: the earlier pair; a query
        sharing no n-gram with any source: the first pair). ``avoid[i]``, when given, is a translation the pair
        found for query i may not hold (a pair's own, so that it never reads its answer)."""
        if self._index is None:
            self._build()
        out = []
        for i, query in enumerate(queries):
            grams = _ngrams(query, self.orders)
            overlap = np.zeros(len(self.sources))
            for gram, count in grams.items():
                if gram in self._index:
                    pairs, stored = self._index[gram]
                    overlap[pairs] += np.minimum(stored, count)   # each pair holds a gram once in its posting list
            dice = 2 * overlap / np.maximum(self._sizes + sum(grams.values()), 1)
            if avoid is not None and avoid[i] in self._by_target:
                dice[self._by_target[avoid[i]]] = -1.0
            out.append(int(np.argmax(dice)))
        return out

    def save(self, path: Path) -> None:
        atomic_write_json(path, {"sources": self.sources, "targets": self.targets})

    @classmethod
    def load(cls, path: Path) -> Memory:
        """Raises PipelineError naming the file for one that is not two lists of strings of the same length."""
        try:
            document = json.loads(Path(path).read_text(encoding="utf-8"))
            sources, targets = document["sources"], document["targets"]
            if not all(isinstance(t, str) for t in [*sources, *targets]):
                raise TypeError("not strings")
            return cls(sources, targets)
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise PipelineError(f"{path}: not a translation memory (two lists of sentences of the same length: "
                                f"{error}); save the run again") from None


def translation_memory(queries: Sequence[str], memory_sources: Sequence[str], memory_targets: Sequence[str],
                       orders: Sequence[int] = (1, 2, 3)) -> list[str]:
    """The translation-memory baseline: for each query the target of the memory pair whose source is nearest
    (``Memory.nearest``)."""
    memory = Memory(memory_sources, memory_targets, orders)
    return [memory.targets[i] for i in memory.nearest(queries)]

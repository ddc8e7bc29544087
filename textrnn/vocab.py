"""Token <-> id. The special tokens and their ids are defined here and nowhere else.

A vocabulary is built once, from train token lists, in a fixed order (frequency, then the token itself) and is
frozen afterwards. Unknown tokens are a policy: they map to ``<unk>`` and are counted. Label vocabularies have no
``<unk>``: an unknown label is an error that names it.
"""
from __future__ import annotations

import heapq
import itertools
import json
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from textrnn.errors import DataError, PipelineError
from textrnn.fileio import atomic_write_json

PAD, UNK, BOS, EOS = "<pad>", "<unk>", "<bos>", "<eos>"
SPECIALS: tuple[str, ...] = (PAD, UNK, BOS, EOS)
PAD_ID, UNK_ID, BOS_ID, EOS_ID = 0, 1, 2, 3


@dataclass
class VocabConfig:
    min_freq: int = 1
    max_size: int | None = None      # counts the four special tokens
    extra_min_freq: int = 0          # >0: words of the extra (word2vec) text seen this often join the vocabulary
                                     # after train's, with their word2vec vectors: unseen words at test time are
                                     # then known, as with pretrained vectors (0: the vocabulary is train's alone)


def _read_token_list(path: Path, what: str) -> list[str]:
    try:
        items = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise PipelineError(f"{path}: missing {what} file; save the pipeline again or copy the whole run directory") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise PipelineError(f"{path}: not valid JSON ({error}); the file is corrupted, save the pipeline again") from error
    if not isinstance(items, list) or not all(isinstance(item, str) for item in items):
        raise PipelineError(f"{path}: {what} must be a JSON list of strings")
    seen: set[str] = set()
    for number, item in enumerate(items):
        if item in seen:
            raise PipelineError(f"{path}: {what} holds {item!r} twice (again at index {number}); the file was edited or "
                                "is corrupted: save the pipeline again")
        seen.add(item)
    return items


def _by_count(item: tuple[str, int]) -> tuple[int, str]:
    return -item[1], item[0]


def _frequent(counts: Counter[str], min_freq: int, limit: int | None = None) -> list[str]:
    """The tokens counted at least ``min_freq`` times, most frequent first, ties by token; the first ``limit``.

    With a limit only the tokens counted at least as often as the limit-th most frequent are sorted (IMDB train:
    about 5,000 of 100,000 for a 5,000-word vocabulary, 0.07 s against 0.45 s for sorting them all)."""
    if limit == 0:
        return []
    items = [(t, c) for t, c in counts.items() if c >= min_freq]
    if limit is not None and len(items) > limit:
        cut = heapq.nlargest(limit, (c for _, c in items))[-1]
        items = [(t, c) for t, c in items if c >= cut]
    items.sort(key=_by_count)
    return [t for t, _ in items[:limit]]


class Vocab:
    """A frozen token vocabulary whose first ids are the special tokens.

    ``encode`` maps out-of-vocabulary tokens to ``<unk>`` and adds them to ``oov_count``.
    """

    def __init__(self, tokens: Sequence[str]):
        tokens = list(tokens)
        if tuple(tokens[: len(SPECIALS)]) != SPECIALS:
            raise PipelineError(f"a vocabulary must start with the special tokens {list(SPECIALS)}, got {tokens[:4]}")
        self.itos: list[str] = tokens
        self.stoi: dict[str, int] = {token: i for i, token in enumerate(tokens)}
        if len(self.stoi) != len(tokens):
            raise PipelineError("a vocabulary cannot hold the same token twice")
        self.oov_count = 0

    @classmethod
    def build(
        cls, token_lists: Iterable[Sequence[str]], min_freq: int = 1, max_size: int | None = None
    ) -> Vocab:
        """Build from train token lists: tokens seen at least ``min_freq`` times, most frequent first, ties by token.

        ``max_size`` counts the special tokens too. Raises DataError when no token list is given.
        """
        token_lists = token_lists if isinstance(token_lists, (list, tuple)) else list(token_lists)
        if not token_lists:
            raise DataError("cannot build a vocabulary from an empty corpus: the train split has no examples")
        if any(isinstance(tokens, str) for tokens in token_lists):
            raise TypeError("Vocab.build takes an iterable of token lists, not of strings; wrap each text's tokens in a list")
        counts: Counter[str] = Counter(itertools.chain.from_iterable(token_lists))
        for special in SPECIALS:
            counts.pop(special, None)
        kept = _frequent(counts, min_freq, None if max_size is None else max(0, max_size - len(SPECIALS)))
        vocab = cls(list(SPECIALS) + kept)
        vocab.counts = {t: counts[t] for t in kept}
        return vocab

    def extended(self, token_lists: Iterable[Sequence[str]], min_freq: int) -> Vocab:
        """This vocabulary plus the new tokens of ``token_lists`` seen at least ``min_freq`` times, most frequent
        first after the existing ones: existing ids never change."""
        counts: Counter[str] = Counter(t for t in itertools.chain.from_iterable(token_lists) if t not in self.stoi)
        new = _frequent(counts, min_freq)
        vocab = type(self)(self.itos + new)
        vocab.counts = {**getattr(self, "counts", {}), **{t: 0 for t in new}}   # train counts: unseen in train
        return vocab

    def __len__(self) -> int:
        return len(self.itos)

    def __contains__(self, token: str) -> bool:
        return token in self.stoi

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Vocab) and self.itos == other.itos

    def encode(self, tokens: Sequence[str]) -> list[int]:
        """Ids for tokens; unknown tokens become ``<unk>`` (id 1) and are counted in ``oov_count``."""
        get = self.stoi.get
        ids = [get(token, UNK_ID) for token in tokens]
        unknown = ids.count(UNK_ID)
        if unknown:
            literal = tokens.count(UNK) if isinstance(tokens, (list, tuple)) else list(tokens).count(UNK)
            self.oov_count += unknown - literal   # a literal "<unk>" in the text is not OOV
        return ids

    def decode(self, ids: Iterable[int], skip_special: bool = False) -> list[str]:
        """Tokens for ids; with ``skip_special`` the pad/unk/bos/eos tokens are dropped."""
        out = []
        for i in ids:
            i = int(i)
            if not 0 <= i < len(self.itos):
                raise IndexError(f"id {i} is outside the vocabulary (size {len(self.itos)})")
            if skip_special and i < len(SPECIALS):
                continue
            out.append(self.itos[i])
        return out

    def unknown(self, tokens: Sequence[str]) -> list[str]:
        """The tokens this vocabulary does not know."""
        return [token for token in tokens if token not in self.stoi]

    def save(self, path: str | Path) -> None:
        atomic_write_json(path, self.itos)

    @classmethod
    def load(cls, path: str | Path) -> Vocab:
        return cls(_read_token_list(Path(path), "vocabulary"))


class LabelVocab:
    """Label names <-> ids with no ``<unk>``: an unknown label raises an error that names it."""

    def __init__(self, labels: Sequence[str]):
        self.itos: list[str] = [str(label) for label in labels]
        self.stoi: dict[str, int] = {label: i for i, label in enumerate(self.itos)}
        if len(self.stoi) != len(self.itos):
            raise PipelineError("a label vocabulary cannot hold the same label twice")

    @classmethod
    def build(cls, labels: Iterable[str], order: Sequence[str] | None = None) -> LabelVocab:
        """Labels in ``order`` when given (e.g. topic names), else sorted; numbers sort numerically."""
        found = {str(label) for label in labels}
        if order is not None:
            extra = found - set(map(str, order))
            if extra:
                raise DataError(f"labels {sorted(extra)[:5]} are not among the declared labels {list(order)[:10]}")
            return cls(list(map(str, order)))
        if not found:
            raise DataError("no labels found: the train split is empty or has no label field")

        def key(label: str):
            try:
                return (0, float(label), label)
            except ValueError:
                return (1, 0.0, label)

        return cls(sorted(found, key=key))

    def __len__(self) -> int:
        return len(self.itos)

    def __contains__(self, label: object) -> bool:
        return str(label) in self.stoi

    def encode(self, labels: Sequence[str], where: str = "") -> list[int]:
        out = []
        for label in labels:
            try:
                out.append(self.stoi[str(label)])
            except KeyError:
                at = f"{where}: " if where else ""
                known = ", ".join(self.itos[:12]) + (" ..." if len(self.itos) > 12 else "")
                raise DataError(
                    f"{at}unknown label {str(label)!r}; the model knows only: {known}. "
                    "Check the label column, or retrain with this label in the train data"
                ) from None
        return out

    def decode(self, ids: Iterable[int]) -> list[str]:
        return [self.itos[int(i)] for i in ids]

    def save(self, path: str | Path) -> None:
        atomic_write_json(path, self.itos)

    @classmethod
    def load(cls, path: str | Path) -> LabelVocab:
        return cls(_read_token_list(Path(path), "labels"))


def one_hot(ids, num_classes: int):
    """One-hot vectors for ids (the course's 'hello' input): a (..., num_classes) float tensor.

    Takes a list, numpy array or tensor of ints; raises ValueError for an id outside ``[0, num_classes)``.
    """
    import torch

    ids = torch.as_tensor(ids, dtype=torch.long)
    if ids.numel() and (int(ids.min()) < 0 or int(ids.max()) >= num_classes):
        raise ValueError(f"ids must lie in [0, {num_classes}); got {int(ids.min())}..{int(ids.max())}")
    return torch.nn.functional.one_hot(ids, num_classes).float()

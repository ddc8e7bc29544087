"""One interface for the three embeddings of the course: learned, one-hot and word2vec.

Every embedding module maps ids ``(B, T)`` long to vectors ``(B, T, D)`` float and has an attribute ``dim`` (D),
so a model never branches on the kind. word2vec is the learned embedding whose weight the caller fills at build
time from :func:`align_vectors` (``embedding.weight.data.copy_(matrix)``): the vectors then live in the model's
own weights, and a saved model never needs gensim (or the vector file) to load.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from textrnn.errors import ConfigError, DataError
from textrnn.layers import dropout
from textrnn.vocab import PAD_ID, SPECIALS, UNK_ID

KINDS = ("learned", "onehot", "word2vec")


@dataclass
class EmbeddingConfig:
    kind: str = "learned"        # "learned" | "onehot" | "word2vec"
    dim: int = 100               # ignored for onehot (dim = vocab size)
    freeze: bool = False         # word2vec: keep the vectors fixed
    dropout: float = 0.0
    word_dropout: float = 0.0    # in training, replace each word by <unk> with this probability: the model learns to
                                 # read unknown words from their context and characters (Lample et al. 2016)
    # word2vec training settings (used only at build time by word2vec_vectors)
    window: int = 5
    min_count: int = 1
    epochs: int = 5
    negative: int = 5
    workers: int = 1             # gensim's threads: with more than one, the vectors (and so the model) differ run to
                                 # run whatever the seed, since the threads' order is the OS's
    vectors_path: str | None = None   # a word2vec text/binary file or gensim KeyedVectors file instead of training


class LearnedEmbedding(nn.Embedding):
    """``nn.Embedding(vocab_size, dim, padding_idx=0)`` with optional dropout on its output.

    A subclass rather than a wrapper, so ``.weight`` is where the word2vec caller expects it and the state dict
    holds a single ``weight`` tensor.
    """

    def __init__(self, vocab_size: int, dim: int, dropout: float = 0.0, freeze: bool = False, word_dropout: float = 0.0):
        super().__init__(vocab_size, dim, padding_idx=PAD_ID)
        self.dim = dim
        self.dropout = dropout
        self.word_dropout = word_dropout
        self.weight.requires_grad_(not freeze)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        vectors = super().forward(drop_words(ids, self.word_dropout, self.training))   # (B, T, D)
        return dropout(vectors, self.dropout, self.training) if self.dropout > 0 else vectors

    def extra_repr(self) -> str:
        return (super().extra_repr() + (f", dropout={self.dropout}" if self.dropout > 0 else "")
                + (f", word_dropout={self.word_dropout}" if self.word_dropout > 0 else ""))


def drop_words(ids: torch.Tensor, rate: float, training: bool) -> torch.Tensor:
    """In training, each word id (not padding or another special) becomes ``<unk>`` with probability ``rate``."""
    if not training or rate <= 0:
        return ids
    words = ids >= len(SPECIALS)
    return ids.masked_fill(words & (torch.rand(ids.shape, device=ids.device) < rate), UNK_ID)


class OneHotEmbedding(nn.Module):
    """Fixed one-hot vectors: ``dim = vocab_size``, no parameters, and the pad id maps to the zero vector."""

    def __init__(self, vocab_size: int, dropout: float = 0.0, word_dropout: float = 0.0):
        super().__init__()
        self.vocab_size = vocab_size
        self.dim = vocab_size
        self.dropout = dropout
        self.word_dropout = word_dropout

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        ids = drop_words(ids, self.word_dropout, self.training)
        vectors = F.one_hot(ids, self.vocab_size).float()               # (B, T, V)
        vectors = vectors * (ids != PAD_ID).unsqueeze(-1)                # the pad row is zero
        return dropout(vectors, self.dropout, self.training) if self.dropout > 0 else vectors

    def extra_repr(self) -> str:
        return f"{self.vocab_size}" + (f", dropout={self.dropout}" if self.dropout > 0 else "")


def build_embedding(config: EmbeddingConfig, vocab_size: int) -> nn.Module:
    """The embedding module for ``config.kind``: ``(B, T)`` long ids -> ``(B, T, D)`` float, with ``.dim``.

    ``learned``: trainable ``nn.Embedding`` (pad row zero); ``onehot``: fixed, ``dim = vocab_size``;
    ``word2vec``: the learned embedding (frozen when ``config.freeze``) whose weight the caller copies from
    :func:`align_vectors`. Raises ConfigError for an unknown kind or a non-positive size.
    """
    if config.kind not in KINDS:
        raise ConfigError(f"embedding.kind must be one of {', '.join(KINDS)}, got {config.kind!r}")
    if not 0.0 <= config.dropout < 1.0:
        raise ConfigError(f"embedding.dropout must lie in [0, 1), got {config.dropout}")
    if not 0.0 <= config.word_dropout < 1.0:
        raise ConfigError(f"embedding.word_dropout must lie in [0, 1), got {config.word_dropout}")
    if vocab_size < 1:
        raise ConfigError(f"the vocabulary must hold at least one token, got {vocab_size}")
    if config.kind == "onehot":
        return OneHotEmbedding(vocab_size, config.dropout, config.word_dropout)
    if config.dim < 1:
        raise ConfigError(f"embedding.dim must be at least 1, got {config.dim}")
    freeze = config.freeze and config.kind == "word2vec"
    return LearnedEmbedding(vocab_size, config.dim, config.dropout, freeze=freeze, word_dropout=config.word_dropout)


def _load_vectors(path: Path):
    from gensim.models import KeyedVectors

    if not path.exists():
        raise DataError(f"{path}: no such vector file; fix embedding.vectors_path or leave it out to train word2vec "
                        "on the corpus")
    name = path.name.lower()
    try:
        if name.endswith((".bin", ".bin.gz")):
            return KeyedVectors.load_word2vec_format(str(path), binary=True)
        if name.endswith((".txt", ".vec", ".txt.gz", ".vec.gz")):
            return KeyedVectors.load_word2vec_format(str(path), binary=False)
        return KeyedVectors.load(str(path))
    except Exception as error:  # gensim raises many kinds (ValueError, UnpicklingError, UnicodeDecodeError...)
        raise DataError(f"{path}: not a readable word2vec file ({type(error).__name__}: {error}); use .bin for the "
                        "binary word2vec format, .txt/.vec for the text format, or a gensim KeyedVectors.save file") from None


def word2vec_vectors(token_lists, config: EmbeddingConfig, extra_token_lists=None, seed: int = 0):
    """Word vectors as gensim ``KeyedVectors``: loaded from ``config.vectors_path`` when set, else trained.

    Loading: ``.bin`` -> binary word2vec format, ``.txt``/``.vec`` -> text word2vec format, anything else ->
    ``KeyedVectors.load``. Training: gensim 4's skip-gram ``Word2Vec`` on ``token_lists`` plus ``extra_token_lists``
    (more unlabelled text) with the config's ``dim``, ``window``, ``min_count``, ``negative``, ``epochs`` and
    ``workers``, seeded with ``seed`` (bit-for-bit repeatable with ``workers=1``, the default).
    Raises DataError for an unreadable file or an empty corpus.
    """
    if config.vectors_path:
        return _load_vectors(Path(config.vectors_path))
    from gensim.models import Word2Vec

    sentences = [list(tokens) for tokens in token_lists if len(tokens)]
    if extra_token_lists:
        sentences += [list(tokens) for tokens in extra_token_lists if len(tokens)]
    if not sentences:
        raise DataError("word2vec needs text to train on, but every token list is empty")
    model = Word2Vec(sentences=sentences, vector_size=config.dim, window=config.window, min_count=config.min_count,
                     sg=1, negative=config.negative, workers=max(1, config.workers),
                     epochs=config.epochs, seed=seed)
    if len(model.wv) == 0:
        raise DataError(f"word2vec kept no word: every word occurs fewer than min_count={config.min_count} times; "
                        "lower embedding.min_count")
    return model.wv


def align_vectors(vocab, keyed_vectors, dim: int, seed: int = 0) -> tuple[torch.Tensor, dict]:
    """A ``(len(vocab), dim)`` float matrix of word vectors in vocabulary order, and a coverage report.

    Each token takes its exact vector, else the vector of its lower-cased form; every other row (the specials
    ``<unk>``, ``<bos>``, ``<eos>`` included) is drawn from N(mean, std) of the known vectors, per dimension,
    with ``seed``. The pad row (id 0) is zero. The report: ``vocab_size`` (tokens other than the four specials),
    ``vocab_covered`` (``exact + lowercase``), ``vocab_coverage`` (their share), ``exact``, ``lowercase`` and,
    when the vocabulary knows its train counts (``vocab.counts``), ``token_coverage``: the share of train token
    occurrences whose token has a vector. Raises ConfigError when the vectors are not ``dim``-dimensional.
    """
    if keyed_vectors.vector_size != dim:
        raise ConfigError(f"the word vectors have {keyed_vectors.vector_size} dimensions but embedding.dim is {dim}; "
                          f"set embedding.dim={keyed_vectors.vector_size}")
    known = torch.tensor(np.asarray(keyed_vectors.vectors), dtype=torch.float32)   # (N, dim), a copy
    if len(known) == 0:
        raise DataError("the word vectors are empty")
    mean = known.mean(0)
    std = known.std(0) if len(known) > 1 else torch.full((dim,), float(known.abs().mean()) or 1.0)
    generator = torch.Generator().manual_seed(seed)
    matrix = mean + std * torch.randn(len(vocab), dim, generator=generator)
    index = keyed_vectors.key_to_index
    rows, sources, covered = [], [], set()
    exact = lowercase = 0
    for i, token in enumerate(vocab.itos[len(SPECIALS):], start=len(SPECIALS)):
        if token in index:
            key, exact = token, exact + 1
        elif token.lower() in index:
            key, lowercase = token.lower(), lowercase + 1
        else:
            continue
        rows.append(i)
        sources.append(index[key])
        covered.add(token)
    if rows:
        matrix[torch.tensor(rows)] = known[torch.tensor(sources)]
    matrix[PAD_ID] = 0.0
    size = len(vocab) - len(SPECIALS)
    report = {"vocab_size": size, "vocab_covered": exact + lowercase,
              "vocab_coverage": (exact + lowercase) / size if size else 0.0, "exact": exact, "lowercase": lowercase}
    counts = getattr(vocab, "counts", None)
    if counts:
        total = sum(counts.values())
        report["token_coverage"] = sum(c for t, c in counts.items() if t in covered) / total if total else 0.0
    return matrix, report


def nearest_neighbours(embedding_weight: torch.Tensor, vocab, words, k: int = 5) -> dict[str, list[tuple[str, float]]]:
    """The ``k`` nearest tokens to each word by cosine similarity, best first, as ``(token, similarity)``.

    The word itself and the special tokens are excluded (so the list shows neighbours, not the word).
    Raises ValueError for a word the vocabulary does not hold.
    """
    weight = embedding_weight.detach().float().cpu()
    unit = F.normalize(weight, dim=1)                                 # (V, D); zero rows stay zero
    out: dict[str, list[tuple[str, float]]] = {}
    for word in words:
        if word not in vocab.stoi:
            raise ValueError(f"{word!r} is not in the vocabulary; pick words that occur in the training data")
        row = vocab.stoi[word]
        similarity = unit @ unit[row]                                 # (V,)
        similarity[: len(SPECIALS)] = -float("inf")
        similarity[row] = -float("inf")
        count = min(k, max(0, len(vocab) - len(SPECIALS) - 1))
        values, ids = similarity.topk(count)
        out[word] = [(vocab.itos[int(i)], float(v)) for v, i in zip(values, ids, strict=True)]
    return out

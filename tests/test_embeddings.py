"""Embeddings: one interface for learned, one-hot and word2vec; vector alignment, coverage and neighbours."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from gensim.models import KeyedVectors

from textrnn.embeddings import (
    EmbeddingConfig,
    LearnedEmbedding,
    align_vectors,
    build_embedding,
    nearest_neighbours,
    word2vec_vectors,
)
from textrnn.errors import ConfigError, DataError
from textrnn.vocab import Vocab

CORPUS = [["the", "cat", "sat", "on", "the", "mat"], ["the", "dog", "sat", "on", "the", "log"],
          ["a", "cat", "and", "a", "dog"], ["Paris", "is", "in", "France"]] * 5


def keyed(words: dict[str, list[float]]) -> KeyedVectors:
    vectors = KeyedVectors(vector_size=len(next(iter(words.values()))))
    vectors.add_vectors(list(words), np.array(list(words.values()), dtype=np.float32))
    return vectors


def test_learned_embedding():
    embedding = build_embedding(EmbeddingConfig(dim=6), 10)
    assert isinstance(embedding, torch.nn.Embedding) and embedding.dim == 6 and embedding.padding_idx == 0
    out = embedding(torch.tensor([[3, 0]]))
    assert out.shape == (1, 2, 6) and float(out[0, 1].detach().abs().sum()) == 0.0
    assert embedding.weight.requires_grad


def test_onehot_embedding_is_fixed_and_pads_with_zeros():
    embedding = build_embedding(EmbeddingConfig(kind="onehot", dim=999), 5)
    assert embedding.dim == 5 and not list(embedding.parameters()) and not embedding.state_dict()
    out = embedding(torch.tensor([[2, 4, 0]]))
    assert out.tolist() == [[[0, 0, 1, 0, 0], [0, 0, 0, 0, 1], [0, 0, 0, 0, 0]]]


def test_word2vec_embedding_is_learned_and_freezes():
    frozen = build_embedding(EmbeddingConfig(kind="word2vec", dim=4, freeze=True), 7)
    assert isinstance(frozen, LearnedEmbedding) and not frozen.weight.requires_grad
    assert build_embedding(EmbeddingConfig(kind="word2vec", dim=4), 7).weight.requires_grad
    assert build_embedding(EmbeddingConfig(kind="learned", dim=4, freeze=True), 7).weight.requires_grad  # word2vec only


def test_embedding_dropout_only_in_training():
    embedding = build_embedding(EmbeddingConfig(dim=50, dropout=0.5), 4)
    ids = torch.tensor([[1, 2, 3]])
    embedding.eval()
    torch.testing.assert_close(embedding(ids), torch.nn.functional.embedding(ids, embedding.weight))
    embedding.train()
    assert bool((embedding(ids) == 0).any())


@pytest.mark.parametrize("kind", ["learned", "onehot"])
def test_word_dropout_turns_words_into_unk_in_training_only(kind):
    embedding = build_embedding(EmbeddingConfig(kind=kind, dim=8, word_dropout=0.5), 40)
    ids = torch.tensor([[0, 1, 2, 3] + list(range(4, 40)) * 50])     # specials first, then 1,800 words
    embedding.eval()
    reference = embedding(ids)
    embedding.train()
    out = embedding(ids)
    unk = embedding(torch.full_like(ids, 1))
    replaced = (out == unk).all(-1)[0]
    assert not replaced[[0, 2, 3]].any()                          # padding, <bos> and <eos> are never dropped
    assert 0.4 < replaced[4:].float().mean() < 0.6                # about half the words became <unk>
    kept = ~replaced
    kept[:4] = True
    torch.testing.assert_close(out[0, kept], reference[0, kept])  # the rest are untouched


def test_bad_kinds_name_the_key():
    with pytest.raises(ConfigError, match="embedding.kind"):
        build_embedding(EmbeddingConfig(kind="glove"), 10)
    with pytest.raises(ConfigError, match="embedding.dropout"):
        build_embedding(EmbeddingConfig(dropout=1.5), 10)
    with pytest.raises(ConfigError, match="embedding.word_dropout"):
        build_embedding(EmbeddingConfig(word_dropout=1.0), 10)


def test_align_vectors_exact_then_lowercase():
    vocab = Vocab.build([["Paris", "berlin", "rome", "zzz", "Rome", "berlin"]])
    vectors = keyed({"paris": [1.0, 0.0, 0.0], "berlin": [0.0, 2.0, 0.0], "rome": [0.0, 0.0, 3.0],
                     "Rome": [4.0, 4.0, 4.0], "unused": [1.0, 1.0, 1.0]})
    matrix, report = align_vectors(vocab, vectors, 3, seed=1)
    assert matrix.shape == (len(vocab), 3)
    assert matrix[0].tolist() == [0.0, 0.0, 0.0]                                # the pad row
    assert matrix[vocab.stoi["Paris"]].tolist() == [1.0, 0.0, 0.0]              # lower-case match
    assert matrix[vocab.stoi["berlin"]].tolist() == [0.0, 2.0, 0.0]
    assert matrix[vocab.stoi["Rome"]].tolist() == [4.0, 4.0, 4.0]               # exact wins over lower case
    assert matrix[vocab.stoi["rome"]].tolist() == [0.0, 0.0, 3.0]
    assert report == {"vocab_size": 5, "vocab_covered": 4, "vocab_coverage": 0.8, "exact": 3, "lowercase": 1,
                      "token_coverage": 5 / 6}                                  # berlin twice, zzz once
    again, _ = align_vectors(vocab, vectors, 3, seed=1)
    torch.testing.assert_close(again, matrix)                                    # the random rows are seeded
    unk_row = matrix[vocab.stoi["zzz"]]
    assert float(unk_row.abs().sum()) > 0 and bool(torch.isfinite(unk_row).all())
    loaded = Vocab(vocab.itos)                                                   # a loaded vocabulary has no counts
    assert "token_coverage" not in align_vectors(loaded, vectors, 3)[1]
    with pytest.raises(ConfigError, match="embedding.dim=3"):
        align_vectors(vocab, vectors, 5)


def test_word2vec_trains_and_fills_a_model_embedding():
    config = EmbeddingConfig(kind="word2vec", dim=8, epochs=2, workers=1, min_count=1)
    vocab = Vocab.build(CORPUS)
    vectors = word2vec_vectors(CORPUS, config, extra_token_lists=[["rome", "is", "in", "italy"]], seed=3)
    assert vectors.vector_size == 8 and "italy" in vectors.key_to_index and "Paris" in vectors.key_to_index
    matrix, report = align_vectors(vocab, vectors, 8)
    assert report["vocab_coverage"] == 1.0 and report["token_coverage"] == 1.0 and report["lowercase"] == 0
    embedding = build_embedding(config, len(vocab))
    embedding.weight.data.copy_(matrix)
    torch.testing.assert_close(embedding(torch.tensor([[vocab.stoi["cat"]]]))[0, 0].detach(),
                               torch.tensor(vectors["cat"]))
    with pytest.raises(DataError, match="empty"):
        word2vec_vectors([[], []], config)


@pytest.mark.parametrize("suffix", [".txt", ".vec", ".bin", ".kv"])
def test_word2vec_loads_vector_files(tmp_path, suffix):
    vectors = keyed({"oil": [1.0, 0.5], "gas": [0.9, 0.6], "bank": [-1.0, 0.2]})
    path = tmp_path / f"vectors{suffix}"
    if suffix == ".kv":
        vectors.save(str(path))
    else:
        vectors.save_word2vec_format(str(path), binary=suffix == ".bin")
    loaded = word2vec_vectors([], EmbeddingConfig(dim=2, vectors_path=str(path)))
    assert loaded.key_to_index == vectors.key_to_index
    np.testing.assert_allclose(loaded["gas"], vectors["gas"], rtol=1e-6)


def test_bad_vector_files_say_what_is_wrong(tmp_path):
    with pytest.raises(DataError, match="no such vector file"):
        word2vec_vectors([], EmbeddingConfig(vectors_path=str(tmp_path / "missing.bin")))
    broken = tmp_path / "broken.txt"
    broken.write_text("not a vector file\n", encoding="utf-8")
    with pytest.raises(DataError, match="not a readable word2vec file"):
        word2vec_vectors([], EmbeddingConfig(vectors_path=str(broken)))


def test_nearest_neighbours_excludes_the_word_and_specials():
    vocab = Vocab.build([["oil", "gas", "bank", "money"]])
    weight = torch.zeros(len(vocab), 2)
    for token, vector in {"oil": [1.0, 0.0], "gas": [0.9, 0.1], "bank": [0.0, 1.0], "money": [0.1, 0.9]}.items():
        weight[vocab.stoi[token]] = torch.tensor(vector)
    weight[1] = torch.tensor([1.0, 0.0])                                       # <unk> identical to "oil": skipped
    table = nearest_neighbours(weight, vocab, ["oil", "bank"], k=2)
    assert [w for w, _ in table["oil"]] == ["gas", "money"]
    assert [w for w, _ in table["bank"]] == ["money", "gas"]
    assert table["oil"][0][1] == pytest.approx(0.9 / np.hypot(0.9, 0.1), abs=1e-6)
    assert len(nearest_neighbours(weight, vocab, ["oil"], k=10)["oil"]) == 3
    with pytest.raises(ValueError, match="not in the vocabulary"):
        nearest_neighbours(weight, vocab, ["coal"])

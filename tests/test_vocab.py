import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from textrnn import LabelVocab, Vocab, one_hot
from textrnn.errors import DataError, PipelineError
from textrnn.vocab import BOS_ID, EOS_ID, PAD_ID, SPECIALS, UNK_ID


def test_special_ids_are_fixed():
    vocab = Vocab.build([["b", "a", "a"]])
    assert vocab.itos[:4] == list(SPECIALS)
    assert (PAD_ID, UNK_ID, BOS_ID, EOS_ID) == (0, 1, 2, 3)


def test_order_is_frequency_then_token():
    vocab = Vocab.build([["c", "b", "a"], ["b", "a"], ["a"]])
    assert vocab.itos[4:] == ["a", "b", "c"]
    tie = Vocab.build([["z", "y", "x"]])
    assert tie.itos[4:] == ["x", "y", "z"]


def test_min_freq_and_max_size():
    lists = [["a"] * 5 + ["b"] * 3 + ["c"]]
    assert Vocab.build(lists, min_freq=2).itos[4:] == ["a", "b"]
    assert Vocab.build(lists, max_size=5).itos[4:] == ["a"]


def test_oov_maps_to_unk_and_is_counted():
    vocab = Vocab.build([["a", "b"]])
    assert vocab.encode(["a", "zzz", "b", "qq"]) == [vocab.stoi["a"], UNK_ID, vocab.stoi["b"], UNK_ID]
    assert vocab.oov_count == 2
    assert vocab.unknown(["a", "zzz"]) == ["zzz"]


def test_rejects_strings_instead_of_token_lists():
    with pytest.raises(TypeError, match="token lists"):
        Vocab.build(["abc", "def"])


def test_empty_corpus_is_a_clear_error():
    with pytest.raises(DataError, match="empty"):
        Vocab.build([])


def test_save_load_roundtrip(tmp_path):
    vocab = Vocab.build([["hello", "world", "\n", " "]])
    vocab.save(tmp_path / "vocab.json")
    assert Vocab.load(tmp_path / "vocab.json") == vocab


@pytest.mark.parametrize("content", ['{"a": 1}', "[1, 2]", "not json", '["<pad>", "<unk>", "<bos>", "<eos>", "a", "a"]'])
def test_load_refuses_bad_files(tmp_path, content):
    path = tmp_path / "vocab.json"
    path.write_text(content)
    with pytest.raises(PipelineError, match="vocab"):
        Vocab.load(path)


def test_label_vocab_unknown_label_is_an_error():
    labels = LabelVocab.build(["pos", "neg", "pos"])
    assert labels.itos == ["neg", "pos"]
    with pytest.raises(DataError, match="unknown label 'meh'.*neg, pos"):
        labels.encode(["meh"], where="test.jsonl:3")


def test_label_vocab_numbers_sort_numerically_and_mixed_types_are_strings():
    labels = LabelVocab.build([10, "2", 1, "earn"])
    assert labels.itos == ["1", "2", "10", "earn"]
    assert labels.encode([2, "2"]) == [1, 1]


def test_declared_label_order_is_kept(tmp_path):
    labels = LabelVocab.build(["b"], order=["a", "b", "c"])
    assert labels.itos == ["a", "b", "c"]
    labels.save(tmp_path / "labels.json")
    assert json.loads((tmp_path / "labels.json").read_text()) == ["a", "b", "c"]


def test_one_hot():
    vectors = one_hot([0, 2, 1], 3)
    assert vectors.tolist() == [[1, 0, 0], [0, 0, 1], [0, 1, 0]]
    with pytest.raises(ValueError):
        one_hot([3], 3)


@given(st.lists(st.lists(st.text(min_size=1, max_size=5), max_size=8), min_size=1, max_size=8))
def test_encode_decode_roundtrip(token_lists):
    vocab = Vocab.build(token_lists)
    for tokens in token_lists:
        decoded = vocab.decode(vocab.encode(tokens))
        assert decoded == [t if t in vocab else "<unk>" for t in tokens]
    assert Vocab.build(token_lists) == vocab  # the same corpus always gives the same ids


@given(st.lists(st.lists(st.sampled_from("abcdefgh"), max_size=12), min_size=1, max_size=6),
       st.integers(1, 3), st.integers(4, 14))
def test_max_size_keeps_a_prefix_of_the_full_order(token_lists, min_freq, max_size):
    """The sort over only the most frequent tokens (a speed-up) keeps exactly the first tokens of the full order,
    ties included."""
    full = Vocab.build(token_lists, min_freq=min_freq)
    cut = Vocab.build(token_lists, min_freq=min_freq, max_size=max_size)
    assert cut.itos == full.itos[:max_size]


def test_literal_unk_is_not_counted_as_oov_for_any_sequence():
    vocab = Vocab.build([["a"]])
    vocab.encode(["<unk>", "zz"])
    vocab.encode(("<unk>", "a"))
    assert vocab.oov_count == 1


def test_extended_adds_frequent_new_tokens_after_the_existing_ids():
    vocab = Vocab.build([["a", "b", "a"]])
    bigger = vocab.extended([["c", "d", "c", "a"], ["e", "d", "c"]], min_freq=2)
    assert bigger.itos == vocab.itos + ["c", "d"]          # "e" is seen once; "a" is already there
    assert all(bigger.stoi[t] == vocab.stoi[t] for t in vocab.itos)
    assert bigger.counts == {"a": 2, "b": 1, "c": 0, "d": 0}

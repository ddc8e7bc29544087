import torch
from hypothesis import given
from hypothesis import strategies as st

from textrnn.encode import bucket_batches, lm_streams, lm_windows, mask, pad
from textrnn.textual import truncate


def test_pad_lengths_and_mask():
    ids, lengths = pad([[5, 6, 7], [8], []])
    assert ids.tolist() == [[5, 6, 7], [8, 0, 0], [0, 0, 0]]
    assert lengths.tolist() == [3, 1, 0]
    assert mask(lengths).tolist() == [[True, True, True], [True, False, False], [False, False, False]]


def test_truncation_policies():
    ids = list(range(10))
    assert truncate(ids, 4, "head") == [0, 1, 2, 3]
    assert truncate(ids, 4, "tail") == [6, 7, 8, 9]
    assert truncate(ids, 6, "head+tail") == [0, 1, 6, 7, 8, 9]
    ids, lengths = pad([list(range(1, 20))], max_len=5)
    assert lengths.tolist() == [5]


@given(st.lists(st.integers(0, 50), min_size=1, max_size=200), st.integers(1, 17), st.integers(0, 5))
def test_buckets_cover_every_example_once(lengths, batch_size, seed):
    batches = bucket_batches(lengths, batch_size, shuffle=True, seed=seed)
    flat = sorted(i for b in batches for i in b)
    assert flat == list(range(len(lengths)))
    assert all(len(b) <= batch_size for b in batches)
    assert batches == bucket_batches(lengths, batch_size, shuffle=True, seed=seed)


def test_buckets_reduce_padding():
    lengths = [1, 100] * 64
    bucketed = bucket_batches(lengths, 8, shuffle=True, seed=0)
    waste = sum(max(lengths[i] for i in b) * len(b) - sum(lengths[i] for i in b) for b in bucketed)
    assert waste == 0


def test_lm_windows_are_contiguous_and_shifted():
    streams = lm_streams(list(range(21)), 2)
    assert streams.tolist() == [list(range(10)), list(range(10, 20))]
    windows = list(lm_windows(streams, 4))
    assert [x.size(1) for x, _ in windows] == [4, 4, 1]
    joined = torch.cat([x for x, _ in windows], dim=1)
    assert joined.tolist() == [list(range(9)), list(range(10, 19))]
    for x, y in windows:
        assert (y - x).eq(1).all()


def test_batch_counts_tokens_not_rows():
    import torch

    from textrnn.encode import Batch

    assert Batch(ids=torch.zeros(4, 32, dtype=torch.long), targets=torch.zeros(4, 32, dtype=torch.long)).num_tokens() == 128
    assert Batch(ids=torch.zeros(2, 5, dtype=torch.long), lengths=torch.tensor([5, 3])).num_tokens() == 8
    assert Batch(inputs=torch.zeros(3, 100, 2), targets=torch.zeros(3)).num_tokens() == 300


def test_a_stream_too_short_for_the_batch_names_the_fix():
    import pytest

    from textrnn.encode import lm_streams
    from textrnn.errors import DataError

    with pytest.raises(DataError, match=r"56 tokens, too few for 32 rows.*train.batch_size=28"):
        lm_streams(list(range(56)), 32)

"""Greedy and beam search against brute-force enumeration on a tiny model with a tiny vocabulary: a beam wide
enough to keep every hypothesis finds the best sequence, with or without length normalization; narrower beams,
greedy search, lengths, empty sources and attention keep their contracts."""
from __future__ import annotations

import itertools
import math

import pytest
import torch

from textrnn.models.seq2seq import Seq2Seq, Seq2SeqConfig, decoder_inputs
from textrnn.search import beam_search, greedy, length_penalty, max_lengths
from textrnn.vocab import EOS_ID, PAD_ID, UNK_ID

# the target vocabulary: <pad> <unk> <bos> <eos> and two words; the search may emit <unk>, 4, 5 and <eos>
SRC, TGT = 9, 6
WORDS = (UNK_ID, 4, 5)


@pytest.fixture(autouse=True)
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def tiny(seed: int, **overrides) -> Seq2Seq:
    torch.manual_seed(seed)
    settings = {"src_embed_dim": 5, "tgt_embed_dim": 4, "hidden_dim": 6, "encoder_layers": 1, "decoder_layers": 1,
                "dropout": 0.0, **overrides}
    model = Seq2Seq(Seq2SeqConfig(**settings), SRC, TGT).eval()
    with torch.no_grad():                 # sharper distributions than the default init, so the search matters
        model.output.weight.mul_(6.0)
        model.output.bias.uniform_(-1.0, 1.0)
    return model


def sources() -> tuple[torch.Tensor, torch.Tensor]:
    ids = torch.tensor([[4, 5, 6, 7], [8, 4, 0, 0], [5, 0, 0, 0]])
    return ids, torch.tensor([4, 2, 1])


def logprob(model: Seq2Seq, src: torch.Tensor, length: torch.Tensor, ids: list[int]) -> float:
    """The teacher-forced log-probability of ids + <eos> for one source."""
    targets = torch.tensor([ids + [EOS_ID]])
    with torch.no_grad():
        logits, _ = model(src[None], length[None], decoder_inputs(targets))
    return float(torch.log_softmax(logits.double(), -1)[0, torch.arange(len(ids) + 1), targets[0]].sum())


def brute_force(model: Seq2Seq, src: torch.Tensor, length: torch.Tensor, limit: int, alpha: float):
    """Every output of up to ``limit`` words, scored as the search ranks them: (best ids, its score)."""
    best = None
    for n in range(limit + 1):
        for ids in itertools.product(WORDS, repeat=n):
            score = logprob(model, src, length, list(ids)) / length_penalty(n + 1, alpha)
            if best is None or score > best[1]:
                best = (list(ids), score)
    return best


@pytest.mark.parametrize("seed,alpha,feeding", [(0, 0.0, True), (1, 0.6, True), (2, 1.0, False), (3, 0.0, False)])
def test_a_wide_beam_finds_what_brute_force_finds(seed, alpha, feeding):
    model = tiny(seed, input_feeding=feeding)
    src, lengths = sources()
    a, b = 0.0, 3.0                                           # every sentence may have up to 3 words
    found = beam_search(model, src, lengths, beam_size=200, alpha=alpha, max_len_a=a, max_len_b=b)
    for row in range(len(src)):
        ids, score = brute_force(model, src[row], lengths[row], 3, alpha)
        assert found[row].ids == ids
        assert math.isclose(found[row].score, score, rel_tol=1e-4, abs_tol=1e-4)


def test_brute_force_is_not_greedy_here():
    """The fixture is hard enough that the search matters: greedy misses the best sequence of some sentence."""
    misses = 0
    for seed in range(4):
        model = tiny(seed)
        src, lengths = sources()
        quick = greedy(model, src, lengths, max_len_a=0.0, max_len_b=3.0)
        misses += sum(quick[row].ids != brute_force(model, src[row], lengths[row], 3, 0.0)[0] for row in range(3))
    assert misses > 0


@pytest.mark.parametrize("beam_size", [1, 2, 4])
def test_every_beam_scores_its_output_exactly(beam_size):
    model = tiny(4)
    src, lengths = sources()
    for result, row in zip(beam_search(model, src, lengths, beam_size=beam_size, alpha=0.6), range(3), strict=True):
        expected = logprob(model, src[row], lengths[row], result.ids)
        assert math.isclose(result.logprob, expected, rel_tol=1e-4, abs_tol=1e-4)
        assert math.isclose(result.score, expected / length_penalty(len(result.ids) + 1, 0.6), rel_tol=1e-4)


def test_a_beam_of_one_is_greedy_search():
    model = tiny(5, input_feeding=True)
    src, lengths = sources()
    quick, beam = greedy(model, src, lengths), beam_search(model, src, lengths, beam_size=1, alpha=0.0)
    assert [r.ids for r in quick] == [r.ids for r in beam]
    for q, b in zip(quick, beam, strict=True):
        assert math.isclose(q.logprob, b.logprob, rel_tol=1e-5, abs_tol=1e-5)


def test_lengths_follow_the_source_and_are_never_exceeded():
    model = tiny(6)
    with torch.no_grad():
        model.output.bias[EOS_ID] = -50.0                    # the model never wants to stop
    src, lengths = sources()
    assert max_lengths(lengths, 1.5, 1.0) == [7, 4, 2]
    for search in (lambda: greedy(model, src, lengths, 1.5, 1.0),
                   lambda: beam_search(model, src, lengths, 3, 0.6, 1.5, 1.0)):
        assert [len(r.ids) for r in search()] == [7, 4, 2]


def test_an_empty_source_gives_an_empty_translation_beside_others():
    model = tiny(7)
    src, lengths = sources()
    src[1], lengths[1] = PAD_ID, 0
    for results in (greedy(model, src, lengths), beam_search(model, src, lengths, beam_size=3)):
        assert results[1].ids == [] and results[1].attention.shape == (0, 0)
        assert results[0].attention.shape == (len(results[0].ids) + 1, 4)


def test_attention_covers_each_token_and_the_source_only():
    model = tiny(8)
    src, lengths = sources()
    for results in (greedy(model, src, lengths), beam_search(model, src, lengths, beam_size=3)):
        for result, length in zip(results, lengths.tolist(), strict=True):
            assert result.attention.shape == (len(result.ids) + 1, length)
            assert abs(result.attention.sum(1) - 1).max() < 1e-5


def test_pad_and_bos_are_never_generated():
    model = tiny(9)
    with torch.no_grad():
        model.output.bias[PAD_ID] = model.output.bias[2] = 50.0
    src, lengths = sources()
    for results in (greedy(model, src, lengths), beam_search(model, src, lengths, beam_size=3)):
        assert all(PAD_ID not in r.ids and 2 not in r.ids for r in results)


def test_the_model_mode_is_restored_and_bad_settings_raise():
    model = tiny(10).train()
    src, lengths = sources()
    beam_search(model, src, lengths, beam_size=2)
    assert model.training
    with pytest.raises(ValueError, match="beam_size must be at least 1"):
        beam_search(model, src, lengths, beam_size=0)
    with pytest.raises(ValueError, match="alpha must not be negative"):
        beam_search(model, src, lengths, alpha=-0.5)
    with pytest.raises(ValueError, match="must not be negative"):
        greedy(model, src, lengths, max_len_a=-1.0)

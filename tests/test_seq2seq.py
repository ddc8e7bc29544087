"""The encoder-decoder's contracts: shapes, the step-by-step decoder agrees with the teacher-forced pass, padding
never leaks (source or target), attention is a distribution over real source tokens, every parameter learns, eight
pairs can be overfitted, the fused label-smoothed loss equals PyTorch's, and bad settings are named."""
from __future__ import annotations

import itertools

import pytest
import torch
import torch.nn.functional as F

from textrnn.embeddings import EmbeddingConfig
from textrnn.errors import ConfigError
from textrnn.models.seq2seq import Seq2Seq, Seq2SeqConfig, decoder_inputs, smoothed_cross_entropy
from textrnn.vocab import BOS_ID, EOS_ID, PAD_ID

SRC, TGT = 23, 17


@pytest.fixture(autouse=True)
def _one_thread_and_seed():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    yield
    torch.set_num_threads(threads)


def tiny(**overrides) -> Seq2Seq:
    settings = {"src_embed_dim": 8, "tgt_embed_dim": 6, "hidden_dim": 10, "encoder_layers": 2, "decoder_layers": 2,
                "dropout": 0.0, **overrides}
    return Seq2Seq(Seq2SeqConfig(**settings), SRC, TGT)


def pairs(src_lengths: list[int], tgt_lengths: list[int]) -> tuple[torch.Tensor, ...]:
    """Random right-padded sources (B, S) with their lengths, and targets (B, T) = tokens + <eos>."""
    src = torch.zeros(len(src_lengths), max(src_lengths), dtype=torch.long)
    for row, n in enumerate(src_lengths):
        src[row, :n] = torch.randint(4, SRC, (n,))
    tgt = torch.zeros(len(tgt_lengths), max(tgt_lengths) + 1, dtype=torch.long)
    for row, n in enumerate(tgt_lengths):
        tgt[row, :n] = torch.randint(4, TGT, (n,))
        tgt[row, n] = EOS_ID
    return src, torch.tensor(src_lengths), tgt


VARIANTS = (list(itertools.product(["rnn", "lstm", "gru"], ["bahdanau", "dot", "general"], [True, False]))
            + [("lstm", "none", False), ("gru", "none", False)])


def test_decoder_inputs_shift_the_targets_right():
    targets = torch.tensor([[5, 6, 7, EOS_ID], [8, EOS_ID, PAD_ID, PAD_ID], [EOS_ID, PAD_ID, PAD_ID, PAD_ID]])
    assert decoder_inputs(targets).tolist() == [[BOS_ID, 5, 6, 7], [BOS_ID, 8, PAD_ID, PAD_ID],
                                                [BOS_ID, PAD_ID, PAD_ID, PAD_ID]]


@pytest.mark.parametrize("cell,attention,feeding", VARIANTS)
def test_shapes_and_the_step_decoder_agrees_with_the_teacher_forced_pass(cell, attention, feeding):
    model = tiny(cell=cell, attention=attention, input_feeding=feeding).eval()
    src, lengths, tgt = pairs([7, 4, 1], [5, 2, 0])
    tgt_in = decoder_inputs(tgt)
    with torch.no_grad():
        logits, weights, loss = model.forward_with_attention(src, lengths, tgt_in, tgt)
        memory, state = model.encode(src, lengths)
        steps = []
        for t in range(tgt_in.size(1)):
            log_probs, state, step_weights = model.decode_step(tgt_in[:, t], memory, state)
            steps.append(log_probs)
            torch.testing.assert_close(step_weights, weights[:, t], atol=1e-5, rtol=0)
    assert logits.shape == (3, tgt.size(1), TGT) and weights.shape == (3, tgt.size(1), src.size(1))
    assert loss.dim() == 0 and torch.isfinite(loss)
    real = tgt != PAD_ID
    torch.testing.assert_close(torch.stack(steps, 1)[real], torch.log_softmax(logits, -1)[real], atol=1e-5, rtol=0)


@pytest.mark.parametrize("attention", ["bahdanau", "dot", "general"])
def test_attention_is_a_distribution_over_the_real_source_tokens(attention):
    model = tiny(attention=attention).eval()
    src, lengths, tgt = pairs([6, 3, 1], [4, 4, 4])
    with torch.no_grad():
        _, weights, _ = model.forward_with_attention(src, lengths, decoder_inputs(tgt))
    torch.testing.assert_close(weights.sum(-1), torch.ones(3, tgt.size(1)))
    assert float(weights[1, :, 3:].abs().max()) == 0.0 and float(weights[2, :, 1:].abs().max()) == 0.0


@pytest.mark.parametrize("cell,attention,feeding", VARIANTS[::3])
def test_padding_never_changes_a_sentence(cell, attention, feeding):
    """A pair decoded alone and beside a longer pair (more source and target padding) gives the same logits."""
    model = tiny(cell=cell, attention=attention, input_feeding=feeding).eval()
    src, lengths, tgt = pairs([9, 3], [7, 2])
    src[1, 3:] = 5                    # loud padding: ids that would change the output if they were read
    with torch.no_grad():
        together, _ = model(src, lengths, decoder_inputs(tgt))
        alone, _ = model(src[1:, :3], lengths[1:], decoder_inputs(tgt[1:, :3]))
    torch.testing.assert_close(together[1, :3], alone[0], atol=1e-5, rtol=0)


@pytest.mark.parametrize("attention,feeding,tie", [("bahdanau", True, False), ("general", False, True),
                                                   ("dot", True, True), ("none", False, False)])
def test_every_parameter_learns(attention, feeding, tie):
    model = tiny(attention=attention, input_feeding=feeding, tie_embeddings=tie, cell="lstm", dropout=0.2).train()
    src, lengths, tgt = pairs([7, 5, 2, 6], [6, 3, 4, 5])
    _, loss = model(src, lengths, decoder_inputs(tgt), tgt)
    loss.backward()
    silent = [name for name, p in model.named_parameters() if p.grad is None or not bool(p.grad.abs().sum() > 0)]
    assert not silent, f"no gradient reached {silent}"
    assert (model.output.weight is model.tgt_embedding.weight) == tie


@pytest.mark.parametrize("cell", ["gru", "lstm"])
def test_eight_pairs_can_be_overfitted(cell):
    model = tiny(cell=cell, hidden_dim=32, label_smoothing=0.0)
    src, lengths, tgt = pairs([5, 6, 3, 7, 4, 5, 2, 6], [4, 5, 3, 6, 2, 4, 3, 5])
    optimizer = torch.optim.Adam(model.parameters(), lr=0.03)
    for _ in range(600):                                        # the LSTM needs about 400 steps, the GRU 170
        optimizer.zero_grad()
        _, loss = model(src, lengths, decoder_inputs(tgt), tgt)
        loss.backward()
        optimizer.step()
        if float(loss.detach()) < 0.05:
            break
    assert float(loss.detach()) < 0.05


def test_without_teacher_forcing_the_decoder_reads_its_own_predictions():
    """With teacher_forcing 0 in training, the reference tokens after <bos> never reach the decoder."""
    model = tiny(teacher_forcing=0.0, input_feeding=False).train()
    src, lengths, tgt = pairs([5, 4], [6, 6])
    other = tgt.clone()
    other[:, :-1] = (tgt[:, :-1] - 4 + 1) % (TGT - 4) + 4      # every real token changed
    torch.manual_seed(1)
    a, loss = model(src, lengths, decoder_inputs(tgt), tgt)
    torch.manual_seed(1)
    b, _ = model(src, lengths, decoder_inputs(other))
    torch.testing.assert_close(a, b)
    loss.backward()
    assert model.tgt_embedding.weight.grad is not None
    model.eval()                                               # evaluation is teacher-forced: the tokens matter
    with torch.no_grad():
        assert not torch.allclose(model(src, lengths, decoder_inputs(tgt))[0],
                                  model(src, lengths, decoder_inputs(other))[0])


def test_an_empty_source_gives_finite_logits():
    model = tiny().eval()
    src, lengths, tgt = pairs([4, 1], [3, 3])
    src[1], lengths[1] = PAD_ID, 0
    with torch.no_grad():
        logits, _ = model(src, lengths, decoder_inputs(tgt))
    assert bool(torch.isfinite(logits).all())


@pytest.mark.parametrize("smoothing", [0.0, 0.1, 0.3])
def test_fused_label_smoothed_loss_equals_pytorchs(smoothing):
    logits = torch.randn(9, 13, dtype=torch.float64, requires_grad=True)
    targets = torch.randint(1, 13, (9,))
    targets[[2, 5]] = PAD_ID
    ours = smoothed_cross_entropy(logits, targets, smoothing)
    theirs = F.cross_entropy(logits, targets, ignore_index=PAD_ID, label_smoothing=smoothing)
    torch.testing.assert_close(ours, theirs)
    torch.testing.assert_close(torch.autograd.grad(ours, logits)[0], torch.autograd.grad(theirs, logits)[0])


def test_loss_ignores_padded_targets():
    model = tiny().eval()
    src, lengths, tgt = pairs([5, 3], [4, 1])
    with torch.no_grad():
        _, both = model(src, lengths, decoder_inputs(tgt), tgt)
        padded = tgt.clone()
        padded[1, 2:] = PAD_ID                                  # already padding: nothing changes
        logits, again = model(src, lengths, decoder_inputs(padded), padded)
    torch.testing.assert_close(both, again)
    manual = F.cross_entropy(logits.flatten(0, 1), tgt.flatten(), ignore_index=PAD_ID, label_smoothing=0.1)
    torch.testing.assert_close(both, manual)


@pytest.mark.parametrize("overrides,message", [
    ({"cell": "transformer"}, "model.cell must be one of rnn, lstm, gru"),
    ({"attention": "luong"}, "model.attention must be one of bahdanau, dot, general"),
    ({"hidden_dim": 9}, "model.hidden_dim must be even with a bidirectional encoder"),
    ({"tie_embeddings": True, "readout_dim": 12}, "model.tie_embeddings needs model.readout_dim equal"),
    ({"teacher_forcing": 1.5}, r"model.teacher_forcing must lie in \[0, 1\]"),
    ({"encoder_layers": 0}, "model.encoder_layers must be at least 1"),
    ({"attention": "none"}, "set model.input_feeding = false"),
    ({"attention": "none", "input_feeding": False, "readout_dim": 6}, "readout_dim must be 0 or model.hidden_dim"),
    ({"embedding": EmbeddingConfig(kind="onehot")}, "model.embedding.kind must be 'learned' or 'word2vec'"),
])
def test_bad_settings_are_named(overrides, message):
    with pytest.raises(ConfigError, match=message):
        tiny(**overrides)

"""Model contracts: shapes, padding never changes a sequence's output (masked and packed paths alike), every
parameter learns, eight examples can be overfitted, LM state carries, the CRF agrees with brute force."""
from __future__ import annotations

import itertools
import math

import pytest
import torch
from torch import nn

from textrnn.embeddings import EmbeddingConfig
from textrnn.errors import ConfigError
from textrnn.models import MODELS
from textrnn.models.classifier import Classifier, ClassifierConfig, build_classifier
from textrnn.models.crf import CRF
from textrnn.models.ensemble import Ensemble
from textrnn.models.lm import LanguageModel, LMConfig
from textrnn.models.recurrent import Recurrent, reverse_within_lengths
from textrnn.models.regressor import Regressor, RegressorConfig
from textrnn.models.tagger import Tagger, TaggerConfig, TaggerEnsemble, build_tagger
from textrnn.textual import CASINGS, NUM_CASINGS, casing_class

VOCAB, TOL = 30, 1e-5
SMALL = EmbeddingConfig(dim=8)


@pytest.fixture(autouse=True)
def _seed_and_one_thread():
    # One thread: these models are tiny, and on a shared 2-core machine OpenMP threads that wait on a busy core
    # make recurrent kernels up to 100x slower.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    yield
    torch.set_num_threads(threads)


def ragged_ids(lengths: list[int], vocab: int = VOCAB) -> tuple[torch.Tensor, torch.Tensor]:
    ids = torch.zeros(len(lengths), max(lengths), dtype=torch.long)
    for row, length in enumerate(lengths):
        ids[row, :length] = torch.randint(1, vocab, (length,))
    return ids, torch.tensor(lengths)


def assert_all_learn(model: nn.Module, loss: torch.Tensor) -> None:
    """Every trainable parameter gets a non-zero gradient from one backward."""
    model.zero_grad()
    loss.backward()
    silent = [name for name, p in model.named_parameters()
              if p.requires_grad and (p.grad is None or not bool(p.grad.abs().sum() > 0))]
    assert not silent, f"no gradient reached {silent}"


def overfit(model: nn.Module, step, steps: int = 300, lr: float = 0.02, goal: float = 0.05) -> float:
    """Train on one fixed batch until the loss is below ``goal``; returns the last loss."""
    optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=lr)
    model.train()
    for _ in range(steps):
        optimizer.zero_grad()
        loss = step()
        loss.backward()
        optimizer.step()
        if float(loss.detach()) < goal:
            break
    return float(loss.detach())


# ----- Recurrent --------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_recurrent_padding_never_leaks_and_paths_agree(cell, bidirectional):
    rnn = Recurrent(cell, 5, 6, num_layers=2, bidirectional=bidirectional).eval()
    x, lengths = torch.randn(3, 9, 5), torch.tensor([9, 4, 1])
    x[1, 4:] = 7.0                                     # loud padding: it must not matter
    masked = rnn(x, lengths)
    rnn.packed = True
    packed = rnn(x, lengths)
    for a, b in zip(masked[:2], packed[:2], strict=True):
        torch.testing.assert_close(a, b, atol=TOL, rtol=0)
    assert masked[2] is None                            # ragged rows on the masked path: no state to carry
    h_packed = packed[2][0] if cell == "lstm" else packed[2]
    for row, length in enumerate(lengths.tolist()):
        for path in (False, True):
            rnn.packed = path
            outputs, last, state = rnn(x[row:row + 1, :length])
            torch.testing.assert_close(outputs[0], masked[0][row, :length], atol=TOL, rtol=0)
            torch.testing.assert_close(last[0], masked[1][row], atol=TOL, rtol=0)
            h = state[0] if cell == "lstm" else state
            torch.testing.assert_close(h[:, 0], h_packed[:, row], atol=TOL, rtol=0)
    assert bool((masked[0][1, 4:] == 0).all()) and bool((masked[0][2, 1:] == 0).all())


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_recurrent_bidirectional_equals_torch(cell):
    """Two unidirectional modules per layer compute exactly PyTorch's bidirectional stack (state layout too)."""
    ours = Recurrent(cell, 4, 5, num_layers=2, bidirectional=True).eval()
    theirs = getattr(nn, cell.upper())(4, 5, num_layers=2, bidirectional=True, batch_first=True).eval()
    with torch.no_grad():
        for layer in range(2):
            for suffix, module in (("", ours.forward_layers[layer]), ("_reverse", ours.backward_layers[layer])):
                for kind in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
                    getattr(theirs, f"{kind}_l{layer}{suffix}").copy_(getattr(module, f"{kind}_l0"))
    x, lengths = torch.randn(3, 6, 4), torch.tensor([6, 3, 2])
    outputs, _, state = ours(x)
    expected, expected_state = theirs(x)
    torch.testing.assert_close(outputs, expected, atol=TOL, rtol=0)
    torch.testing.assert_close(state, expected_state, atol=TOL, rtol=0)
    packed = nn.utils.rnn.pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
    expected, _ = nn.utils.rnn.pad_packed_sequence(theirs(packed)[0], batch_first=True, total_length=6)
    torch.testing.assert_close(ours(x, lengths)[0], expected, atol=TOL, rtol=0)


def test_reverse_within_lengths_is_its_own_inverse():
    x = torch.arange(12.0).view(2, 6, 1)
    flipped = reverse_within_lengths(x, torch.tensor([6, 3]))
    assert flipped[1, :, 0].tolist() == [8.0, 7.0, 6.0, 9.0, 10.0, 11.0]
    torch.testing.assert_close(reverse_within_lengths(flipped, torch.tensor([6, 3])), x)


def test_recurrent_state_carries_and_is_not_stored():
    rnn = Recurrent("lstm", 3, 4, num_layers=2).eval()
    x = torch.randn(2, 8, 3)
    whole, _, state = rnn(x)
    first, _, middle = rnn(x[:, :5])
    second, _, end = rnn(x[:, 5:], state=middle)
    torch.testing.assert_close(torch.cat([first, second], 1), whole, atol=TOL, rtol=0)
    torch.testing.assert_close(end, state, atol=TOL, rtol=0)
    assert not any(isinstance(v, torch.Tensor) for v in vars(rnn).values())
    zeros = rnn.initial_state(2)
    torch.testing.assert_close(rnn(x, state=zeros)[0], whole)


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_single_step_path_equals_the_fused_kernel(cell):
    rnn = Recurrent(cell, 5, 7, num_layers=2).eval()
    x = torch.randn(3, 1, 5)
    state = rnn.initial_state(3)
    state = tuple(torch.randn_like(s) for s in state) if cell == "lstm" else torch.randn_like(state)
    fused_out, _, fused_state = rnn(x, None, state)                     # gradients on: the training path
    with torch.inference_mode():
        step_out, _, step_state = rnn(x, None, state)                  # one step without gradients: _cpu_step
        first_out, _, _ = rnn(x, None, None)
    torch.testing.assert_close(step_out, fused_out.detach(), atol=1e-5, rtol=1e-5)
    for ours, theirs in zip(step_state if cell == "lstm" else (step_state,),
                            fused_state if cell == "lstm" else (fused_state,), strict=True):
        torch.testing.assert_close(ours, theirs.detach(), atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(first_out, rnn(x)[0].detach(), atol=1e-5, rtol=1e-5)


def test_recurrent_inits_and_single_bias():
    orthogonal = Recurrent("lstm", 3, 6, init="orthogonal")
    for block in orthogonal.rnn.weight_hh_l0.detach().chunk(4, 0):
        torch.testing.assert_close(block @ block.T, torch.eye(6), atol=1e-5, rtol=0)
    identity = Recurrent("rnn", 3, 6, init="identity")
    torch.testing.assert_close(identity.rnn.weight_hh_l0.detach(), torch.eye(6))
    assert float(identity.rnn.bias_ih_l0.detach().abs().sum()) == 0.0
    single = Recurrent("rnn", 3, 6, num_layers=2, bidirectional=True, single_bias=True)
    frozen = [n for n, p in single.named_parameters() if not p.requires_grad]
    assert frozen and all(".bias_hh" in n for n in frozen) and len(frozen) == 4
    outputs, _, _ = single(torch.randn(2, 5, 3), torch.tensor([5, 2]))
    assert_all_learn(single, outputs.pow(2).sum())
    assert all(p.grad is None and float(p.detach().abs().sum()) == 0 for p in single.parameters() if not p.requires_grad)
    gru = Recurrent("gru", 3, 6, single_bias=True)                     # the GRU's two biases are not redundant
    assert all(p.requires_grad for p in gru.parameters())
    keras = Recurrent("lstm", 3, 6, num_layers=2, init="keras")
    recurrent = keras.rnn.weight_hh_l1.detach()                              # (4H, H): Keras's (H, 4H) kernel
    torch.testing.assert_close(recurrent.T @ recurrent, torch.eye(6), atol=1e-5, rtol=0)
    bias = keras.rnn.bias_ih_l0.detach()
    assert bias[6:12].eq(1).all() and bias[:6].eq(0).all() and bias[12:].eq(0).all()   # forget gate only
    assert float(keras.rnn.bias_hh_l0.detach().abs().sum()) == 0.0
    gru_keras = Recurrent("gru", 3, 6, init="keras")
    assert float(gru_keras.rnn.bias_ih_l0.detach().abs().sum()) == 0.0
    with pytest.raises(ConfigError, match="cell"):
        Recurrent("transformer", 3, 6)
    with pytest.raises(ConfigError, match="init"):
        Recurrent("rnn", 3, 6, init="zeros")


def test_chrono_init_spreads_the_memory_gates_over_the_given_steps():
    lstm = Recurrent("lstm", 3, 200, num_layers=2, bidirectional=True, init="chrono", chrono_steps=100)
    for layer in lstm.forward_layers:
        bias = layer.bias_ih_l0.detach()
        forget, inputs = bias[200:400], bias[:200]
        assert forget.min() >= 0 and forget.max() <= math.log(99) + 1e-6 and forget.std() > 0.5
        torch.testing.assert_close(inputs, -forget)
        assert bias[400:].eq(0).all()                                     # cell and output gates as in Keras
    gru = Recurrent("gru", 3, 50, init="chrono", chrono_steps=10)
    update = gru.rnn.bias_ih_l0.detach()[50:100]
    assert update.min() >= 0 and update.max() <= math.log(9) + 1e-6
    assert gru.rnn.bias_ih_l0.detach()[:50].eq(0).all()
    Recurrent("rnn", 3, 6, init="chrono", chrono_steps=10)               # no gates: Keras's init
    with pytest.raises(ConfigError, match="chrono_steps"):
        Recurrent("lstm", 3, 6, init="chrono")


# ----- Classifier -------------------------------------------------------------------------------------------------

CLASSIFIERS = {
    "last": dict(),
    "gru-bi-max+mean": dict(cell="gru", bidirectional=True, pooling="max+mean"),
    "conv-lstm": dict(conv_channels=6, conv_kernel=3, pool_size=2, pooling="last+max"),
    "conv-even-bi": dict(conv_channels=5, conv_kernel=4, pool_size=3, bidirectional=True, num_layers=2, pooling="mean"),
    "rnn-head": dict(cell="rnn", head_dim=7, num_layers=2),
}


@pytest.mark.parametrize("name", list(CLASSIFIERS))
@pytest.mark.parametrize("packed", [False, True])
def test_classifier_padding_does_not_change_logits(name, packed):
    config = ClassifierConfig(embedding=SMALL, hidden_dim=8, packed=packed, **CLASSIFIERS[name])
    model = Classifier(config, VOCAB, 3).eval()
    ids, lengths = ragged_ids([11, 6, 2, 1])
    logits, loss = model(ids, lengths)
    assert logits.shape == (4, 3) and loss is None
    for row, length in enumerate(lengths.tolist()):
        alone, _ = model(ids[row:row + 1, :length], lengths[row:row + 1])
        torch.testing.assert_close(alone[0], logits[row], atol=TOL, rtol=0)
    model.rnn.packed = not packed
    torch.testing.assert_close(model(ids, lengths)[0], logits, atol=TOL, rtol=0)


@pytest.mark.parametrize("name", list(CLASSIFIERS))
def test_classifier_every_parameter_learns(name):
    model = Classifier(ClassifierConfig(embedding=SMALL, hidden_dim=8, **CLASSIFIERS[name]), VOCAB, 3)
    ids, lengths = ragged_ids([11, 6, 2, 5])
    _, loss = model(ids, lengths, torch.tensor([0, 1, 2, 1]))
    assert loss.dim() == 0
    assert_all_learn(model, loss)


def test_classifier_overfits_eight_examples():
    config = ClassifierConfig(embedding=SMALL, hidden_dim=16, bidirectional=True, pooling="max+mean",
                              conv_channels=8, conv_kernel=3, pool_size=2, label_smoothing=0.0)
    model = Classifier(config, VOCAB, 4)
    ids, lengths = ragged_ids([12, 9, 7, 7, 5, 4, 3, 10])
    targets = torch.tensor([0, 1, 2, 3, 0, 1, 2, 3])
    assert overfit(model, lambda: model(ids, lengths, targets)[1]) < 0.05
    model.eval()
    assert model(ids, lengths)[0].argmax(1).tolist() == targets.tolist()


def test_classifier_class_weights_and_smoothing():
    ids, lengths = ragged_ids([5, 3])
    targets = torch.tensor([0, 1])
    base = Classifier(ClassifierConfig(embedding=SMALL, hidden_dim=8), VOCAB, 2).eval()
    weighted = Classifier(ClassifierConfig(embedding=SMALL, hidden_dim=8, class_weights=[1.0, 3.0],
                                           label_smoothing=0.1), VOCAB, 2).eval()
    weighted.load_state_dict(base.state_dict())                  # the weights are not saved state
    logits = base(ids, lengths)[0]
    expected = nn.functional.cross_entropy(logits, targets, weight=torch.tensor([1.0, 3.0]), label_smoothing=0.1)
    torch.testing.assert_close(weighted(ids, lengths, targets)[1], expected)
    with pytest.raises(ConfigError, match="class_weights"):
        Classifier(ClassifierConfig(class_weights=[1.0]), VOCAB, 2)
    with pytest.raises(ConfigError, match="pooling"):
        Classifier(ClassifierConfig(pooling="attention"), VOCAB, 2)


def test_ensemble_averages_its_members_probabilities_and_losses():
    config = ClassifierConfig(embedding=SMALL, hidden_dim=8, bidirectional=True, pooling="max+mean", members=3)
    model = build_classifier(config, VOCAB, 4).eval()
    assert isinstance(model, Ensemble) and len(model.members) == 3
    first, second = (dict(m.named_parameters())["output.weight"] for m in model.members[:2])
    assert not torch.equal(first, second)                       # each member starts from its own weights
    ids, lengths = ragged_ids([9, 4, 1])
    targets = torch.tensor([0, 3, 1])
    output, loss = model(ids, lengths, targets)
    alone = [member(ids, lengths, targets) for member in model.members]
    mean = torch.stack([torch.softmax(logits, -1) for logits, _ in alone]).mean(0)
    torch.testing.assert_close(torch.softmax(output, -1), mean, atol=TOL, rtol=0)
    torch.testing.assert_close(loss, torch.stack([member_loss for _, member_loss in alone]).mean())
    model.train()
    assert_all_learn(model, model(ids, lengths, targets)[1])
    assert isinstance(build_classifier(ClassifierConfig(embedding=SMALL), VOCAB, 2), Classifier)
    with pytest.raises(ConfigError, match="members"):
        build_classifier(ClassifierConfig(members=0), VOCAB, 2)


# ----- Tagger and CRF ---------------------------------------------------------------------------------------------

def char_ids(lengths: list[int], char_vocab: int = 12) -> torch.Tensor:
    """(B, T, W) left-aligned character ids: 1..5 characters per real word, zeros elsewhere."""
    words = [[int(torch.randint(1, 6, ())) for _ in range(length)] for length in lengths]
    chars = torch.zeros(len(lengths), max(lengths), 5, dtype=torch.long)
    for row, sizes in enumerate(words):
        for col, size in enumerate(sizes):
            chars[row, col, :size] = torch.randint(1, char_vocab, (size,))
    return chars


TAGGERS = {
    "plain": dict(),
    "gru-uni-2": dict(cell="gru", bidirectional=False, num_layers=2),
    "cnn-chars-casing-crf": dict(char_dim=4, char_encoder="cnn", char_hidden=6, casing_dim=3, crf=True),
    "lstm-chars": dict(char_dim=4, char_encoder="lstm", char_hidden=3, char_kernel=3),
}


def tagger_inputs(model: Tagger, lengths: list[int]) -> tuple[torch.Tensor, torch.Tensor, dict]:
    ids, lengths_tensor = ragged_ids(lengths)
    extra = {}
    if model.chars is not None:
        extra["chars"] = char_ids(lengths)
    if model.casing is not None:
        extra["casing"] = torch.where(ids > 0, torch.randint(1, NUM_CASINGS, ids.shape), 0)
    return ids, lengths_tensor, extra


def _cut(extra: dict, row: int, length: int) -> dict:
    out = {}
    for key, value in extra.items():
        value = value[row:row + 1, :length]
        if key == "chars":
            value = value[..., : max(1, int((value > 0).sum(-1).max()))]    # alone: only as wide as its longest word
        out[key] = value
    return out


@pytest.mark.parametrize("name", list(TAGGERS))
@pytest.mark.parametrize("packed", [False, True])
def test_tagger_padding_does_not_change_emissions(name, packed):
    config = TaggerConfig(embedding=SMALL, hidden_dim=8, char_vocab_size=12, packed=packed, **TAGGERS[name])
    model = Tagger(config, VOCAB, 5).eval()
    ids, lengths, extra = tagger_inputs(model, [8, 5, 1])
    logits, _ = model(ids, lengths, **extra)
    assert logits.shape == (3, 8, 5)
    paths = model.decode(ids, lengths, **extra)
    assert [len(p) for p in paths] == lengths.tolist()
    for row, length in enumerate(lengths.tolist()):
        alone = _cut(extra, row, length)
        single, _ = model(ids[row:row + 1, :length], lengths[row:row + 1], **alone)
        torch.testing.assert_close(single[0], logits[row, :length], atol=TOL, rtol=0)
        assert model.decode(ids[row:row + 1, :length], lengths[row:row + 1], **alone)[0] == paths[row]
    model.rnn.packed = not packed
    torch.testing.assert_close(model(ids, lengths, **extra)[0], logits, atol=TOL, rtol=0)


@pytest.mark.parametrize("name", list(TAGGERS))
def test_tagger_every_parameter_learns_and_padding_never_counts(name):
    model = Tagger(TaggerConfig(embedding=SMALL, hidden_dim=8, char_vocab_size=12, **TAGGERS[name]), VOCAB, 5)
    ids, lengths, extra = tagger_inputs(model, [7, 4, 2])
    targets = torch.randint(0, 5, ids.shape)
    model.eval()                                                     # (no dropout here; eval for a fixed loss)
    _, loss = model(ids, lengths, targets, **extra)
    changed = targets.clone()
    changed[1, 4:], changed[2, 2:] = 4 - changed[1, 4:], 4 - changed[2, 2:]
    torch.testing.assert_close(model(ids, lengths, changed, **extra)[1], loss)
    model.train()
    _, loss = model(ids, lengths, targets, **extra)
    assert_all_learn(model, loss)


@pytest.mark.parametrize("crf", [False, True])
def test_tagger_overfits_eight_sentences(crf):
    model = Tagger(TaggerConfig(embedding=SMALL, hidden_dim=16, casing_dim=2, crf=crf), VOCAB, 4)
    ids, lengths = ragged_ids([9, 8, 7, 6, 5, 4, 3, 2])
    casing = torch.where(ids > 0, 1, 0)
    targets = torch.where(ids > 0, ids % 4, 0)
    loss = overfit(model, lambda: model(ids, lengths, targets, casing=casing)[1], goal=0.05)
    assert loss < 0.05 * (9 if crf else 1)                       # the CRF loss is per sentence, not per token
    model.eval()
    predicted = model.decode(ids, lengths, casing=casing)
    assert predicted == [targets[row, :n].tolist() for row, n in enumerate(lengths.tolist())]


@pytest.mark.parametrize("crf", [False, True])
def test_tagger_ensemble_decodes_from_its_members_mean(crf):
    config = TaggerConfig(embedding=SMALL, hidden_dim=6, casing_dim=2, crf=crf, members=2)
    model = build_tagger(config, VOCAB, 4).eval()
    assert isinstance(model, TaggerEnsemble) and isinstance(build_tagger(TaggerConfig(embedding=SMALL), VOCAB, 4), Tagger)
    ids, lengths = ragged_ids([7, 3, 1])
    casing = torch.where(ids > 0, 1, 0)
    targets = torch.where(ids > 0, ids % 4, 0)
    output, loss = model(ids, lengths, targets, casing=casing)
    alone = [member(ids, lengths, targets, casing=casing) for member in model.members]
    torch.testing.assert_close(loss, (alone[0][1] + alone[1][1]) / 2)
    mean = (torch.softmax(alone[0][0], -1) + torch.softmax(alone[1][0], -1)) / 2
    torch.testing.assert_close(torch.softmax(output, -1), mean, atol=TOL, rtol=0)
    paths = model.decode(ids, lengths, casing=casing)
    if crf:   # one CRF holding the members' mean scores, over their mean emissions
        joint = CRF(4)
        with torch.no_grad():
            for name in ("transitions", "start", "end"):
                getattr(joint, name).copy_((getattr(model.members[0].crf, name) + getattr(model.members[1].crf, name)) / 2)
        mask = torch.arange(ids.size(1))[None] < lengths[:, None]
        emissions = sum(m.emissions(ids, lengths, casing=casing) for m in model.members) / 2
        assert paths == joint.viterbi(emissions, mask)
    else:
        assert paths == [row[:n] for row, n in zip(mean.argmax(-1).tolist(), lengths.tolist(), strict=True)]


def test_tagger_needs_its_features():
    model = Tagger(TaggerConfig(embedding=SMALL, hidden_dim=4, char_dim=3, char_vocab_size=9), VOCAB, 3)
    with pytest.raises(ValueError, match="chars"):
        model(*ragged_ids([3]))
    with pytest.raises(ConfigError, match="char_vocab_size"):
        Tagger(TaggerConfig(char_dim=3), VOCAB, 3)


@torch.no_grad()
def _brute_force(crf: CRF, emissions: torch.Tensor, length: int) -> tuple[torch.Tensor, list[int], dict]:
    """log Z, the best path and every path's score, by enumerating all tag sequences of one row."""
    transitions, start, end = crf.scores()
    scores = {}
    for path in itertools.product(range(crf.num_tags), repeat=length):
        s = start[path[0]] + end[path[-1]] + sum(emissions[t, path[t]] for t in range(length))
        s = s + sum(transitions[path[t - 1], path[t]] for t in range(1, length))
        scores[path] = s
    values = torch.stack(list(scores.values()))
    return torch.logsumexp(values, 0), list(max(scores, key=lambda p: float(scores[p]))), scores


@pytest.mark.parametrize("constrained", [False, True])
def test_crf_matches_brute_force(constrained):
    names = ["O", "B-PER", "I-PER", "B-LOC"]
    crf = CRF(len(names))
    with torch.no_grad():
        crf.transitions.normal_()
        crf.start.normal_()
        crf.end.normal_()
    if constrained:
        crf.constrain_iob2(names)
    emissions = torch.randn(3, 4, len(names))
    lengths = torch.tensor([4, 2, 1])
    mask = torch.arange(4)[None] < lengths[:, None]
    tags = torch.randint(0, len(names), (3, 4))
    with torch.no_grad():
        likelihood = crf.log_likelihood(emissions, tags, mask)
        paths = crf.viterbi(emissions, mask)
    for row, length in enumerate(lengths.tolist()):
        log_z, best, scores = _brute_force(crf, emissions[row], length)
        gold = tuple(tags[row, :length].tolist())
        torch.testing.assert_close(likelihood[row], scores[gold] - log_z, atol=1e-4, rtol=1e-6)
        assert paths[row] == best
        if constrained:
            assert "I-PER" != names[best[0]]
            for a, b in zip(best, best[1:], strict=False):
                assert not (names[b] == "I-PER" and names[a] not in ("B-PER", "I-PER"))


def test_crf_constraints_are_saved():
    crf = CRF(3)
    crf.constrain_iob2(["O", "B-X", "I-X"])
    assert crf.allowed_transitions.tolist() == [[True, True, False], [True, True, True], [True, True, True]]
    assert crf.allowed_start.tolist() == [True, True, False]
    again = CRF(3)
    again.load_state_dict(crf.state_dict())
    assert torch.equal(again.allowed_transitions, crf.allowed_transitions)
    crf4 = CRF(4)
    crf4.constrain_iob2(["B-X", "I-X", "B-Y", "I-Y"])
    assert not bool(crf4.allowed_transitions[0, 3]) and not bool(crf4.allowed_transitions[1, 3])
    assert bool(crf4.allowed_transitions[2, 3]) and bool(crf4.allowed_transitions[3, 3])


def test_casing_classes():
    cases = {"house": "lower", "나는": "lower", "NATO": "upper", "U.S.": "upper", "Paris": "title",
             "iPhone": "mixed", "McDonald": "mixed", "1984": "numeric", "3.14": "numeric", "1,000": "numeric",
             "A4": "contains_digit", "2nd": "contains_digit", ",": "other", "--": "other"}
    for token, name in cases.items():
        assert CASINGS[casing_class(token)] == name, token
    assert NUM_CASINGS == 8 and CASINGS[0] == "pad"


# ----- Language model ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_lm_state_carry_equals_whole_sequence(cell):
    model = LanguageModel(LMConfig(embedding=SMALL, cell=cell, hidden_dim=8, num_layers=2), VOCAB).eval()
    ids = torch.randint(1, VOCAB, (2, 10))
    whole, _, state = model(ids)
    first, _, middle = model(ids[:, :6])
    second, _, end = model(ids[:, 6:], state=LanguageModel.detach_state(middle))
    torch.testing.assert_close(torch.cat([first, second], 1), whole, atol=TOL, rtol=0)
    torch.testing.assert_close(end, state, atol=TOL, rtol=0)
    torch.testing.assert_close(model(ids, state=model.init_state(2, "cpu"))[0], whole)


def test_lm_loss_ignores_padding_and_ragged_rows_are_exact():
    model = LanguageModel(LMConfig(embedding=SMALL, hidden_dim=8, num_layers=1), VOCAB).eval()
    ids, lengths = ragged_ids([7, 4])
    targets = ids.roll(-1, 1) * (ids > 0)
    targets[:, -1] = 0
    logits, loss, _ = model(ids, lengths, targets)
    keep = targets > 0
    expected = nn.functional.cross_entropy(logits[keep], targets[keep])
    torch.testing.assert_close(loss, expected)
    alone, _, _ = model(ids[1:, :4])
    torch.testing.assert_close(alone[0], logits[1, :4], atol=TOL, rtol=0)


@pytest.mark.parametrize("embed_dim", [8, 12])
def test_lm_tied_weights_learn_and_overfit(embed_dim):
    config = LMConfig(embedding=EmbeddingConfig(dim=embed_dim, dropout=0.1), hidden_dim=12, num_layers=2,
                      dropout=0.1, tie_weights=True, output_dropout=0.1)
    model = LanguageModel(config, VOCAB)
    assert model.output.weight is model.embedding.weight
    assert (model.projection is None) == (embed_dim == 12)
    ids = torch.randint(1, VOCAB, (8, 6))
    targets = torch.randint(1, VOCAB, (8, 6))
    _, loss, _ = model(ids, None, targets)
    assert_all_learn(model, loss)
    model.embedding.dropout = 0.0
    model.rnn.dropout = 0.0
    model.dropout.p = 0.0
    model.rnn.rnn.dropout = 0.0
    assert overfit(model, lambda: model(ids, None, targets)[1], lr=0.03, goal=0.1) < 0.1


def test_lm_tie_needs_a_matrix():
    with pytest.raises(ConfigError, match="tie_weights"):
        LanguageModel(LMConfig(embedding=EmbeddingConfig(kind="onehot"), tie_weights=True), VOCAB)


# ----- Regressor --------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("mode,shape", [("many_to_one", (3, 2)), ("many_to_many", (3, 7, 2)), ("repeat", (3, 4, 2))])
@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_regressor_shapes_gradients_and_padding(mode, shape, cell):
    config = RegressorConfig(input_dim=3, output_dim=2, cell=cell, hidden_dim=6, mode=mode, horizon=4,
                             bidirectional=mode == "many_to_many")
    model = Regressor(config).eval()
    x, lengths = torch.randn(3, 7, 3), torch.tensor([7, 5, 2])
    predictions, _ = model(x, lengths)
    assert predictions.shape == shape
    for row, length in enumerate(lengths.tolist()):
        alone, _ = model(x[row:row + 1, :length])
        expected = predictions[row, :length] if mode == "many_to_many" else predictions[row]
        torch.testing.assert_close(alone[0], expected, atol=TOL, rtol=0)
    model.rnn.packed = True
    torch.testing.assert_close(model(x, lengths)[0], predictions, atol=TOL, rtol=0)
    _, loss = model(x, lengths, torch.randn(*shape))
    assert_all_learn(model, loss)


def test_regressor_losses_and_target_shapes():
    x, targets = torch.randn(4, 5, 1), torch.randn(4, 1)
    base = Regressor(RegressorConfig(hidden_dim=4)).eval()
    predictions, _ = base(x)
    measures = {"mse": nn.functional.mse_loss, "mae": nn.functional.l1_loss, "huber": nn.functional.huber_loss}
    for kind, measure in measures.items():
        model = Regressor(RegressorConfig(hidden_dim=4, loss=kind)).eval()
        model.load_state_dict(base.state_dict())
        _, loss = model(x, None, targets.view(4))                       # (B,) targets fit (B, 1) predictions
        torch.testing.assert_close(loss, measure(predictions, targets))
    with pytest.raises(ValueError, match="do not fit"):
        base(x, None, torch.randn(4, 2))
    with pytest.raises(ConfigError, match="mode"):
        Regressor(RegressorConfig(mode="seq2seq"))


def test_regressor_overfits_eight_sequences():
    model = Regressor(RegressorConfig(input_dim=2, hidden_dim=16, num_layers=1, cell="gru"))
    x = torch.rand(8, 10, 2)
    targets = (x[:, :, 0] * x[:, :, 1]).sum(1, keepdim=True) / 3
    assert overfit(model, lambda: model(x, None, targets)[1], steps=300, lr=0.02, goal=1e-3) < 1e-3


def test_models_registry_builds_every_model():
    assert set(MODELS) == {"classifier", "tagger", "lm", "regressor"}
    for name, (config_class, model_class) in MODELS.items():
        config = config_class()
        model = model_class(config) if name == "regressor" else (
            model_class(config, VOCAB) if name == "lm" else model_class(config, VOCAB, 3))
        assert isinstance(model, nn.Module) and math.isfinite(sum(float(p.detach().sum()) for p in model.parameters()))


def test_dropout_keeps_the_expectation_and_is_off_in_eval():
    from textrnn.layers import Dropout, dropout

    torch.manual_seed(0)
    x = torch.ones(200, 500, requires_grad=True)
    y = dropout(x, 0.3, True)
    kept = y.detach() != 0
    assert abs(float(kept.float().mean()) - 0.7) < 0.01                 # about 1 - p kept
    torch.testing.assert_close(y.detach()[kept], torch.full((int(kept.sum()),), 1 / 0.7))   # scaled by 1 / (1 - p)
    y.sum().backward()
    torch.testing.assert_close(x.grad, y.detach())                      # the gradient passes through the same mask
    assert dropout(x, 0.3, False) is x and dropout(x, 0.0, True) is x
    layer = Dropout(0.5).eval()
    assert layer(x) is x
    with pytest.raises(ValueError, match="dropout"):
        Dropout(1.5)

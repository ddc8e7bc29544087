"""The hand-written SimpleRNN and GRU layers compute PyTorch's nn.RNN / nn.GRU exactly, gradients included."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from textrnn.models import cpu_cells
from textrnn.models.recurrent import Recurrent

MODULES = {"rnn": nn.RNN, "gru": nn.GRU}


@pytest.mark.parametrize("cell", ["rnn", "gru"])
def test_layers_pass_gradcheck_in_float64(cell):
    torch.manual_seed(0)
    module = MODULES[cell](3, 4).double()
    layer = cpu_cells.LAYERS[type(module)]
    x = torch.randn(5, 2, 3, dtype=torch.double, requires_grad=True)
    h0 = torch.randn(2, 4, dtype=torch.double, requires_grad=True)
    weights = [module.weight_ih_l0, module.weight_hh_l0, module.bias_ih_l0, module.bias_hh_l0]
    assert torch.autograd.gradcheck(lambda *inputs: layer.apply(*inputs), (x, h0, *weights))
    expected, _ = module(x, h0[None])
    torch.testing.assert_close(layer.apply(x, h0, *weights), expected, atol=1e-12, rtol=0)


@pytest.mark.parametrize("cell", ["rnn", "gru"])
@pytest.mark.parametrize("steps", [1, 7])
def test_run_matches_the_module_outputs_state_and_gradients(cell, steps):
    torch.manual_seed(1)
    module = MODULES[cell](3, 5, num_layers=2, batch_first=True)
    x = torch.randn(4, steps, 3)
    state = torch.randn(2, 4, 5)
    assert cpu_cells.applies(module, x)
    results = []
    for run in (cpu_cells.run, lambda m, inputs, h: m(inputs, h)):
        module.zero_grad()
        inputs, h = x.clone().requires_grad_(), state.clone().requires_grad_()
        outputs, final = run(module, inputs, h)
        ((outputs * torch.linspace(-1, 1, 5)).sum() + final.square().sum()).backward()
        results.append([outputs, final, inputs.grad, h.grad] + [p.grad.clone() for p in module.parameters()])
    for ours, theirs in zip(*results, strict=True):
        torch.testing.assert_close(ours, theirs, atol=1e-5, rtol=1e-5)


def test_only_cpu_training_takes_them():
    x = torch.randn(2, 3, 4)
    gru, relu, lstm = nn.GRU(4, 5, batch_first=True), nn.RNN(4, 5, nonlinearity="relu"), nn.LSTM(4, 5)
    assert cpu_cells.applies(gru, x)
    assert not cpu_cells.applies(relu, x) and not cpu_cells.applies(lstm, x)
    assert not cpu_cells.applies(nn.GRU(4, 5, bias=False), x)
    with torch.no_grad():
        assert not cpu_cells.applies(gru, x)                 # inference keeps the fused kernel
    assert not cpu_cells.applies(gru, x.half()) and not cpu_cells.applies(gru, x.bfloat16())


def test_under_bf16_autocast_the_recurrence_runs_in_fp32():
    torch.manual_seed(2)
    gru = nn.GRU(4, 5, num_layers=2, batch_first=True)
    x = torch.randn(2, 3, 4)
    expected, expected_state = gru(x)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        inputs = nn.functional.linear(x, torch.eye(4))       # a bf16 activation, as autocast's layers give
        assert inputs.dtype == torch.bfloat16 and cpu_cells.applies(gru, inputs)
        outputs, state = cpu_cells.run(gru, x, None)
    assert outputs.dtype == torch.float32
    torch.testing.assert_close(outputs, expected, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(state, expected_state, atol=1e-5, rtol=1e-5)


def test_recurrent_uses_them_with_its_dropout_between_layers(monkeypatch):
    calls = []
    real = cpu_cells.run
    monkeypatch.setattr(cpu_cells, "run", lambda *args: calls.append(1) or real(*args))
    rnn = Recurrent("gru", 3, 4, num_layers=2, dropout=0.5)
    x, lengths = torch.randn(2, 6, 3), torch.tensor([6, 2])
    first, second = rnn(x, lengths)[0], rnn(x, lengths)[0]
    assert len(calls) == 2 and not torch.equal(first, second)        # training: dropout differs from call to call
    assert bool((first[1, 2:] == 0).all())                           # padding still zero on the masked path
    rnn.eval()
    torch.testing.assert_close(rnn(x, lengths)[0], rnn(x, lengths)[0])
    with torch.no_grad():
        fused = rnn(x, lengths)[0]
    assert len(calls) == 4                                            # the no-gradient call went to nn.GRU
    torch.testing.assert_close(rnn(x, lengths)[0].detach(), fused, atol=1e-5, rtol=1e-5)

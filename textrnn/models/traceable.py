"""Forward paths for the exporters (``textrnn.export``): each task model's inference over padded tensors and
lengths, with the model's own weights and the same numbers as its ``forward`` in eval mode (tested), written so that
``torch.export`` can trace them with a dynamic batch and a dynamic number of steps.

What differs from the training path, and why:

* no packed sequences (they do not export) and no Python branch on tensor values (``if lengths.max() > T``, "are
  all rows full?"): every row is masked the same way, which is the training path's masked algorithm;
* every mask, index and reversal takes its number of steps from the layer's *input*, never from an LSTM's or GRU's
  output: the ONNX exporter of torch 2.13 can record the example's length in the output's shape, and a shape read
  from there would freeze that length into the graph (pytorch/pytorch#191855);
* the SimpleRNN (``nn.RNN``) has no ONNX lowering that keeps the time axis dynamic (torch unrolls it over the
  example's steps), so it runs here as a ``scan`` over the steps, which exports as an ONNX ``Scan``; the LSTM and
  the GRU keep their fused modules, which export as ONNX ``LSTM`` and ``GRU`` nodes;
* a tagger's character encoder runs over every word, padding included, and zeroes the words without characters
  afterwards, instead of selecting the present words (a data-dependent shape).

The wrappers are ``nn.Module``s so ``torch.export`` sees the weights as parameters: ``ClassifierGraph``,
``TaggerGraph``, ``LMStepGraph`` and ``RegressorGraph``. A translator's encoder-decoder has none (its search runs
a decoder step at a time in ``textrnn.search``): its task refuses the export. Each task's ``Task.graph`` wraps its
model in one of them as a ``GraphSpec``, which ``textrnn.export`` traces and checks.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from textrnn.models.classifier import Classifier, ConvBlock
from textrnn.models.ensemble import members_of
from textrnn.models.lm import LanguageModel
from textrnn.models.recurrent import Recurrent
from textrnn.models.regressor import Regressor
from textrnn.models.tagger import CharEncoder, Tagger


@dataclass
class GraphSpec:
    """What the exporter traces for one task (``Task.graph(pipe)``): the module, the names of its inputs and
    outputs, their dynamic dimensions, a maker of random inputs for the check, and what inference needs beside the
    graph (``settings``; ``crf``: the transition, start and end scores a Viterbi decodes with)."""

    module: nn.Module                                # one of the graphs below
    input_names: list[str]
    output_names: list[str]
    dynamic: dict[str, dict[int, str]]               # input name -> {axis: dimension name}
    output_axes: dict[str, list[str | int]]          # output name -> its shape, dimension names where dynamic
    make_inputs: Callable[[np.random.Generator, int, int, int], dict[str, np.ndarray]]   # (rng, batch, steps, width)
    settings: dict = field(default_factory=dict)
    crf: dict | None = None


def random_ids(rng: np.random.Generator, batch: int, steps: int, vocab_size: int) -> tuple[np.ndarray, np.ndarray]:
    """Random right-padded ids (never a special token) and lengths, the first row full (a GraphSpec's inputs)."""
    lengths = rng.integers(1, steps + 1, size=batch)
    lengths[0] = steps
    ids = rng.integers(4, max(5, vocab_size), size=(batch, steps)).astype(np.int64)
    ids[np.arange(steps)[None, :] >= lengths[:, None]] = 0
    return ids, lengths.astype(np.int64)


def step_mask(steps_of: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """(B, T) True at real steps, T being ``steps_of.size(1)`` (a layer's input, see the module docstring)."""
    return torch.arange(steps_of.size(1), device=lengths.device)[None, :] < lengths[:, None]


def reverse_within(x: torch.Tensor, lengths: torch.Tensor, steps_of: torch.Tensor) -> torch.Tensor:
    """Each row's first ``lengths[b]`` steps of ``x`` (B, T, D) reversed, padding left in place
    (``recurrent.reverse_within_lengths`` with T taken from ``steps_of``)."""
    steps = torch.arange(steps_of.size(1), device=x.device)[None, :]            # (1, T)
    ends = lengths[:, None]                                                      # (B, 1)
    index = torch.where(steps < ends, ends - 1 - steps, steps)                   # (B, T)
    index = index.unsqueeze(-1).expand(steps_of.size(0), steps_of.size(1), x.size(2))
    return x.gather(1, index)


def _scan_rnn(module: nn.RNN, x: torch.Tensor, state: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
    """A batch-first ``nn.RNN`` over (B, T, I) as one ``scan`` per layer: outputs (B, T, H), state (L, B, H)."""
    from torch._higher_order_ops.scan import scan

    activation = torch.tanh if module.nonlinearity == "tanh" else torch.relu
    if state is None:
        state = x.new_zeros(module.num_layers, x.size(0), module.hidden_size)
    inputs, finals = x, []
    for layer in range(module.num_layers):
        w_hh = getattr(module, f"weight_hh_l{layer}")
        b_hh = getattr(module, f"bias_hh_l{layer}", None)
        driven = F.linear(inputs, getattr(module, f"weight_ih_l{layer}"),
                          getattr(module, f"bias_ih_l{layer}", None)).transpose(0, 1)   # (T, B, H)

        def step(h, drive, w_hh=w_hh, b_hh=b_hh):
            h = activation(drive + F.linear(h, w_hh, b_hh))
            return h, h.clone()                  # scan's carry and its per-step output may not alias

        final, outputs = scan(step, state[layer], driven)                        # (B, H), (T, B, H)
        inputs = outputs.transpose(0, 1)                                         # (B, T, H)
        finals.append(final)
    return inputs, torch.stack(finals)


def run_module(module: nn.Module, x: torch.Tensor, state: Any = None) -> tuple[torch.Tensor, Any]:
    """One unidirectional fused module (eval): outputs (B, T, H) and the state after the last step."""
    if isinstance(module, nn.RNN):
        return _scan_rnn(module, x, state)
    return module(x, state)


def recurrent(rnn: Recurrent, x: torch.Tensor, lengths: torch.Tensor, state: Any = None
              ) -> tuple[torch.Tensor, torch.Tensor, Any]:
    """``Recurrent.forward`` in eval mode on its masked path: outputs (B, T, D), zero past each row's end; ``last``
    (B, D); and the state, exact when every row is full (as there). ``lengths`` (B,) are at least 1."""
    if rnn.bidirectional:
        layer_input, states = x, []
        for layer, (ahead, behind) in enumerate(zip(rnn.forward_layers, rnn.backward_layers, strict=True)):
            pick = None if state is None else _layer_state(state, 2 * layer)
            forward_out, forward_state = run_module(ahead, layer_input, pick)
            pick = None if state is None else _layer_state(state, 2 * layer + 1)
            backward_out, backward_state = run_module(behind, reverse_within(layer_input, lengths, x), pick)
            layer_input = torch.cat([forward_out, reverse_within(backward_out, lengths, x)], -1)   # (B, T, 2H)
            states += [forward_state, backward_state]
        outputs, state = layer_input, _join_states(states)
    else:
        outputs, state = run_module(rnn.rnn, x, state)
    outputs = outputs.masked_fill(~step_mask(x, lengths).unsqueeze(-1), 0.0)
    rows = torch.arange(x.size(0), device=x.device)
    last = outputs[rows, lengths - 1]                                            # (B, D)
    if rnn.bidirectional:
        last = torch.cat([last[:, :rnn.hidden_dim], outputs[:, 0, rnn.hidden_dim:]], -1)
    return outputs, last, state


def _layer_state(state: Any, index: int) -> Any:
    if isinstance(state, tuple):
        return tuple(s[index:index + 1] for s in state)
    return state[index:index + 1]


def _join_states(states: list) -> Any:
    if isinstance(states[0], tuple):
        return tuple(torch.cat(parts, 0) for parts in zip(*states, strict=True))
    return torch.cat(states, 0)


def _pool(outputs: torch.Tensor, last: torch.Tensor, lengths: torch.Tensor, keep: torch.Tensor,
          pooling: str) -> torch.Tensor:
    """``classifier.pool`` with the mask given (built from the recurrent layer's input)."""
    parts = []
    for kind in pooling.split("+"):
        if kind == "last":
            parts.append(last)
        elif kind == "max":
            parts.append(outputs.masked_fill(~keep.unsqueeze(-1), float("-inf")).max(1).values)
        else:
            parts.append(outputs.sum(1) / lengths.to(outputs.dtype).clamp(min=1).unsqueeze(-1))
    return torch.cat(parts, -1)


def conv_block(block: ConvBlock, x: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``ConvBlock.forward``: (B, T, E) -> (B, ceil(T / pool_size), C) and the pooled lengths. The pooling is a
    reshape and a max over each window (PyTorch's CPU ``max_pool1d`` fixes the number of steps when traced)."""
    keep = step_mask(x, lengths).unsqueeze(-1)                                   # (B, T, 1)
    x = x.masked_fill(~keep, 0.0)
    left, right = block.pad
    if left != right:                                    # an even kernel: the extra step on the right, as Keras
        x = F.pad(x, (0, 0, left, right))
    h = F.conv1d(x.transpose(1, 2), block.conv.weight, block.conv.bias, padding=0 if left != right else left)
    h = F.relu(h.transpose(1, 2)).masked_fill(~keep, 0.0)                        # (B, T, C)
    if block.pool_size > 1:
        size = block.pool_size
        h = F.pad(h, (0, 0, 0, -h.size(1) % size))                               # zeros: neutral after ReLU
        h = h.reshape(h.size(0), h.size(1) // size, size, h.size(2)).amax(2)     # (B, ceil(T / p), C)
        lengths = (lengths + size - 1) // size
    return h, lengths.clamp(min=1)


def classifier_logits(model: Classifier, ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """``Classifier.forward(ids, lengths)[0]`` in eval mode: logits (B, C)."""
    lengths = lengths.clamp(min=1)
    x = model.embedding(ids)                                                     # (B, T, E)
    if model.conv is not None:
        x, lengths = conv_block(model.conv, x, lengths)                          # (B, T', C), lengths'
    outputs, last, _ = recurrent(model.rnn, x, lengths)                         # (B, T', D), (B, D)
    features = _pool(outputs, last, lengths, step_mask(x, lengths), model.config.pooling)
    if model.hidden is not None:
        features = F.relu(model.hidden(features))
    return model.output(features)


def char_features(encoder: CharEncoder, chars: torch.Tensor) -> torch.Tensor:
    """``CharEncoder.forward``: characters (B, T, W) -> (B, T, dim), zero for words without characters."""
    batch, steps, width = chars.shape
    flat = chars.reshape(batch * steps, width)                                   # (N, W)
    present = flat != 0
    counts = present.sum(1)                                                      # (N,)
    x = encoder.embedding(flat)                                                  # (N, W, c)
    if encoder.kind == "cnn":
        keep = present.unsqueeze(-1)
        h = encoder.conv(F.pad(x.masked_fill(~keep, 0.0).transpose(1, 2), encoder.pad)).transpose(1, 2)
        encoded = h.masked_fill(~keep, float("-inf")).max(1).values              # (N, hidden)
    else:
        _, encoded, _ = recurrent(encoder.rnn, x, counts.clamp(min=1))           # (N, 2 * hidden)
    encoded = torch.where((counts > 0).unsqueeze(-1), encoded, torch.zeros_like(encoded))
    return encoded.reshape(batch, steps, encoder.dim)


def tagger_emissions(tagger: Tagger, ids: torch.Tensor, lengths: torch.Tensor, chars: torch.Tensor | None,
                     casing: torch.Tensor | None) -> torch.Tensor:
    """``Tagger.emissions`` in eval mode: (B, T, C)."""
    lengths = lengths.clamp(min=1)
    parts = [tagger.embedding(ids)]                                              # (B, T, E)
    if tagger.chars is not None:
        parts.append(char_features(tagger.chars, chars))
    if tagger.casing is not None:
        parts.append(tagger.casing(casing))
    x = torch.cat(parts, -1)
    outputs, _, _ = recurrent(tagger.rnn, x, lengths)
    return tagger.output(outputs)


class ClassifierGraph(nn.Module):
    """ids (B, T) int64, lengths (B,) int64 -> probabilities (B, C): the softmax of one classifier's logits, or an
    ensemble's mean probability."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.members = nn.ModuleList(members_of(model))

    def forward(self, ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        probabilities = [torch.softmax(classifier_logits(m, ids, lengths).float(), -1) for m in self.members]
        return torch.stack(probabilities).mean(0)


class TaggerGraph(nn.Module):
    """ids (B, T), lengths (B,) [, chars (B, T, W)] [, casing (B, T)] -> scores (B, T, C): without a CRF the
    taggers' mean tag probabilities (decoded by argmax), with one their mean emissions (decoded by Viterbi over
    the mean transition, start and end scores, which the exporter writes beside the graph)."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.members = nn.ModuleList(members_of(model))
        self.crf = self.members[0].crf is not None

    def forward(self, ids: torch.Tensor, lengths: torch.Tensor, chars: torch.Tensor | None = None,
                casing: torch.Tensor | None = None) -> torch.Tensor:
        emissions = torch.stack([tagger_emissions(m, ids, lengths, chars, casing).float() for m in self.members])
        if self.crf:
            return emissions.mean(0)
        return torch.softmax(emissions, -1).mean(0)


class LMStepGraph(nn.Module):
    """ids (B, T) and the state (h (L, B, H) [, c (L, B, H) for the LSTM]) -> logits (B, T, V) and the state after
    the last step: a prompt in one call, then one token per call."""

    def __init__(self, model: LanguageModel):
        super().__init__()
        self.model = model
        self.lstm = model.rnn.cell == "lstm"

    def forward(self, ids: torch.Tensor, h: torch.Tensor, c: torch.Tensor | None = None):
        model = self.model
        x = model.embedding(ids)                                                 # (B, T, E)
        outputs, state = run_module(model.rnn.rnn, x, (h, c) if self.lstm else h)   # (B, T, H)
        if model.projection is not None:
            outputs = model.projection(outputs)                                  # (B, T, E)
        logits = model.output(outputs).float()                                   # (B, T, V)
        return (logits, *state) if self.lstm else (logits, state)


class RegressorGraph(nn.Module):
    """inputs (B, T, F) float -> predictions (B, O), (B, T, O) or (B, horizon, O) by the regressor's mode."""

    def __init__(self, model: Regressor):
        super().__init__()
        self.model = model

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        model = self.model
        inputs = inputs.float()
        lengths = torch.full((inputs.size(0),), inputs.size(1), dtype=torch.long, device=inputs.device)
        outputs, last, _ = recurrent(model.rnn, inputs, lengths)                 # (B, T, D), (B, D)
        if model.config.mode == "many_to_one":
            return model.output(last)
        if model.config.mode == "many_to_many":
            return model.output(outputs)
        repeated = last.unsqueeze(1).expand(-1, model.config.horizon, -1)        # (B, horizon, D)
        full = torch.full((inputs.size(0),), model.config.horizon, dtype=torch.long, device=inputs.device)
        decoded, _, _ = recurrent(model.decoder, repeated, full)
        return model.output(decoded)

"""The recurrent layer every model shares: SimpleRNN, LSTM or GRU, stacked, optionally bidirectional, exact on
batches of sequences of different lengths.

Two paths give the same numbers (tested):

* masked (default): the fused ``nn.RNN``/``nn.LSTM``/``nn.GRU`` kernels run over the whole padded batch, which
  is the fast path on CPU and on cuDNN. Padding is on the right, so a forward direction never lets padding reach
  a real position; the backward direction runs on each sequence reversed *within its length* (a gather), so its
  padding also trails. Outputs at padded positions are then set to zero.
* packed (``packed=True``): ``pack_padded_sequence`` (lengths on the CPU, ``enforce_sorted=False``), so the
  kernels stop at each row's length.

Training on the CPU (in fp32, or in fp32 inside bf16 autocast), the SimpleRNN and the GRU run through
``cpu_cells`` (a hand-written backward pass, faster than PyTorch's step-by-step autograd there) on the masked
path, with the same weights and the same numbers up to rounding.

A bidirectional stack is built from two unidirectional modules per layer (``forward_layers``,
``backward_layers``); a unidirectional stack is one fused module (``rnn``). Both paths use the same weights.
"""
from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from textrnn.errors import ConfigError
from textrnn.layers import dropout
from textrnn.models import cpu_cells

CELLS = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}
INITS = ("default", "orthogonal", "identity", "keras", "chrono")
GATES = {"rnn": 1, "lstm": 4, "gru": 3}


def _select(state: Any, index: int) -> Any:
    """Layer-direction ``index`` of a state (h or (h, c)), keeping the leading dimension."""
    if state is None:
        return None
    if isinstance(state, tuple):
        return tuple(s[index:index + 1] for s in state)
    return state[index:index + 1]


def _concat(states: list) -> Any:
    if any(s is None for s in states):
        return None
    if isinstance(states[0], tuple):
        return tuple(torch.cat(parts, 0) for parts in zip(*states, strict=True))
    return torch.cat(states, 0)


def reverse_within_lengths(x: torch.Tensor, lengths: torch.Tensor | None) -> torch.Tensor:
    """Reverse each row's first ``lengths[b]`` steps of ``x`` (B, T, ...) and leave its padding in place.

    Its own inverse. With ``lengths=None`` every row is full and this is ``x.flip(1)``.
    """
    if lengths is None:
        return x.flip(1)
    steps = torch.arange(x.size(1), device=x.device)[None, :]                # (1, T)
    lengths = lengths.to(x.device)[:, None]                                  # (B, 1)
    index = torch.where(steps < lengths, lengths - 1 - steps, steps)         # (B, T)
    index = index.view(*index.shape, *([1] * (x.dim() - 2))).expand_as(x)
    return x.gather(1, index)


def _cpu_step(module: nn.Module, x: torch.Tensor, state: Any) -> tuple[torch.Tensor, Any]:
    """One time step of a unidirectional nn.RNN/LSTM/GRU (eval, no gradients) as plain matrix products.

    Generation feeds one token at a time, and on the CPU PyTorch's fused kernel costs far more for a single step
    than the arithmetic (a 2x512 LSTM: 7.4 ms through oneDNN, 0.5 ms here; see bench/generate_speed.py). The
    equations and gate orders are PyTorch's own (LSTM i, f, g, o; GRU r, z, n), so the outputs agree.
    """
    batch, hidden = x.size(0), module.hidden_size
    if state is None:
        zeros = x.new_zeros(module.num_layers, batch, hidden)
        state = (zeros, zeros) if isinstance(module, nn.LSTM) else zeros
    h_all, c_all = state if isinstance(module, nn.LSTM) else (state, None)
    inputs, new_h, new_c = x[:, 0], [], []
    for layer in range(module.num_layers):
        w_ih, w_hh = getattr(module, f"weight_ih_l{layer}"), getattr(module, f"weight_hh_l{layer}")
        b_ih, b_hh = getattr(module, f"bias_ih_l{layer}", None), getattr(module, f"bias_hh_l{layer}", None)
        h = h_all[layer]
        from_input = F.linear(inputs, w_ih, b_ih)                          # (B, G * H)
        from_state = F.linear(h, w_hh, b_hh)                               # (B, G * H)
        if isinstance(module, nn.LSTM):
            i, f, g, o = (from_input + from_state).chunk(4, 1)
            c = torch.sigmoid(f) * c_all[layer] + torch.sigmoid(i) * torch.tanh(g)
            h = torch.sigmoid(o) * torch.tanh(c)
            new_c.append(c)
        elif isinstance(module, nn.GRU):
            r_in, z_in, n_in = from_input.chunk(3, 1)
            r_h, z_h, n_h = from_state.chunk(3, 1)
            r, z = torch.sigmoid(r_in + r_h), torch.sigmoid(z_in + z_h)
            h = (1 - z) * torch.tanh(n_in + r * n_h) + z * h
        else:
            total = from_input + from_state
            h = torch.tanh(total) if module.nonlinearity == "tanh" else torch.relu(total)
        new_h.append(h)
        inputs = h
    h_out = torch.stack(new_h)                                             # (L, B, H)
    return inputs[:, None], ((h_out, torch.stack(new_c)) if isinstance(module, nn.LSTM) else h_out)


class Recurrent(nn.Module):
    """A stack of ``num_layers`` recurrent layers of one ``cell`` ("rnn" | "lstm" | "gru").

    ``dropout`` applies between layers. ``init``: "default" (PyTorch's uniform), "orthogonal" (each gate block of
    the recurrent matrices orthogonal, a remedy for the SimpleRNN's vanishing gradients) or "identity" (each gate
    block of the recurrent matrices the identity and the biases zero, as in Le et al. 2015's IRNN; we keep tanh,
    which bounds the activations, rather than ReLU) or "keras" (Keras's defaults: Glorot-uniform input weights, an
    orthogonal recurrent matrix, zero biases and, for the LSTM, a forget-gate bias of 1, which keeps memory over
    long sequences from the first step) or "chrono" (Keras's init, then the gate biases of Tallec & Ollivier 2018's
    chrono initialisation: each unit's LSTM forget bias ``log(u)`` with ``u`` uniform in [1, chrono_steps - 1] and its
    input bias the negative, or the GRU's update bias ``log(u)``, so units keep memory over 1 to ``chrono_steps``
    steps from the start; the SimpleRNN has no gates and gets Keras's init). ``single_bias``: PyTorch's RNN and LSTM carry two bias
    vectors (``bias_ih`` and ``bias_hh``) where one suffices; with ``single_bias=True`` ``bias_hh`` is zero and
    frozen (``requires_grad=False``), so trainable counts match Keras. The GRU's two biases are not redundant
    (``bias_hh_n`` sits inside the reset gate, as in Keras's ``reset_after=True``), so the GRU keeps both.

    ``output_dim`` is ``hidden_dim * (2 if bidirectional else 1)``. State is passed in and returned, never stored.
    """

    def __init__(self, cell: str, input_dim: int, hidden_dim: int, num_layers: int = 1, bidirectional: bool = False,
                 dropout: float = 0.0, packed: bool = False, init: str = "default", single_bias: bool = False,
                 chrono_steps: int = 0):
        super().__init__()
        if cell not in CELLS:
            raise ConfigError(f"model.cell must be one of {', '.join(CELLS)}, got {cell!r}")
        if init not in INITS:
            raise ConfigError(f"model.init must be one of {', '.join(INITS)}, got {init!r}")
        if init == "chrono" and chrono_steps < 3:
            raise ConfigError(f"model.init = 'chrono' needs model.chrono_steps, the longest dependency in steps (e.g. the "
                              f"sequence length), at least 3; got {chrono_steps}")
        if hidden_dim < 1 or num_layers < 1 or input_dim < 1:
            raise ConfigError(f"recurrent sizes must be positive (input_dim={input_dim}, hidden_dim={hidden_dim}, "
                              f"num_layers={num_layers})")
        if not 0.0 <= dropout < 1.0:
            raise ConfigError(f"model.dropout must lie in [0, 1), got {dropout}")
        self.cell, self.input_dim, self.hidden_dim = cell, input_dim, hidden_dim
        self.num_layers, self.bidirectional, self.dropout, self.packed = num_layers, bidirectional, dropout, packed
        self.output_dim = hidden_dim * (2 if bidirectional else 1)
        make = CELLS[cell]
        if bidirectional:
            sizes = [input_dim] + [2 * hidden_dim] * (num_layers - 1)
            self.forward_layers = nn.ModuleList(make(size, hidden_dim, batch_first=True) for size in sizes)
            self.backward_layers = nn.ModuleList(make(size, hidden_dim, batch_first=True) for size in sizes)
        else:
            self.rnn = make(input_dim, hidden_dim, num_layers, batch_first=True,
                            dropout=dropout if num_layers > 1 else 0.0)
        self._initialise(init, chrono_steps)
        if single_bias and cell != "gru":
            for name, parameter in self.named_parameters():
                if ".bias_hh" in name:
                    nn.init.zeros_(parameter)
                    parameter.requires_grad_(False)

    def _initialise(self, init: str, chrono_steps: int = 0) -> None:
        if init == "default":
            return
        if init in ("keras", "chrono"):
            self._initialise_like_keras()
            if init == "chrono":
                self._chrono_biases(chrono_steps)
            return
        gates = GATES[self.cell]
        with torch.no_grad():
            for name, parameter in self.named_parameters():
                if ".weight_hh" in name:
                    for block in parameter.chunk(gates, 0):                  # one (H, H) block per gate
                        if init == "orthogonal":
                            nn.init.orthogonal_(block)
                        else:
                            block.copy_(torch.eye(self.hidden_dim))
                elif ".bias" in name and init == "identity":
                    parameter.zero_()

    def _initialise_like_keras(self) -> None:
        with torch.no_grad():
            for name, parameter in self.named_parameters():
                if ".weight_ih" in name:
                    nn.init.xavier_uniform_(parameter)                      # Keras: glorot_uniform on the kernel
                elif ".weight_hh" in name:
                    nn.init.orthogonal_(parameter)                          # Keras: orthogonal recurrent kernel
                elif ".bias" in name:
                    parameter.zero_()
                    if self.cell == "lstm" and ".bias_ih" in name:          # gates i, f, g, o: unit_forget_bias
                        parameter[self.hidden_dim: 2 * self.hidden_dim] = 1.0

    def _chrono_biases(self, steps: int) -> None:
        hidden = self.hidden_dim
        with torch.no_grad():
            for name, parameter in self.named_parameters():
                if ".bias_ih" not in name or self.cell == "rnn":
                    continue
                memory = torch.log(torch.empty(hidden).uniform_(1.0, steps - 1.0))
                if self.cell == "lstm":                                     # gates i, f, g, o
                    parameter[hidden: 2 * hidden] = memory
                    parameter[:hidden] = -memory
                else:                                                       # GRU gates r, z, n; h' = (1-z) n + z h
                    parameter[hidden: 2 * hidden] = memory

    def initial_state(self, batch_size: int, device: torch.device | str | None = None,
                      dtype: torch.dtype | None = None) -> Any:
        """The zero state: h (L * directions, B, H), or (h, c) for the LSTM."""
        h = torch.zeros(self.num_layers * (2 if self.bidirectional else 1), batch_size, self.hidden_dim,
                        device=device, dtype=dtype)
        return (h, h.clone()) if self.cell == "lstm" else h

    def forward(self, x: torch.Tensor, lengths: torch.Tensor | None = None, state: Any = None
                ) -> tuple[torch.Tensor, torch.Tensor, Any]:
        """Run the stack over ``x`` (B, T, I) whose row b holds ``lengths[b]`` real steps (all T when None).

        Returns ``outputs`` (B, T, D) with zeros at padded positions; ``last`` (B, D): the forward direction's
        output at each row's last real step and the backward direction's at its first step; and ``state``
        (h or (h, c), shaped (L * directions, B, H)) for carrying on. The state is exact on the packed path and
        whenever every row is full; on the masked path with rows of different lengths the fused kernels run on
        through the padding, so ``state`` is ``None`` there (use ``packed=True`` to carry state across such rows).
        A length of 0 counts as 1 (the row's single pad step), so every row has a ``last``.
        """
        if x.dim() != 3:
            raise ValueError(f"Recurrent takes (batch, steps, features) inputs, got shape {tuple(x.shape)}")
        steps = x.size(1)
        if lengths is not None:
            lengths = lengths.detach().to("cpu", torch.long).clamp(min=1)
            if int(lengths.max()) > steps:
                raise ValueError(f"a length of {int(lengths.max())} exceeds the {steps} steps of the batch")
            if bool((lengths == steps).all()):
                lengths = None                                               # every row is full: nothing to mask
        if self.bidirectional:
            outputs, state = self._bidirectional(x, lengths, state)
        else:
            outputs, state = self._run(self.rnn, x, lengths, state)
        if lengths is None:
            last = outputs[:, -1]
            if self.bidirectional:
                last = torch.cat([last[:, :self.hidden_dim], outputs[:, 0, self.hidden_dim:]], -1)
            return outputs, last, state
        device_lengths = lengths.to(x.device)
        mask = torch.arange(steps, device=x.device)[None, :] < device_lengths[:, None]     # (B, T)
        outputs = outputs.masked_fill(~mask.unsqueeze(-1), 0.0)
        rows = torch.arange(x.size(0), device=x.device)
        last = outputs[rows, device_lengths - 1]                            # (B, D)
        if self.bidirectional:
            last = torch.cat([last[:, :self.hidden_dim], outputs[:, 0, self.hidden_dim:]], -1)
        return outputs, last, state

    def _run(self, module: nn.Module, x: torch.Tensor, lengths: torch.Tensor | None, state: Any):
        """One fused module over (B, T, I): packed when asked and the rows differ in length, else masked."""
        if lengths is None:
            if x.size(1) == 1 and x.device.type == "cpu" and not module.training and not torch.is_grad_enabled():
                return _cpu_step(module, x, state)
            return cpu_cells.run(module, x, state) if cpu_cells.applies(module, x) else module(x, state)
        if self.packed:
            packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
            outputs, state = module(packed, state)
            outputs, _ = pad_packed_sequence(outputs, batch_first=True, total_length=x.size(1))
            return outputs, state
        outputs, _ = cpu_cells.run(module, x, state) if cpu_cells.applies(module, x) else module(x, state)
        return outputs, None

    def _bidirectional(self, x: torch.Tensor, lengths: torch.Tensor | None, state: Any):
        states = []
        for layer, (forward, backward) in enumerate(zip(self.forward_layers, self.backward_layers, strict=True)):
            if layer > 0 and self.dropout > 0:
                x = dropout(x, self.dropout, self.training)
            ahead, ahead_state = self._run(forward, x, lengths, _select(state, 2 * layer))
            behind, behind_state = self._run(backward, reverse_within_lengths(x, lengths), lengths,
                                             _select(state, 2 * layer + 1))
            x = torch.cat([ahead, reverse_within_lengths(behind, lengths)], -1)   # (B, T, 2H)
            states += [ahead_state, behind_state]
        return x, _concat(states)

    def extra_repr(self) -> str:
        return (f"cell={self.cell}, output_dim={self.output_dim}, packed={self.packed}"
                + (f", dropout={self.dropout}" if self.dropout > 0 else ""))

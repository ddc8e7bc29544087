"""The SimpleRNN (tanh) and GRU recurrences with a hand-written backward pass, for training on the CPU.

PyTorch's CPU kernels for ``nn.RNN`` and ``nn.GRU`` run step by step under autograd, which records every small
operation of every step and replays each in the backward pass (oneDNN has a fused kernel for the LSTM only). Here
each layer is one ``autograd.Function``: the input projections of all steps are one matrix product, each step is
a few operations writing into preallocated buffers, and the backward pass walks the steps once with the
derivatives in closed form, then forms the weight gradients of all steps in one matrix product each.

Measured on one core (32 x 100 steps, 2 layers of 30 units, forward and backward, ``bench/cells_speed.py``):
SimpleRNN 3.4 ms against ``nn.RNN``'s 5.6 ms, GRU 9.5 ms against ``nn.GRU``'s 18.7 ms. Both are exact
(``gradcheck`` in float64, tested); their backward passes are not themselves differentiable (no double backward).

The equations and weight layouts are PyTorch's (GRU gates r, z, n; ``bias_hh`` of n inside the reset gate), so a
``Recurrent`` uses its ``nn.RNN``/``nn.GRU`` weights either way and saved models are unchanged. Inputs are
time-major: ``x`` (T, B, I), ``h0`` (B, H) -> outputs (T, B, H).
"""
from __future__ import annotations

import torch
from torch import nn
from torch.autograd.function import once_differentiable


class TanhLayer(torch.autograd.Function):
    """One layer of h_t = tanh(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh)."""

    @staticmethod
    def forward(ctx, x, h0, w_ih, w_hh, b_ih, b_hh):
        steps, batch = x.size(0), x.size(1)
        pre = torch.addmm(b_ih + b_hh, x.reshape(steps * batch, -1), w_ih.t()).view(steps, batch, -1)
        out = torch.empty_like(pre)
        w = w_hh.t()
        h = h0
        for pre_t, out_t in zip(pre.unbind(0), out.unbind(0), strict=True):   # views made once, not per step
            h = torch.addmm(pre_t, h, w, out=out_t).tanh_()
        ctx.save_for_backward(x, h0, w_ih, w_hh, out)
        return out

    @staticmethod
    @once_differentiable
    def backward(ctx, grad):
        x, h0, w_ih, w_hh, out = ctx.saved_tensors
        hidden = out.size(2)
        slope = 1 - out * out                               # tanh' at every step
        dpre = grad * slope                                 # each step's own share, then the carried one below
        dh = None
        for dpre_t, slope_t in zip(reversed(dpre.unbind(0)), reversed(slope.unbind(0)), strict=True):
            if dh is not None:
                dpre_t.addcmul_(dh, slope_t)
            dh = dpre_t @ w_hh
        flat = dpre.reshape(-1, hidden)
        previous = torch.cat([h0[None], out[:-1]], 0).reshape(-1, hidden)
        d_b = flat.sum(0)
        return ((flat @ w_ih).view(x.shape), dh, flat.t() @ x.reshape(flat.size(0), -1), flat.t() @ previous,
                d_b, d_b)


class GRULayer(torch.autograd.Function):
    """One GRU layer: r, z = sigmoid(x W_i{r,z} + b_i{r,z} + h W_h{r,z} + b_h{r,z}),
    n = tanh(x W_in + b_in + r * (h W_hn + b_hn)), h' = (1 - z) * n + z * h."""

    @staticmethod
    def forward(ctx, x, h0, w_ih, w_hh, b_ih, b_hh):
        steps, batch, hidden = x.size(0), x.size(1), w_hh.size(1)
        gx = torch.addmm(b_ih, x.reshape(steps * batch, -1), w_ih.t()).view(steps, batch, 3 * hidden)
        gh = torch.empty_like(gx)                           # h W_hh^T + b_hh of every step, kept for the backward
        rz = x.new_empty(steps, batch, 2 * hidden)
        n = x.new_empty(steps, batch, hidden)
        out = torch.empty_like(n)
        w = w_hh.t()
        h = h0
        views = (gh, gx[..., :2 * hidden], gh[..., :2 * hidden], rz, gx[..., 2 * hidden:], rz[..., :hidden],
                 gh[..., 2 * hidden:], n, rz[..., hidden:], out)
        for gh_t, gx_rz, gh_rz, rz_t, gx_n, r, gh_n, n_t, z, out_t in zip(*(v.unbind(0) for v in views), strict=True):
            torch.addmm(b_hh, h, w, out=gh_t)
            torch.add(gx_rz, gh_rz, out=rz_t).sigmoid_()
            torch.addcmul(gx_n, r, gh_n, out=n_t).tanh_()
            h = torch.lerp(n_t, h, z, out=out_t)
        ctx.save_for_backward(x, h0, w_ih, w_hh, gh, rz, n, out)
        return out

    @staticmethod
    @once_differentiable
    def backward(ctx, grad):
        x, h0, w_ih, w_hh, gh, rz, n, out = ctx.saved_tensors
        steps, hidden = x.size(0), w_hh.size(1)
        r, z = rz[..., :hidden], rz[..., hidden:]
        previous = torch.cat([h0[None], out[:-1]], 0)
        to_n = (1 - z) * (1 - n * n)                        # dh -> d(pre-activation of n)
        to_z = (previous - n) * z * (1 - z)                 # dh -> d(pre-activation of z)
        to_r = gh[..., 2 * hidden:] * r * (1 - r)           # d(pre n) -> d(pre-activation of r)
        dgh = torch.empty_like(gh)                          # d(h W_hh^T + b_hh): [d pre r, d pre z, d pre n * r]
        dn = torch.empty_like(n)                            # d(pre-activation of n)
        views = (to_n, dn, to_r, dgh[..., :hidden], to_z, dgh[..., hidden:2 * hidden], r, dgh[..., 2 * hidden:], z, dgh)
        grads = grad.unbind(0)
        dh = grads[-1]
        for t, (to_n_t, dn_t, to_r_t, dr, to_z_t, dz, r_t, dn_r, z_t, dgh_t) in zip(
                range(steps - 1, -1, -1), zip(*(reversed(v.unbind(0)) for v in views), strict=True), strict=True):
            torch.mul(dh, to_n_t, out=dn_t)
            torch.mul(dn_t, to_r_t, out=dr)
            torch.mul(dh, to_z_t, out=dz)
            torch.mul(dn_t, r_t, out=dn_r)
            carry = torch.addcmul(grads[t - 1], dh, z_t) if t > 0 else dh * z_t
            dh = torch.addmm(carry, dgh_t, w_hh)
        dgx = torch.cat([dgh[..., :2 * hidden], dn], 2).reshape(-1, 3 * hidden)
        flat = dgh.reshape(-1, 3 * hidden)
        return ((dgx @ w_ih).view(x.shape), dh, dgx.t() @ x.reshape(dgx.size(0), -1), flat.t() @ previous.reshape(-1, hidden),
                dgx.sum(0), flat.sum(0))


LAYERS = {nn.GRU: GRULayer, nn.RNN: TanhLayer}


def applies(module: nn.Module, x: torch.Tensor) -> bool:
    """Whether ``run`` serves this module and input: a tanh ``nn.RNN`` or an ``nn.GRU`` with biases, in training
    with gradients on the CPU, in fp32/fp64 or under bf16 autocast (the fused kernels keep inference)."""
    dtypes = (torch.float32, torch.float64) + ((torch.bfloat16,) if torch.is_autocast_enabled("cpu") else ())
    return (type(module) in LAYERS and module.bias and getattr(module, "nonlinearity", "tanh") == "tanh"
            and not module.bidirectional and x.device.type == "cpu" and torch.is_grad_enabled() and x.dtype in dtypes)


def run(module: nn.Module, x: torch.Tensor, state: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
    """``module(x, state)`` for a batch-first ``nn.RNN``/``nn.GRU`` that ``applies``: outputs (B, T, H) and the
    final state (L, B, H), with the module's weights and its dropout between layers.

    Under bf16 autocast the recurrence runs in fp32, as autocast keeps precision-sensitive operations: at these
    sizes a step costs its dispatches, not its arithmetic, so bf16 would only lose precision (``nn.GRU`` under
    autocast was 1.4 x slower than in fp32 on the multiply shapes, measured)."""
    if torch.is_autocast_enabled("cpu"):
        with torch.autocast("cpu", enabled=False):
            return run(module, x.float(), None if state is None else state.float())
    layer_of = LAYERS[type(module)]
    inputs = x.transpose(0, 1).contiguous()                                    # (T, B, I)
    finals = []
    for layer in range(module.num_layers):
        if layer > 0 and module.dropout > 0 and module.training:
            inputs = nn.functional.dropout(inputs, module.dropout, True)
        h0 = state[layer] if state is not None else x.new_zeros(x.size(0), module.hidden_size)
        inputs = layer_of.apply(inputs, h0, *(getattr(module, f"{name}_l{layer}")
                                              for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")))
        finals.append(inputs[-1])
    return inputs.transpose(0, 1).contiguous(), torch.stack(finals)

"""A Keras-style model summary: one row per layer with its output shape and parameter count, then the total,
trainable and non-trainable counts.

On parameter counts beside Keras: PyTorch's ``nn.RNN`` and ``nn.LSTM`` keep two bias vectors per layer and
direction (``bias_ih`` and ``bias_hh``, added together) where Keras's SimpleRNN and LSTM keep one, so a default
PyTorch model counts ``gates * hidden_dim`` more per layer (30 for a SimpleRNN of 30 units, 120 for an LSTM).
Built with ``single_bias=True`` (``Recurrent``, ``RegressorConfig``) the second vector is zero and frozen, and
the *trainable* count equals Keras's (2x30 on (100, 2) + Dense(1): SimpleRNN 2,851, LSTM 11,311, GRU 8,671).
The GRU needs nothing: Keras's default GRU (``reset_after=True``) also has two bias vectors.
"""
from __future__ import annotations

from typing import Any

import torch
from torch import nn

from textrnn.models.crf import CRF
from textrnn.models.recurrent import Recurrent

UNITS = (Recurrent, nn.RNNBase, CRF)   # summarised as one row each, without their inner modules


def count_parameters(model: nn.Module) -> tuple[int, int]:
    """(total, trainable) parameter counts; a tied (shared) tensor counts once."""
    parameters = list(model.parameters())                        # already unique by identity
    return sum(p.numel() for p in parameters), sum(p.numel() for p in parameters if p.requires_grad)


def _rows(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """Leaf modules and whole recurrent units, in registration order."""
    rows, skip = [], ()
    for name, module in model.named_modules():
        if skip and name.startswith(skip):
            continue
        if isinstance(module, UNITS) or not list(module.children()):
            rows.append((name or type(model).__name__, module))
            skip = (name + ".",) if name else ()
    return rows


def _shape(value: Any) -> str:
    if isinstance(value, torch.Tensor):
        return str(tuple(value.shape))
    if isinstance(value, nn.utils.rnn.PackedSequence):
        return "packed"
    if isinstance(value, (tuple, list)) and value:
        return _shape(value[0])
    return "-"


def _kind(module: nn.Module) -> str:
    if isinstance(module, Recurrent):
        return (f"Recurrent: {module.cell.upper()} {module.num_layers}x{module.hidden_dim}"
                + (" bidirectional" if module.bidirectional else ""))
    return type(module).__name__


def summary(model: nn.Module, example_inputs: dict | tuple) -> str:
    """The table for ``model`` after one real forward pass on ``example_inputs`` (keyword arguments as a dict,
    or positional ones as a tuple), run in eval mode without gradients on the model's device.

    A parameter shared by several layers (tied weights) is counted in the first layer that holds it. A footnote
    says when PyTorch's second RNN/LSTM bias makes the counts differ from Keras's (see the module docstring).
    """
    rows = _rows(model)
    shapes: dict[int, str] = {}

    def record(module: nn.Module, args: Any, output: Any) -> None:   # returns None: the output stays as it is
        shapes.setdefault(id(module), _shape(output))

    hooks = [module.register_forward_hook(record) for _, module in rows]
    device = next(model.parameters(), torch.empty(0)).device
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            if isinstance(example_inputs, dict):
                model(**{k: _to(v, device) for k, v in example_inputs.items()})
            else:
                model(*(_to(v, device) for v in example_inputs))
    finally:
        for hook in hooks:
            hook.remove()
        model.train(was_training)
    seen: set[int] = set()
    table = []
    for name, module in rows:
        count = 0
        for parameter in module.parameters():
            if id(parameter) not in seen:
                seen.add(id(parameter))
                count += parameter.numel()
        table.append((f"{name} ({_kind(module)})", shapes.get(id(module), "-"), count))
    total, trainable = count_parameters(model)
    other = total - sum(count for _, _, count in table)
    if other:
        table.append(("(parameters outside the layers above)", "-", other))
    width = max(40, *(len(r[0]) + 2 for r in table))
    line = "=" * (width + 36)
    lines = [f"{'Layer (type)':<{width}}{'Output shape':<24}{'Param #':>12}", line]
    lines += [f"{label:<{width}}{shape:<24}{count:>12,}" for label, shape, count in table]
    lines += [line, f"Total params: {total:,}", f"Trainable params: {trainable:,}",
              f"Non-trainable params: {total - trainable:,}"]
    lines += _footnotes(model)
    return "\n".join(lines)


def _to(value: Any, device: torch.device) -> Any:
    return value.to(device) if isinstance(value, torch.Tensor) else value


def _footnotes(model: nn.Module) -> list[str]:
    doubled = frozen = 0
    for module in model.modules():
        if isinstance(module, (nn.RNN, nn.LSTM)):
            for name, parameter in module.named_parameters():
                if name.startswith("bias_hh"):
                    if parameter.requires_grad:
                        doubled += parameter.numel()
                    else:
                        frozen += parameter.numel()
    notes = []
    if doubled:
        notes.append(f"Note: PyTorch's RNN/LSTM keep two bias vectors (bias_ih + bias_hh) where Keras keeps one; "
                     f"{doubled:,} of these parameters are the second vector (single_bias=True freezes them at "
                     "zero, matching Keras's trainable count).")
    if frozen:
        notes.append(f"Note: {frozen:,} non-trainable parameters are the second RNN/LSTM bias vectors, frozen at "
                     "zero (single_bias=True), so the trainable count matches Keras's.")
    return notes

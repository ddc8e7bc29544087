"""Parameter counts, as the course's comparison table shows them beside Keras's.

On parameter counts beside Keras: PyTorch's ``nn.RNN`` and ``nn.LSTM`` keep two bias vectors per layer and
direction (``bias_ih`` and ``bias_hh``, added together) where Keras's SimpleRNN and LSTM keep one, so a default
PyTorch model counts ``gates * hidden_dim`` more per layer (30 for a SimpleRNN of 30 units, 120 for an LSTM).
Built with ``single_bias=True`` (``Recurrent``, ``RegressorConfig``) the second vector is zero and frozen, and
the *trainable* count equals Keras's (2x30 on (100, 2) + Dense(1): SimpleRNN 2,851, LSTM 11,311, GRU 8,671).
The GRU needs nothing: Keras's default GRU (``reset_after=True``) also has two bias vectors.
"""
from __future__ import annotations

from torch import nn


def count_parameters(model: nn.Module) -> tuple[int, int]:
    """(total, trainable) parameter counts; a tied (shared) tensor counts once."""
    parameters = list(model.parameters())                        # already unique by identity
    return sum(p.numel() for p in parameters), sum(p.numel() for p in parameters if p.requires_grad)

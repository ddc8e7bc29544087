"""Small layers shared by the models, where PyTorch's own is slow on the CPU."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def dropout(x: torch.Tensor, p: float, training: bool) -> torch.Tensor:
    """Inverted dropout, as ``F.dropout``. On the CPU the mask comes from ``torch.rand`` (vectorized) rather than
    the element-wise Bernoulli sampler ``F.dropout`` uses: 17 against 28 ms forward+backward for a (40, 500, 100)
    batch on one core (the IMDB CNN+LSTM spent 17% of its step there). Elsewhere ``F.dropout``'s fused kernel."""
    if not training or p == 0.0:
        return x
    if x.device.type != "cpu" or not 0.0 < p < 1.0:
        return F.dropout(x, p, training)
    keep = torch.rand(x.shape, dtype=x.dtype, device=x.device).ge_(p).mul_(1.0 / (1.0 - p))
    return x * keep


class Dropout(nn.Module):
    """``nn.Dropout`` with the CPU mask above."""

    def __init__(self, p: float = 0.5):
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"dropout must lie in [0, 1], got {p}")
        self.p = p

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return dropout(x, self.p, self.training)

    def extra_repr(self) -> str:
        return f"p={self.p}"

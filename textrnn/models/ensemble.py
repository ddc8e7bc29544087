"""Several models of one kind as one: a deep ensemble (Lakshminarayanan et al. 2017).

Each member starts from its own random weights and sees the same batches; their own initial weights and dropout
masks make them disagree where one alone would be unsure, and averaging their probabilities gains from it. The
loss is the mean of the members' losses, so each member learns as it would alone (Adam does not see the 1/N
scale). ``forward`` returns the log of the members' mean probability over the last axis, so ``softmax`` of it is
that mean, for one label per text (classifier) or one tag per token (tagger).
"""
from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from textrnn.errors import ConfigError


class Ensemble(nn.Module):
    """``forward(*inputs, targets=None, ...) -> (log of the mean probability, mean loss or None)``."""

    def __init__(self, members: list[nn.Module]):
        super().__init__()
        if len(members) < 2:
            raise ConfigError(f"model.members must be at least 2 for an ensemble, got {len(members)}")
        self.members = nn.ModuleList(members)

    def forward(self, *inputs, **options) -> tuple[torch.Tensor, torch.Tensor | None]:
        outputs = [member(*inputs, **options) for member in self.members]
        log_probs = torch.stack([F.log_softmax(scores.float(), dim=-1) for scores, _ in outputs])   # (N, ..., C)
        mean = torch.logsumexp(log_probs, dim=0) - math.log(len(self.members))
        losses = [loss for _, loss in outputs]
        return mean, (torch.stack(losses).mean() if losses[0] is not None else None)


def members_of(model: nn.Module) -> list[nn.Module]:
    """An ensemble's members, or the model itself as the one member."""
    return list(model.members) if isinstance(model, Ensemble) else [model]


def one_or_ensemble(make: Callable[[], nn.Module], members: int, ensemble: type[Ensemble] = Ensemble) -> nn.Module:
    """``make()`` once (``members == 1``), or an ``ensemble`` of ``members`` models it makes."""
    if members < 1:
        raise ConfigError(f"model.members must be 1 (one model) or more (an ensemble), got {members}")
    return make() if members == 1 else ensemble([make() for _ in range(members)])

"""The optimizer and the learning-rate schedule of a run."""
from __future__ import annotations

import math
from collections.abc import Callable

import torch

from textrnn.errors import ConfigError
from textrnn.train.config import LOWER_IS_BETTER, TrainConfig

SCHEDULES = ("none", "cosine", "linear", "onecycle", "plateau")


def make_optimizer(model: torch.nn.Module, config: TrainConfig) -> torch.optim.Optimizer:
    params = [p for p in model.parameters() if p.requires_grad]
    # Adam's fused kernel updates every weight in one pass: on the CPU one step over the ner tagger's 5.7M weights
    # (mostly its word vectors) takes 5.3 instead of 22.7 ms (bench/optimizer_step.py); PyTorch has it for CPU and CUDA
    fused = {"fused": True} if params and all(p.device.type in ("cpu", "cuda") and p.is_floating_point()
                                              for p in params) else {}
    if config.optimizer == "adam":
        return torch.optim.Adam(params, lr=config.lr, weight_decay=config.weight_decay, **fused)
    if config.optimizer == "adamw":
        return torch.optim.AdamW(params, lr=config.lr, weight_decay=config.weight_decay, **fused)
    if config.optimizer == "sgd":
        return torch.optim.SGD(params, lr=config.lr, weight_decay=config.weight_decay, momentum=0.9)
    if config.optimizer == "rmsprop":   # the course's Keras seq2seq compiles with RMSprop; Keras's defaults
        return torch.optim.RMSprop(params, lr=config.lr, alpha=0.9, eps=1e-7, weight_decay=config.weight_decay)
    raise ConfigError(f"train.optimizer must be adam, adamw, sgd or rmsprop, got {config.optimizer!r}")


def make_schedule(optimizer, config: TrainConfig, steps_per_epoch: int, spent: Callable[[], float] | None = None):
    """A per-step schedule (cosine, linear, onecycle) or the per-epoch plateau one; None for none.

    ``spent()`` is the share of a time budget used so far: cosine and linear then follow whichever is further
    along, the steps or the clock (a run cut by its budget still anneals)."""
    if config.schedule not in SCHEDULES:
        raise ConfigError(f"train.schedule must be one of {', '.join(SCHEDULES)}, got {config.schedule!r}")
    total = max(1, config.epochs * steps_per_epoch)
    if config.max_steps:
        total = min(total, config.max_steps)
    if config.schedule == "none":
        return None
    if config.schedule == "plateau":
        return torch.optim.lr_scheduler.ReduceLROnPlateau(
            optimizer, mode="min" if config.monitor in LOWER_IS_BETTER else "max", factor=0.5, patience=1)
    if config.schedule == "onecycle":
        return torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=config.lr, total_steps=total)

    def factor(step: int) -> float:
        progress = min(1.0, step / total)
        if spent is not None:
            progress = max(progress, min(1.0, spent()))
        return 0.5 * (1 + math.cos(math.pi * progress)) if config.schedule == "cosine" else 1.0 - progress

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)

"""What a training run may add to every step, as plain objects the loop calls (no plugin framework).

An extension has any of: ``forward()``, a context around each step's clean forward pass; ``extra_loss(again)``,
called after that pass's backward with ``again()`` (the same step's loss, recomputed), returning one more loss to
back-propagate or None; ``after_step()``; ``evaluating()``, a context around validation and the best epoch's
snapshot; ``finish()``, when training ends without restoring a best epoch; ``close()``; and ``state_dict()`` /
``load_state_dict()`` for the checkpoint, under ``name``. ``Extension`` gives the no-op of each.
"""
from __future__ import annotations

import contextlib
from collections.abc import Callable

import torch

from textrnn.errors import ConfigError
from textrnn.train.adversarial import EmbeddingAdversary
from textrnn.train.config import TrainConfig


class Extension:
    name = ""

    def forward(self):
        return contextlib.nullcontext()

    def extra_loss(self, again: Callable[[], torch.Tensor]) -> torch.Tensor | None:
        return None

    def after_step(self) -> None:
        pass

    def evaluating(self):
        return contextlib.nullcontext()

    def finish(self) -> None:
        pass

    def close(self) -> None:
        pass

    def state_dict(self) -> dict | None:
        return None

    def load_state_dict(self, state: dict) -> None:
        pass


class WeightAverage(Extension):
    """An exponential moving average of a model's trainable weights, updated after every optimizer step.

    The decay starts low and rises to ``decay`` ((1 + n) / (10 + n) after n updates, as TensorFlow's
    ExponentialMovingAverage does), so the first steps' random weights do not linger in a short run. Validation,
    the best epoch's snapshot and (without restore_best) the final model use the average."""

    name = "average"

    def __init__(self, model: torch.nn.Module, decay: float):
        if not 0.0 < decay < 1.0:
            raise ConfigError(f"train.ema must be between 0 and 1 (0.999 is usual; 0 turns it off), got {decay}")
        self.decay = decay
        self.params = [p for p in model.parameters() if p.requires_grad]
        self.shadow = [p.detach().clone() for p in self.params]
        self.updates = 0

    @torch.no_grad()
    def after_step(self) -> None:
        self.updates += 1
        decay = min(self.decay, (1 + self.updates) / (10 + self.updates))
        for average, param in zip(self.shadow, self.params, strict=True):
            average.lerp_(param.detach(), 1.0 - decay)

    @contextlib.contextmanager
    def evaluating(self):
        """Inside the block the model holds the averaged weights; after it, its training weights again."""
        training = [p.detach().clone() for p in self.params]
        self._copy(self.params, self.shadow)
        try:
            yield
        finally:
            self._copy(self.params, training)

    def finish(self) -> None:
        self._copy(self.params, self.shadow)

    @staticmethod
    @torch.no_grad()
    def _copy(targets: list[torch.Tensor], sources: list[torch.Tensor]) -> None:
        for target, source in zip(targets, sources, strict=True):
            target.copy_(source)

    def state_dict(self) -> dict:
        return {"shadow": self.shadow, "updates": self.updates}

    def load_state_dict(self, state: dict) -> None:
        self._copy(self.shadow, state["shadow"])
        self.updates = int(state["updates"])


class Adversarial(Extension):
    """Adversarial training on the word vectors (train/adversarial.py): the clean pass records their gradient, and
    a second pass, its vectors moved along it, adds its loss."""

    name = "adversarial"

    def __init__(self, model: torch.nn.Module, epsilon: float, chars: bool):
        self.adversary = EmbeddingAdversary(model, epsilon, chars=chars)

    def forward(self):
        return self.adversary.recording()

    def extra_loss(self, again: Callable[[], torch.Tensor]) -> torch.Tensor:
        with self.adversary.perturbing():
            return again()

    def close(self) -> None:
        self.adversary.remove()


def extensions_for(model: torch.nn.Module, config: TrainConfig) -> list[Extension]:
    """The extensions a run's settings ask for: the weight average (``ema``) and adversarial training."""
    found: list[Extension] = []
    if config.ema:
        found.append(WeightAverage(model, config.ema))
    if config.adversarial:
        found.append(Adversarial(model, config.adversarial, config.adversarial_chars))
    return found

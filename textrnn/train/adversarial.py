"""Adversarial training on the word vectors (Goodfellow et al. 2015; Miyato et al. 2017, "Adversarial training
methods for semi-supervised text classification").

Each training step runs twice. The first, clean pass records the gradient of the loss with respect to every word
vector the model looked up. The second pass adds to each text's vectors a small perturbation along that gradient,
the direction that raises the loss fastest, and its loss is added to the clean one. The model so learns to keep its
answer when the meaning of the words shifts slightly: a regulariser that costs one more forward and backward pass.

The perturbation of one text is ``epsilon * ||x|| * g / ||g||`` over all its steps, with ``x`` its word vectors and
``g`` their gradient: ``epsilon`` is a share of the text's own vector norm (0.02 moves each text's vectors by 2%),
so the setting does not depend on the scale of the vectors or the length of the texts. The word embeddings
(``LearnedEmbedding``: learned or word2vec) are perturbed, not casing or one-hot inputs; with ``chars=True`` a
tagger's character embeddings too, each word's characters as one unit (Yasunaga et al. 2018 perturb both).
"""
from __future__ import annotations

import contextlib

import torch
from torch import nn

from textrnn.embeddings import LearnedEmbedding
from textrnn.errors import ConfigError
from textrnn.models.tagger import CharEncoder


def _word_embeddings(model: nn.Module, setting: str) -> list[nn.Module]:
    embeddings = [m for m in model.modules() if isinstance(m, LearnedEmbedding)]
    if not embeddings:
        raise ConfigError(f"{setting} perturbs word vectors, and this model has no learned word embedding "
                          f"(model.embedding.kind must be learned or word2vec); set {setting}=0")
    return embeddings


def _check_epsilon(epsilon: float, setting: str) -> None:
    if not 0.0 < epsilon < 1.0:
        raise ConfigError(f"{setting} must be between 0 and 1 (a share of each text's vector norm; "
                          f"0.02 is a usual start, 0 turns it off), got {epsilon}")


@torch.no_grad()
def along(vectors: torch.Tensor, direction: torch.Tensor | None, epsilon: float) -> torch.Tensor:
    """``epsilon * ||x|| * d / ||d||`` per text (the first axis) for vectors ``x`` and a direction ``d``."""
    if direction is None:                 # the loss did not reach these vectors
        return torch.zeros_like(vectors, dtype=torch.float32)
    direction = torch.nan_to_num(direction.float(), nan=0.0, posinf=0.0, neginf=0.0)  # a scaled fp16 step may overflow
    axes = tuple(range(1, direction.dim()))
    direction_norm = direction.pow(2).sum(axes, keepdim=True).sqrt()
    vector_norm = vectors.detach().float().pow(2).sum(axes, keepdim=True).sqrt()
    return epsilon * vector_norm * direction / direction_norm.clamp(min=1e-12)


class EmbeddingAdversary:
    """Hooks on a model's word embeddings: ``recording()`` around the clean pass, ``perturbing()`` around the second;
    ``remove()`` takes them off."""

    def __init__(self, model: nn.Module, epsilon: float, chars: bool = False):
        _check_epsilon(epsilon, "train.adversarial")
        embeddings = _word_embeddings(model, "train.adversarial")
        if chars:
            encoders = [m for m in model.modules() if isinstance(m, CharEncoder)]
            if not encoders:
                raise ConfigError("train.adversarial_chars perturbs character embeddings, and this model has none "
                                  "(a tagger with model.char_dim > 0 has); set train.adversarial_chars=false")
            embeddings += [encoder.embedding for encoder in encoders]
        self.epsilon = epsilon
        self._mode: str | None = None
        self._outputs: list[torch.Tensor] = []
        self._perturbations: list[torch.Tensor] = []
        self._handles = [m.register_forward_hook(self._hook) for m in embeddings]

    def _hook(self, module: nn.Module, inputs, output: torch.Tensor) -> torch.Tensor | None:
        if self._mode == "record":
            if not output.requires_grad:      # frozen vectors: still ask for the gradient with respect to them
                output.requires_grad_(True)
            output.retain_grad()
            self._outputs.append(output)
            return None
        if self._mode == "perturb":
            if not self._perturbations:
                raise RuntimeError("the adversarial pass looked up word vectors more often than the clean pass")
            return output + self._perturbations.pop(0).to(output.dtype)
        return None

    def remove(self) -> None:
        """Take the hooks off the model."""
        for handle in self._handles:
            handle.remove()
        self._handles = []

    @contextlib.contextmanager
    def recording(self):
        self._outputs, self._mode = [], "record"
        try:
            yield
        finally:
            self._mode = None

    def perturbation(self, vectors: torch.Tensor) -> torch.Tensor:
        """``epsilon * ||x|| * g / ||g||`` per text (the first axis) for recorded vectors ``x`` and their gradient ``g``."""
        return along(vectors, vectors.grad, self.epsilon)

    @contextlib.contextmanager
    def perturbing(self):
        """Run the second pass in this block, after the clean loss's backward pass."""
        self._perturbations = [self.perturbation(v) for v in self._outputs]
        self._outputs, self._mode = [], "perturb"
        try:
            yield
        finally:
            self._mode, self._perturbations = None, []

"""Next token: a recurrent language model over characters, words or subwords.

ids -> embedding -> Recurrent -> [dropout] -> [projection to the embedding size] -> Dense(vocab) logits, with
optional weight tying (Press and Wolf 2017; Inan et al. 2017): the output layer reuses the embedding matrix.
The state is passed in and returned, so truncated backpropagation through time carries it across windows.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from textrnn.embeddings import EmbeddingConfig, build_embedding
from textrnn.errors import ConfigError
from textrnn.layers import Dropout
from textrnn.models.recurrent import Recurrent
from textrnn.vocab import PAD_ID


@dataclass
class LMConfig:
    embedding: EmbeddingConfig = field(default_factory=EmbeddingConfig)
    cell: str = "lstm"
    hidden_dim: int = 256
    num_layers: int = 2
    dropout: float = 0.0             # between recurrent layers
    tie_weights: bool = False        # output layer = embedding matrix (a projection is added when the sizes differ)
    output_dropout: float = 0.0      # on the recurrent outputs, before the output layer


class LanguageModel(nn.Module):
    """``forward(ids, lengths=None, targets=None, state=None) -> (logits (B, T, V), loss or None, state)``."""

    def __init__(self, config: LMConfig, vocab_size: int):
        super().__init__()
        if not 0.0 <= config.output_dropout < 1.0:
            raise ConfigError(f"model.output_dropout must lie in [0, 1), got {config.output_dropout}")
        self.config = config
        self.embedding = build_embedding(config.embedding, vocab_size)
        self.rnn = Recurrent(config.cell, self.embedding.dim, config.hidden_dim, config.num_layers,
                             dropout=config.dropout)
        self.dropout = Dropout(config.output_dropout)
        width = config.hidden_dim
        self.projection = None
        if config.tie_weights:
            if not isinstance(getattr(self.embedding, "weight", None), nn.Parameter):
                raise ConfigError("model.tie_weights needs a learned or word2vec embedding, not a one-hot one")
            if self.embedding.dim != config.hidden_dim:
                self.projection = nn.Linear(config.hidden_dim, self.embedding.dim)
                width = self.embedding.dim
        self.output = nn.Linear(width, vocab_size)
        if config.tie_weights:
            self.output.weight = self.embedding.weight                         # (V, E), one tensor

    def forward(self, ids: torch.Tensor, lengths: torch.Tensor | None = None, targets: torch.Tensor | None = None,
                state: Any = None) -> tuple[torch.Tensor, torch.Tensor | None, Any]:
        """ids (B, T) -> logits (B, T, V); with targets (B, T) the mean cross-entropy over non-pad targets (nats
        per token); and the state after the last step (see ``Recurrent.forward`` for ragged ``lengths``)."""
        x = self.embedding(ids)                                                # (B, T, E)
        outputs, _, state = self.rnn(x, lengths, state)                       # (B, T, H)
        h = self.dropout(outputs)
        if self.projection is not None:
            h = self.projection(h)                                             # (B, T, E)
        logits = self.output(h)                                                # (B, T, V)
        loss = None
        if targets is not None:
            loss = F.cross_entropy(logits.float().reshape(-1, logits.size(-1)), targets.reshape(-1).long(),
                                   ignore_index=PAD_ID)
        return logits, loss, state

    def init_state(self, batch_size: int, device: torch.device | str | None = None) -> Any:
        """The zero state for ``batch_size`` rows: h (L, B, H), or (h, c) for the LSTM."""
        return self.rnn.initial_state(batch_size, device)

    @staticmethod
    def detach_state(state: Any) -> Any:
        """The same state cut from the graph of the previous window (truncated backpropagation through time)."""
        if state is None:
            return None
        if isinstance(state, tuple):
            return tuple(s.detach() for s in state)
        return state.detach()

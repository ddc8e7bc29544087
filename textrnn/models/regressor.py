"""Sequence to number(s): numeric inputs (B, T, F) -> values (the multiplication problem, the sine window, energy).

Three shapes from the course:

* ``many_to_one``: the last state -> Dense(output_dim): predictions (B, output_dim);
* ``many_to_many``: a Dense at every step (Keras ``return_sequences``): (B, T, output_dim);
* ``repeat``: the encoder's last state repeated ``horizon`` times -> a decoder RNN -> a Dense per step (Keras
  ``RepeatVector`` one-to-many): (B, horizon, output_dim). The decoder has the encoder's cell, size and depth.

With ``single_bias=True`` the RNN and LSTM trainable counts equal Keras's (see ``Recurrent``).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from textrnn.encode import mask as length_mask
from textrnn.errors import ConfigError
from textrnn.models.recurrent import Recurrent

MODES = ("many_to_one", "many_to_many", "repeat")
LOSSES = {"mse": F.mse_loss, "mae": F.l1_loss, "huber": F.huber_loss}


@dataclass
class RegressorConfig:
    input_dim: int = 1
    output_dim: int = 1
    cell: str = "lstm"
    hidden_dim: int = 30
    num_layers: int = 2
    bidirectional: bool = False
    dropout: float = 0.0             # between recurrent layers
    mode: str = "many_to_one"        # "many_to_one" | "many_to_many" | "repeat"
    horizon: int = 1                 # steps the "repeat" decoder forecasts
    init: str = "default"            # "default" | "orthogonal" | "identity" | "keras" | "chrono" (recurrent weights)
    chrono_steps: int = 0            # init = "chrono": the longest dependency in steps (e.g. the sequence length)
    single_bias: bool = False        # one bias vector per RNN/LSTM layer, as in Keras
    loss: str = "mse"                # "mse" | "mae" | "huber"
    packed: bool = False


class Regressor(nn.Module):
    """``forward(inputs (B, T, F), lengths=None, targets=None) -> (predictions, loss or None)``."""

    def __init__(self, config: RegressorConfig):
        super().__init__()
        if config.mode not in MODES:
            raise ConfigError(f"model.mode must be one of {', '.join(MODES)}, got {config.mode!r}")
        if config.loss not in LOSSES:
            raise ConfigError(f"model.loss must be one of {', '.join(LOSSES)}, got {config.loss!r}")
        if config.horizon < 1 or config.output_dim < 1:
            raise ConfigError(f"model.horizon and model.output_dim must be at least 1, got {config.horizon}, "
                              f"{config.output_dim}")
        self.config = config
        recurrent = dict(dropout=config.dropout, packed=config.packed, init=config.init, single_bias=config.single_bias,
                         chrono_steps=config.chrono_steps)
        self.rnn = Recurrent(config.cell, config.input_dim, config.hidden_dim, config.num_layers,
                             config.bidirectional, **recurrent)
        width = self.rnn.output_dim
        self.decoder = None
        if config.mode == "repeat":
            self.decoder = Recurrent(config.cell, width, config.hidden_dim, config.num_layers, **recurrent)
            width = self.decoder.output_dim
        self.output = nn.Linear(width, config.output_dim)

    def forward(self, inputs: torch.Tensor, lengths: torch.Tensor | None = None, targets: torch.Tensor | None = None
                ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Predictions (B, output_dim), (B, T, output_dim) or (B, horizon, output_dim) by mode, and with
        ``targets`` (any shape holding as many values) the loss; many_to_many counts only real steps."""
        inputs = inputs.float()
        outputs, last, _ = self.rnn(inputs, lengths)                           # (B, T, D), (B, D)
        if self.config.mode == "many_to_one":
            predictions = self.output(last)                                    # (B, O)
        elif self.config.mode == "many_to_many":
            predictions = self.output(outputs)                                 # (B, T, O)
        else:
            repeated = last.unsqueeze(1).expand(-1, self.config.horizon, -1)   # (B, horizon, D)
            decoded, _, _ = self.decoder(repeated)                             # (B, horizon, H)
            predictions = self.output(decoded)                                 # (B, horizon, O)
        loss = None
        if targets is not None:
            loss = self._loss(predictions, targets, lengths)
        return predictions, loss

    def _loss(self, predictions: torch.Tensor, targets: torch.Tensor, lengths: torch.Tensor | None) -> torch.Tensor:
        if targets.numel() != predictions.numel():
            raise ValueError(f"targets of shape {tuple(targets.shape)} do not fit predictions of shape "
                             f"{tuple(predictions.shape)} (mode {self.config.mode!r})")
        targets = targets.to(predictions.dtype).reshape(predictions.shape)
        measure = LOSSES[self.config.loss]
        if self.config.mode != "many_to_many" or lengths is None:
            return measure(predictions, targets)
        keep = length_mask(lengths.to(predictions.device).clamp(min=1), predictions.size(1))    # (B, T)
        return measure(predictions[keep], targets[keep])

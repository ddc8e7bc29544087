"""The settings of a training run (``[train]`` in a recipe, ``-s train.KEY=VALUE``)."""
from __future__ import annotations

from dataclasses import dataclass

from textrnn.errors import ConfigError

LOWER_IS_BETTER = {"loss", "perplexity", "mse", "mae", "mape", "bits_per_char", "nll_per_char"}
LOGS = ("", "tensorboard")


@dataclass
class TrainConfig:
    epochs: int = 10
    batch_size: int = 32
    lr: float = 1e-3
    optimizer: str = "adam"          # "adam" | "adamw" | "sgd" | "rmsprop" (Keras's: rho 0.9, epsilon 1e-7)
    weight_decay: float = 0.0
    clip_norm: float = 1.0           # gradient clipping is on by default: recurrent nets need it (0 turns it off)
    schedule: str = "none"           # "none" | "cosine" | "plateau" | "onecycle" | "linear"
    early_stopping: int = 0          # patience in epochs; 0 keeps every epoch
    monitor: str = "loss"            # the validation metric that picks the best epoch
    restore_best: bool = True
    seed: int = 0
    device: str = "auto"             # "auto" (CUDA, then MPS, then CPU) | "cpu" | "cuda" | "cuda:1" | "mps"
    amp: bool = True                 # mixed precision on CUDA (bf16 where supported, else fp16 + scaling)
    amp_cpu: bool = False            # bf16 mixed precision on a CPU with native bf16 (AVX512-BF16 or AMX): LSTM steps
                                     # 1.4-2x faster on such a CPU (bench/amp_cpu.py); off by default, since fp32 is
                                     # what Keras runs; ignored, with a note, on a CPU without bf16
    adversarial: float = 0.0         # adversarial training on the word vectors (Miyato et al. 2017): each step adds
                                     # the loss of a second pass whose vectors moved this share of their norm along
                                     # the loss's gradient (train/adversarial.py); 0 = off
    adversarial_chars: bool = False  # with adversarial > 0: a tagger's character embeddings are perturbed too
    ema: float = 0.0                 # decay of an exponential moving average of the weights (Polyak averaging; Keras's
                                     # use_ema): validation, the best epoch and the saved model use the average; 0 = off
    threads: int = 0                 # CPU threads for torch; 0 = all cores this process may use
    max_steps: int = 0               # >0: training ends after this many optimizer steps (mid-epoch too), and the
                                     # schedule anneals over them: for a corpus whose one epoch is long (an LM's)
    max_minutes: float = 0.0         # a time budget for users (no recipe uses one: a recipe's result must not depend
                                     # on the machine's speed): training stops when it is spent, mid-epoch too, and
                                     # cosine and linear schedules anneal over the budget or the epochs, whichever
                                     # ends first; 0 = none
    checkpoint: bool = True
    log: str = ""                    # "tensorboard": also write the epoch scalars for TensorBoard (run_dir/tensorboard)

    def check(self) -> None:
        """Raise ConfigError naming the key of a value out of its range."""
        problems = {
            "epochs": self.epochs >= 0, "batch_size": self.batch_size >= 1, "lr": self.lr >= 0,
            "weight_decay": self.weight_decay >= 0, "clip_norm": self.clip_norm >= 0,
            "early_stopping": self.early_stopping >= 0, "threads": self.threads >= 0,
            "max_minutes": self.max_minutes >= 0, "max_steps": self.max_steps >= 0, "ema": 0 <= self.ema < 1, "adversarial": 0 <= self.adversarial < 1,
        }
        for key, ok in problems.items():
            if not ok:
                raise ConfigError(f"train.{key} is out of range: {getattr(self, key)!r}")
        if self.log not in LOGS:
            raise ConfigError(f"train.log must be '' or 'tensorboard', got {self.log!r}")


def better(metric: str, new: float, old: float | None) -> bool:
    """Whether ``new`` improves on ``old`` for ``metric`` (lower for losses and errors, higher otherwise)."""
    if old is None:
        return True
    return new < old if metric in LOWER_IS_BETTER else new > old

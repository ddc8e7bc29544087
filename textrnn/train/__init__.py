"""Training: one loop (``loop.py``) with its settings, device and precision, optimizer and schedule, extensions,
checkpoint and logs each in a module of its own."""
from __future__ import annotations

from textrnn.train.checkpoint import CHECKPOINT, load_checkpoint
from textrnn.train.config import LOWER_IS_BETTER, TrainConfig, better
from textrnn.train.device import autocast_dtype, resolve_device, set_seed, set_threads, usable_cores
from textrnn.train.extensions import Extension, WeightAverage
from textrnn.train.logs import CSV_LOG, History
from textrnn.train.loop import TaskLoop, fit
from textrnn.train.optim import make_optimizer, make_schedule

__all__ = ["CHECKPOINT", "CSV_LOG", "LOWER_IS_BETTER", "Extension", "History", "TaskLoop", "TrainConfig",
           "WeightAverage", "autocast_dtype", "better", "fit", "load_checkpoint", "make_optimizer", "make_schedule",
           "resolve_device", "set_seed", "set_threads", "usable_cores"]

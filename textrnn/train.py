"""One training loop for every task.

A task supplies three plain functions (``TaskLoop``): the batches of an epoch, the loss of one batch, and the
validation metrics. The loop adds what every run needs: device and mixed precision, Adam/AdamW with gradient
clipping and a learning-rate schedule, an optional moving average of the weights, early stopping that restores
the best weights, an atomic checkpoint every epoch (and on Ctrl-C) that ``resume=True`` continues to the same
result, a stop on a non-finite loss, seeds, a progress bar, and ``history.json``.
"""
from __future__ import annotations

import contextlib
import copy
import functools
import io
import math
import os
import signal
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from textrnn.adversarial import EmbeddingAdversary, VirtualAdversary
from textrnn.encode import Batch
from textrnn.errors import ConfigError, TrainingError
from textrnn.fileio import atomic_write, atomic_write_json, clean_temporaries

CHECKPOINT = "checkpoint.pt"
LOWER_IS_BETTER = {"loss", "perplexity", "mse", "mae", "mape", "bits_per_char"}


@dataclass
class TrainConfig:
    epochs: int = 10
    batch_size: int = 32
    lr: float = 1e-3
    optimizer: str = "adam"          # "adam" | "adamw" | "sgd" | "rmsprop" (Keras's: rho 0.9, epsilon 1e-7)
    weight_decay: float = 0.0
    clip_norm: float = 1.0           # gradient clipping is on by default: recurrent nets need it (0 turns it off)
    schedule: str = "none"           # "none" | "cosine" | "plateau" | "onecycle" | "linear"
    warmup_steps: int = 0
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
                                     # the loss's gradient (textrnn/adversarial.py); one more pass a step; 0 = off
    adversarial_chars: bool = False  # with adversarial > 0: a tagger's character embeddings are perturbed too
    virtual_adversarial: float = 0.0  # virtual adversarial training (Miyato et al. 2017) on unlabelled texts
                                     # (data.unlabelled, or a classifier's data.extra): each step adds the divergence of the model's answer
                                     # on an unlabelled batch when its vectors move this share of their norm the most
                                     # harmful way; three passes over that batch a step; 0 = off
    unlabelled_batch_size: int = 16  # texts per unlabelled batch (smaller than train's keeps the three passes cheap)
    ema: float = 0.0                 # decay of an exponential moving average of the weights (Polyak averaging; Keras's
                                     # use_ema): validation, the best epoch and the saved model use the average; 0 = off
    threads: int = 0                 # CPU threads for torch; 0 = all cores
    max_minutes: float = 0.0         # a time budget: training stops when it is spent (mid-epoch too); 0 = none.
                                     # cosine and linear schedules then anneal over the budget or the epochs,
                                     # whichever ends first, so a cut run still ends at a low learning rate
    checkpoint: bool = True


@dataclass
class TaskLoop:
    """What the loop needs from a task.

    ``batches(epoch)`` -> the list of training batches of that epoch (deterministic for a seed and epoch);
    ``step(model, batch, carry)`` -> (loss tensor, carry) where ``carry`` is state kept across batches (an LM's
    recurrent state) or None; ``evaluate(model)`` -> validation metrics with at least ``loss``.
    """

    batches: Callable[[int], list[Batch]]
    step: Callable[[torch.nn.Module, Batch, Any], tuple[torch.Tensor, Any]]
    evaluate: Callable[[torch.nn.Module], dict]
    on_epoch_end: list[Callable[[int, dict], None]] = field(default_factory=list)
    stop_when: Callable[[dict], bool] | None = None   # a goal on the validation metrics that ends training early
    unlabelled: Callable[[int], Iterator[Batch]] | None = None   # batches of unlabelled texts for an epoch (VAT)
    logits: Callable[[torch.nn.Module, Batch], torch.Tensor] | None = None   # the model's logits on a batch (VAT)


def resolve_device(name: str = "auto") -> torch.device:
    """``auto`` picks CUDA, then MPS, then CPU; a named device that is not there is a ConfigError."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise ConfigError(f"unknown device {name!r}; use auto, cpu, cuda, cuda:N or mps") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError("--device cuda was asked for but no CUDA GPU is available here; use --device cpu or auto")
    if device.type == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise ConfigError("--device mps was asked for but MPS is not available here; use --device cpu or auto")
    return device


def set_seed(seed: int) -> None:
    import random

    import numpy as np

    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def usable_cores() -> int:
    """The cores this process may run on (taskset, cgroup cpusets), not all the machine has."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:          # macOS and Windows have no affinity call
        return max(1, os.cpu_count() or 1)


def set_threads(threads: int) -> None:
    torch.set_num_threads(threads if threads > 0 else usable_cores())


def better(metric: str, new: float, old: float | None) -> bool:
    if old is None:
        return True
    return new < old if metric in LOWER_IS_BETTER else new > old


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
    """A per-step schedule (cosine, linear, onecycle, with optional warmup) or per-epoch plateau; None for none.

    ``spent()`` is the fraction of the time budget used so far: cosine and linear follow whichever is further
    along, the steps or the clock (budgeted training: a run cut by its budget still anneals)."""
    total = max(1, config.epochs * steps_per_epoch)
    warmup = config.warmup_steps
    if config.schedule == "none" and not warmup:
        return None
    if config.schedule == "plateau":
        return torch.optim.lr_scheduler.ReduceLROnPlateau(
            optimizer, mode="min" if config.monitor in LOWER_IS_BETTER else "max", factor=0.5, patience=1)
    if config.schedule == "onecycle":
        return torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=config.lr, total_steps=total)

    def factor(step: int) -> float:
        if warmup and step < warmup:
            return (step + 1) / warmup
        progress = min(1.0, (step - warmup) / max(1, total - warmup))
        if spent is not None and step >= warmup:
            progress = max(progress, min(1.0, spent()))
        if config.schedule == "cosine":
            return 0.5 * (1 + math.cos(math.pi * progress))
        if config.schedule == "linear":
            return 1.0 - progress
        if config.schedule == "none":
            return 1.0
        raise ConfigError(f"train.schedule must be none, cosine, linear, onecycle or plateau, got {config.schedule!r}")

    factor(0)  # validates the name now rather than mid-training
    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


class WeightAverage:
    """An exponential moving average of a model's trainable weights, updated after every optimizer step.

    The decay starts low and rises to ``decay`` ((1 + n) / (10 + n) after n updates, as TensorFlow's
    ExponentialMovingAverage does), so the first steps' random weights do not linger in a short run."""

    def __init__(self, model: torch.nn.Module, decay: float):
        if not 0.0 < decay < 1.0:
            raise ConfigError(f"train.ema must be between 0 and 1 (0.999 is usual; 0 turns it off), got {decay}")
        self.decay = decay
        self.params = [p for p in model.parameters() if p.requires_grad]
        self.shadow = [p.detach().clone() for p in self.params]
        self.updates = 0

    @torch.no_grad()
    def update(self) -> None:
        self.updates += 1
        decay = min(self.decay, (1 + self.updates) / (10 + self.updates))
        for average, param in zip(self.shadow, self.params, strict=True):
            average.lerp_(param.detach(), 1.0 - decay)

    @contextlib.contextmanager
    def applied(self):
        """Inside the block the model holds the averaged weights; after it, its training weights again."""
        training = [p.detach().clone() for p in self.params]
        self._copy(self.params, self.shadow)
        try:
            yield
        finally:
            self._copy(self.params, training)

    @torch.no_grad()
    def copy_to_model(self) -> None:
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


@dataclass
class History:
    epochs: list[dict] = field(default_factory=list)
    best_epoch: int = 0
    best: float | None = None
    seconds: float = 0.0
    stopped: str = "completed"

    def to_dict(self) -> dict:
        return {"epochs": self.epochs, "best_epoch": self.best_epoch, "best": self.best,
                "seconds": self.seconds, "stopped": self.stopped}


class _StopFlag:
    """Turns the first Ctrl-C into a request to stop after the current step (a second one interrupts at once)."""

    def __init__(self):
        self.requested = False
        self._previous = None

    def __enter__(self):
        if threading_main():
            self._previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def _handle(self, signum, frame):
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True

    def __exit__(self, *exc):
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)


def threading_main() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()


def _distributed() -> tuple[int, int]:
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        return torch.distributed.get_rank(), torch.distributed.get_world_size()
    return 0, 1


def _progress(total: int, epoch: int, epochs: int, quiet: bool):
    """A rich progress bar on a terminal; None (epoch lines on stderr instead) when quiet or not a terminal."""
    if quiet or not sys.stderr.isatty():
        return None
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    progress = Progress(TextColumn(f"epoch {epoch}/{epochs}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                        TextColumn("{task.fields[info]}"), TimeRemainingColumn(), transient=True)
    progress.start()
    progress.add_task("train", total=total, info="")
    return progress


def fit(model: torch.nn.Module, loop: TaskLoop, config: TrainConfig, run_dir: str | Path | None = None,
        resume: bool = False, quiet: bool = False) -> History:
    """Train ``model`` in place and return its History; the best (or last) weights are in ``model`` at the end.

    With ``run_dir`` a checkpoint is written there atomically after every epoch and on Ctrl-C, with
    ``history.json``; ``resume=True`` continues from it. Raises TrainingError on a non-finite loss or when memory
    runs out (the last good checkpoint stays), KeyboardInterrupt after saving on Ctrl-C.
    """
    device = next(model.parameters()).device
    rank, world = _distributed()
    writes = run_dir is not None and config.checkpoint and rank == 0
    run_dir = Path(run_dir) if run_dir is not None else None
    if run_dir is not None and rank == 0:
        run_dir.mkdir(parents=True, exist_ok=True)
        clean_temporaries(run_dir)
    set_seed(config.seed)
    steps_per_epoch = max(1, len(loop.batches(0)) // world)
    optimizer = make_optimizer(model, config)
    clock = {"began": time.perf_counter()}
    budget = config.max_minutes * 60

    def spent() -> float:
        return (time.perf_counter() - clock["began"]) / budget

    def time_up() -> bool:
        """Whether the budget is spent; under DDP all ranks decide together (their clocks differ slightly)."""
        if not budget:
            return False
        if world == 1:
            return spent() >= 1
        flag = torch.tensor([1.0 if spent() >= 1 else 0.0], device=device)   # NCCL reduces CUDA tensors only
        torch.distributed.all_reduce(flag, op=torch.distributed.ReduceOp.MAX)
        return bool(flag.item())

    # the clock steers the schedule and cuts epochs short only in one process: DDP ranks must take the same steps
    schedule = make_schedule(optimizer, config, steps_per_epoch, spent if budget and world == 1 else None)
    amp_dtype = autocast_dtype(device, config, quiet)

    def mixed_precision() -> torch.autocast:
        """Training steps and validation both run in the run's mixed precision (a no-op without one)."""
        return torch.autocast(device.type, dtype=amp_dtype, enabled=amp_dtype is not None)

    scaler = torch.amp.GradScaler("cuda", enabled=amp_dtype == torch.float16)
    average = WeightAverage(model, config.ema) if config.ema else None
    adversary = (EmbeddingAdversary(model, config.adversarial, chars=config.adversarial_chars)
                 if config.adversarial else None)
    virtual = _virtual_adversary(model, loop, config, world)
    history, best_state = History(), None
    start_epoch, start_step, carry = 0, 0, None
    if resume and run_dir is not None and (run_dir / CHECKPOINT).exists():
        state = load_checkpoint(run_dir / CHECKPOINT)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        if schedule is not None and state.get("schedule"):
            schedule.load_state_dict(state["schedule"])
        history = History(**state["history"])
        best_state = state.get("best_model")
        if average is not None and state.get("average") is not None:
            average.load_state_dict(state["average"])
        start_epoch, start_step = state["epoch"], state["step"]
        carry = state.get("carry")
        torch.set_rng_state(state["rng"])
        if state.get("cuda_rng") is not None and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(state["cuda_rng"])
        if not quiet:
            print(f"resuming from {run_dir / CHECKPOINT}: epoch {start_epoch + 1}, step {start_step}", file=sys.stderr)
    elif resume and not quiet:
        print("no checkpoint to resume from; starting a new run", file=sys.stderr)

    def save(epoch: int, step: int, carry_now) -> None:
        if not writes:
            return
        state = {
            "model": model.state_dict(), "optimizer": optimizer.state_dict(),
            "schedule": schedule.state_dict() if schedule is not None else None,
            "history": history.to_dict(), "best_model": best_state, "epoch": epoch, "step": step,
            "carry": carry_now, "rng": torch.get_rng_state(),
            "average": average.state_dict() if average is not None else None,
            "cuda_rng": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None,
        }
        atomic_write(run_dir / CHECKPOINT, lambda tmp: tmp.write_bytes(_serialized(state)))
        atomic_write_json(run_dir / "history.json", history.to_dict())

    began = clock["began"] = time.perf_counter() - history.seconds
    # epochs since the best one count against the patience, also those before a resume
    patience_left = config.early_stopping - (start_epoch - history.best_epoch)
    with _StopFlag() as stop, adversary or contextlib.nullcontext(), virtual or contextlib.nullcontext():
        for epoch in range(start_epoch, config.epochs):
            if time_up():   # a resumed run whose budget was already spent
                break
            model.train()
            batches = loop.batches(epoch)[rank::world] if world > 1 else loop.batches(epoch)
            if world > 1:
                batches = batches[: steps_per_epoch]
            epoch_began, tokens, loss_sum, loss_count = time.perf_counter(), 0, 0.0, 0
            progress = _progress(len(batches), epoch + 1, config.epochs, quiet)
            first = start_step if epoch == start_epoch else 0
            unlabelled = _cycle(functools.partial(loop.unlabelled, epoch)) if virtual is not None else None
            if first == 0 and epoch != start_epoch:
                carry = None
            for step in range(first, len(batches)):
                if world == 1 and time_up():
                    break             # the budget is spent: this epoch ends here and is evaluated
                batch = batches[step].to(device)
                carry_in = carry
                try:
                    with mixed_precision(), adversary.recording() if adversary else contextlib.nullcontext():
                        loss, carry = loop.step(model, batch, carry)
                except RuntimeError as error:   # torch.OutOfMemoryError on a GPU, the allocator's RuntimeError on a CPU
                    if not _out_of_memory(error):
                        raise
                    raise TrainingError(f"out of memory at epoch {epoch + 1}, step {step + 1} with batch size "
                                        f"{config.batch_size}; try -s train.batch_size={max(1, config.batch_size // 2)}") from None
                if not torch.isfinite(loss):
                    if progress is not None:
                        progress.stop()
                    raise TrainingError(
                        f"the loss became {float(loss.detach())} at epoch {epoch + 1}, step {step + 1}: training diverged. "
                        f"Lower the learning rate (now {config.lr:g}; try -s train.lr={config.lr / 10:g}) or clip "
                        f"gradients harder (-s train.clip_norm=0.5). The last good checkpoint was kept.")
                optimizer.zero_grad(set_to_none=True)
                scaler.scale(loss).backward()
                if adversary is not None:    # the second pass, its vectors moved along the clean loss's gradient
                    with mixed_precision(), adversary.perturbing():
                        adversarial_loss, _ = loop.step(model, batch, carry_in)
                    scaler.scale(adversarial_loss).backward()
                if virtual is not None:      # an unlabelled batch: keep the answer where a move changes it most
                    extra = next(unlabelled).to(device)
                    with mixed_precision():
                        virtual_loss = virtual.loss(functools.partial(loop.logits, model, extra))
                    scaler.scale(virtual_loss).backward()
                if config.clip_norm > 0:
                    scaler.unscale_(optimizer)
                    torch.nn.utils.clip_grad_norm_(model.parameters(), config.clip_norm)
                scaler.step(optimizer)
                scaler.update()
                if average is not None:
                    average.update()
                if schedule is not None and not isinstance(schedule, torch.optim.lr_scheduler.ReduceLROnPlateau):
                    schedule.step()
                loss_sum += float(loss.detach())
                loss_count += 1
                tokens += batch.num_tokens()
                if progress is not None:
                    rate = tokens / max(1e-9, time.perf_counter() - epoch_began)
                    progress.update(0, advance=1, info=f"loss {loss_sum / loss_count:.4f}  {rate:,.0f} tok/s")
                if stop.requested:
                    if progress is not None:
                        progress.stop()
                    history.seconds = time.perf_counter() - began
                    save(epoch, step + 1, carry)
                    where = f" in {run_dir / CHECKPOINT}" if writes else ""
                    raise KeyboardInterrupt(f"interrupted at epoch {epoch + 1}, step {step + 1}; checkpoint saved{where}")
            if progress is not None:
                progress.stop()
            train_seconds = time.perf_counter() - epoch_began
            if world > 1:
                totals = torch.tensor([loss_sum, loss_count], dtype=torch.float64, device=device)   # NCCL: CUDA tensors
                torch.distributed.all_reduce(totals)
                loss_sum, loss_count = float(totals[0]), int(totals[1])
            eval_began = time.perf_counter()
            # with a weight average, validation and the best epoch's snapshot see the averaged weights
            with average.applied() if average is not None else contextlib.nullcontext():
                with mixed_precision():
                    metrics = loop.evaluate(model.module if hasattr(model, "module") else model)
                if config.monitor not in metrics:
                    raise ConfigError(f"train.monitor={config.monitor!r} is not a validation metric; choose one of "
                                      f"{sorted(k for k, v in metrics.items() if isinstance(v, (int, float)))}")
                value = float(metrics[config.monitor])
                improved = better(config.monitor, value, history.best)
                if improved:
                    history.best, history.best_epoch = value, epoch + 1
                    best_state = ({k: v.detach().clone() for k, v in model.state_dict().items()}
                                  if config.restore_best else None)
            eval_seconds = time.perf_counter() - eval_began
            row = {"epoch": epoch + 1, "train_loss": loss_sum / max(1, loss_count),
                   **{f"valid_{k}": v for k, v in metrics.items() if isinstance(v, (int, float))},
                   "seconds": train_seconds, "eval_seconds": eval_seconds,
                   "tokens_per_second": tokens * world / max(1e-9, train_seconds), "lr": optimizer.param_groups[0]["lr"]}
            history.epochs.append(row)
            if isinstance(schedule, torch.optim.lr_scheduler.ReduceLROnPlateau):
                schedule.step(value)
            patience_left = config.early_stopping if improved else patience_left - 1
            history.seconds = time.perf_counter() - began
            if not quiet and rank == 0:
                shown = "  ".join(f"{k} {v:.4f}" for k, v in metrics.items() if isinstance(v, float))
                print(f"epoch {epoch + 1}/{config.epochs}  train_loss {row['train_loss']:.4f}  {shown}  "
                      f"{train_seconds:.1f}s  {row['tokens_per_second']:,.0f} tok/s", file=sys.stderr)
            for callback in loop.on_epoch_end:
                callback(epoch + 1, metrics)
            done = epoch + 1 == config.epochs
            if config.early_stopping and patience_left <= 0:
                history.stopped, done = f"early stopping after epoch {epoch + 1}", True
            if loop.stop_when is not None and loop.stop_when(metrics):
                history.stopped, done = f"goal reached after epoch {epoch + 1}", True
            if time_up():
                history.stopped, done = f"time budget of {config.max_minutes:g} minutes reached in epoch {epoch + 1}", True
            save(epoch + 1, 0, None)
            if done:
                break
    if best_state is not None and config.restore_best:
        model.load_state_dict(best_state)
    elif average is not None:
        average.copy_to_model()
    if writes:
        atomic_write_json(run_dir / "history.json", history.to_dict())
    return history


def _virtual_adversary(model: torch.nn.Module, loop: TaskLoop, config: TrainConfig, world: int
                       ) -> VirtualAdversary | None:
    """The hooks of virtual adversarial training when ``train.virtual_adversarial`` asks for it, after checks."""
    if not config.virtual_adversarial:
        return None
    if loop.unlabelled is None or loop.logits is None:
        raise ConfigError("train.virtual_adversarial needs unlabelled texts, and this task's training has none: it "
                          "is built for classifiers and taggers given unlabelled texts (a recipe's data.unlabelled or "
                          "a classifier's data.extra, or Pipeline.fit(unlabelled=...)); set train.virtual_adversarial=0")
    if world > 1:
        raise ConfigError("train.virtual_adversarial runs three extra passes per step that distributed training "
                          "does not synchronise; train on one device or set train.virtual_adversarial=0")
    if config.unlabelled_batch_size < 1:
        raise ConfigError(f"train.unlabelled_batch_size must be at least 1, got {config.unlabelled_batch_size}")
    return VirtualAdversary(model, config.virtual_adversarial)


def _cycle(make: Callable[[], Iterator[Batch]]) -> Iterator[Batch]:
    """The batches ``make()`` gives, again and again (an epoch may take more unlabelled batches than there are)."""
    while True:
        empty = True
        for batch in make():
            empty = False
            yield batch
        if empty:
            raise ConfigError("train.virtual_adversarial: the unlabelled texts gave no batch")


def cpu_has_bf16() -> bool:
    """Whether this CPU computes bf16 natively (oneDNN's check for AVX512-BF16 or AMX)."""
    try:
        return bool(torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def autocast_dtype(device: torch.device, config: TrainConfig, quiet: bool = True) -> torch.dtype | None:
    """The mixed-precision type of a run: bf16 (else fp16) on CUDA with ``amp``, bf16 on a bf16 CPU with
    ``amp_cpu``, otherwise None (full fp32)."""
    if device.type == "cuda" and config.amp:
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    if device.type == "cpu" and config.amp_cpu:
        if cpu_has_bf16():
            return torch.bfloat16
        if not quiet:
            print("train.amp_cpu: this CPU has no native bf16 (AVX512-BF16 or AMX); training in fp32", file=sys.stderr)
    return None


def _out_of_memory(error: RuntimeError) -> bool:
    """Whether a failed step ran out of memory: CUDA's OutOfMemoryError, or the CPU and MPS allocators' messages."""
    text = str(error)
    return isinstance(error, torch.OutOfMemoryError) or "can't allocate memory" in text or "out of memory" in text


def _serialized(state: dict) -> memoryview:
    """The checkpoint's bytes, made in memory: a full disk then fails in Python's write with an OSError that names
    the cause, where torch's own file writer raises an opaque RuntimeError."""
    buffer = io.BytesIO()
    torch.save(state, buffer)
    return buffer.getbuffer()   # a view, not a second copy


def load_checkpoint(path: str | Path) -> dict:
    """Read a checkpoint with ``weights_only=True``: tensors and plain values only, never pickled code."""
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # a corrupted or hostile file: torch raises UnpicklingError/RuntimeError
        raise TrainingError(f"{path}: cannot read the checkpoint ({str(error).splitlines()[0]}); "
                            "delete it to start over") from None


def clone_state(model: torch.nn.Module) -> dict:
    return copy.deepcopy(model.state_dict())

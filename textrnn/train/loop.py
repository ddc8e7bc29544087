"""One training loop for every task, and for pretraining an encoder.

A task gives a ``TaskLoop``: the batches of an epoch, the loss of one batch, and the validation metrics. ``fit``
adds what every run needs: device and mixed precision, the optimizer with gradient clipping and a learning-rate
schedule, the extensions (a moving average of the weights, adversarial training: ``train/extensions.py``), early
stopping that restores the best weights, an atomic checkpoint every epoch (and on Ctrl-C) that ``resume=True``
continues to the same result, a stop on a non-finite loss or exhausted memory, seeds, a progress bar, and the logs
(``history.json``, ``metrics.csv``, TensorBoard when asked). Under ``torchrun`` each process takes its share of
the batches (``distributed.py``).
"""
from __future__ import annotations

import contextlib
import signal
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from textrnn import distributed
from textrnn.config import to_dict
from textrnn.encode import Batch
from textrnn.errors import ConfigError, TrainingError
from textrnn.fileio import clean_temporaries
from textrnn.train.checkpoint import CHECKPOINT, load_checkpoint, save_checkpoint
from textrnn.train.config import TrainConfig, better
from textrnn.train.device import autocast_dtype, set_seed
from textrnn.train.extensions import extensions_for
from textrnn.train.logs import History, RunLogs, epoch_line, progress_bar
from textrnn.train.optim import make_optimizer, make_schedule


@dataclass
class TaskLoop:
    """What the loop needs from a task.

    ``batches(epoch)`` -> the training batches of that epoch (the same for a seed and epoch); ``step(model, batch,
    carry)`` -> (loss tensor, carry), where ``carry`` is state kept across batches (an LM's recurrent state) or None;
    ``evaluate(model)`` -> validation metrics, or ``evaluate=None`` to train without validation (an explicit choice:
    every epoch is kept and the last one is the result; early stopping needs validation).
    """

    batches: Callable[[int], list[Batch]]
    step: Callable[[torch.nn.Module, Batch, Any], tuple[torch.Tensor, Any]]
    evaluate: Callable[[torch.nn.Module], dict] | None
    on_epoch_end: list[Callable[[int, dict], None]] = field(default_factory=list)
    stop_when: Callable[[dict], bool] | None = None   # a goal on the validation metrics that ends training early


def fit(model: torch.nn.Module, loop: TaskLoop, config: TrainConfig, run_dir: str | Path | None = None,
        resume: bool = False, quiet: bool = False) -> History:
    """Train ``model`` in place and return its History; the best (or last) weights are in ``model`` at the end.

    With ``run_dir`` a checkpoint is written there atomically after every epoch and on Ctrl-C, with the logs;
    ``resume=True`` continues from it. Raises TrainingError on a non-finite loss or when memory runs out (the last
    good checkpoint stays), KeyboardInterrupt after saving on Ctrl-C."""
    run = Run(model, loop, config, Path(run_dir) if run_dir is not None else None, quiet)
    run.restore(resume)
    with run:
        for epoch in range(run.start_epoch, config.epochs):
            if run.time_up() or run.steps_up():   # a resumed run whose budget was already spent
                break
            loss, tokens, seconds = run.train_epoch(epoch)
            metrics, eval_seconds = run.validate()
            if run.end_epoch(epoch, loss, tokens, seconds, metrics, eval_seconds):
                break
    return run.finish()


class Run:
    """The state of one ``fit``: optimizer, schedule, precision, extensions, history and the checkpoint."""

    def __init__(self, model: torch.nn.Module, loop: TaskLoop, config: TrainConfig, run_dir: Path | None,
                 quiet: bool):
        config.check()
        if loop.evaluate is None and config.early_stopping:
            raise ConfigError("train.early_stopping needs validation data; give valid examples or set "
                              "train.early_stopping=0")
        self.model, self.loop, self.config, self.run_dir = model, loop, config, run_dir
        self.device = next(model.parameters()).device
        self.rank, self.world = distributed.rank_and_world()
        self.quiet = quiet or self.rank > 0
        self.writes = run_dir is not None and config.checkpoint and self.rank == 0
        if run_dir is not None and self.rank == 0:
            run_dir.mkdir(parents=True, exist_ok=True)
            clean_temporaries(run_dir)
        set_seed(config.seed)
        self.steps_per_epoch = max(1, len(loop.batches(0)) // self.world)
        self.optimizer = make_optimizer(model, config)
        self.began = time.perf_counter()
        # the clock steers the schedule and cuts epochs short only in one process: DDP ranks must take the same steps
        spent = self.spent if config.max_minutes and self.world == 1 else None
        self.schedule = make_schedule(self.optimizer, config, self.steps_per_epoch, spent)
        self.amp_dtype = autocast_dtype(self.device, config.amp, config.amp_cpu, quiet)
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.amp_dtype == torch.float16)
        self.extensions = extensions_for(model, config)
        self.history, self.best_state = History(), None
        self.start_epoch, self.start_step, self.carry = 0, 0, None
        self.steps_done = 0   # optimizer steps over the whole run (train.max_steps)
        self.logs = RunLogs(run_dir, config.log == "tensorboard", to_dict(config)) if self.writes else None
        self.stop = _StopFlag()
        if loop.evaluate is None and not self.quiet:
            print("training without validation data: every epoch is kept and the last one is the result",
                  file=sys.stderr)

    # ----- the clock, precision, checkpoints ------------------------------------------------------------------
    def spent(self) -> float:
        return (time.perf_counter() - self.began) / (self.config.max_minutes * 60)

    def time_up(self) -> bool:
        """Whether the budget is spent; under DDP all ranks decide together (their clocks differ slightly)."""
        if not self.config.max_minutes:
            return False
        if self.world == 1:
            return self.spent() >= 1
        flag = torch.tensor([1.0 if self.spent() >= 1 else 0.0], device=self.device)   # NCCL reduces CUDA tensors only
        torch.distributed.all_reduce(flag, op=torch.distributed.ReduceOp.MAX)
        return bool(flag.item())

    def steps_up(self) -> bool:
        return bool(self.config.max_steps) and self.steps_done >= self.config.max_steps

    def precision(self) -> torch.autocast:
        """Training steps and validation run in the run's mixed precision (a no-op without one)."""
        return torch.autocast(self.device.type, dtype=self.amp_dtype, enabled=self.amp_dtype is not None)

    def restore(self, resume: bool) -> None:
        path = self.run_dir / CHECKPOINT if self.run_dir is not None else None
        if not (resume and path is not None and path.exists()):
            if resume and not self.quiet:
                print("no checkpoint to resume from; starting a new run", file=sys.stderr)
            if self.logs is not None:
                self.logs.restart(self.history)
            return
        state = load_checkpoint(path)
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        if self.schedule is not None and state.get("schedule"):
            self.schedule.load_state_dict(state["schedule"])
        self.history = History(**state["history"])
        self.best_state = state.get("best_model")
        for extension in self.extensions:
            if state.get(extension.name) is not None:
                extension.load_state_dict(state[extension.name])
        self.start_epoch, self.start_step, self.carry = state["epoch"], state["step"], state.get("carry")
        self.steps_done = state.get("steps_done", self.start_epoch * self.steps_per_epoch + self.start_step)
        torch.set_rng_state(state["rng"])
        if state.get("cuda_rng") is not None and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(state["cuda_rng"])
        self.began = time.perf_counter() - self.history.seconds
        if self.logs is not None:
            self.logs.restart(self.history)
        if not self.quiet:
            print(f"resuming from {path}: epoch {self.start_epoch + 1}, step {self.start_step}", file=sys.stderr)

    def save(self, epoch: int, step: int, carry: Any) -> None:
        if not self.writes:
            return
        state = {"model": self.model.state_dict(), "optimizer": self.optimizer.state_dict(),
                 "schedule": self.schedule.state_dict() if self.schedule is not None else None,
                 "history": self.history.to_dict(), "best_model": self.best_state, "epoch": epoch, "step": step,
                 "carry": carry, "steps_done": self.steps_done, "rng": torch.get_rng_state(),
                 "cuda_rng": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None,
                 **{e.name: e.state_dict() for e in self.extensions}}
        save_checkpoint(self.run_dir / CHECKPOINT, state)

    # ----- an epoch ---------------------------------------------------------------------------------------------
    def train_epoch(self, epoch: int) -> tuple[float, int, float]:
        """Train one epoch (from the resumed step in the first one); its mean loss, real tokens and seconds."""
        self.model.train()
        batches = self.loop.batches(epoch)
        if self.world > 1:
            batches = batches[self.rank::self.world][: self.steps_per_epoch]
        began, tokens, losses = time.perf_counter(), 0, []
        progress = progress_bar(len(batches), epoch + 1, self.config.epochs, self.quiet)
        first = self.start_step if epoch == self.start_epoch else 0
        if first == 0 and epoch != self.start_epoch:
            self.carry = None
        try:
            for step in range(first, len(batches)):
                if (self.world == 1 and self.time_up()) or self.steps_up():
                    break             # the budget is spent: this epoch ends here and is evaluated
                batch = batches[step].to(self.device)
                losses.append(self.train_step(batch, epoch, step))
                self.steps_done += 1
                tokens += batch.num_tokens()
                if progress is not None:
                    rate = tokens / max(1e-9, time.perf_counter() - began)
                    progress.update(0, advance=1, info=f"loss {sum(losses) / len(losses):.4f}  {rate:,.0f} tok/s")
                if self.stop.requested:
                    self.history.seconds = time.perf_counter() - self.began
                    self.save(epoch, step + 1, self.carry)
                    where = f" in {self.run_dir / CHECKPOINT}" if self.writes else ""
                    raise KeyboardInterrupt(f"interrupted at epoch {epoch + 1}, step {step + 1}; checkpoint saved{where}")
        finally:
            if progress is not None:
                progress.stop()
        loss_sum, count = distributed.sum_across(sum(losses), len(losses), self.device)
        return loss_sum / max(1, count), tokens * self.world, time.perf_counter() - began

    def train_step(self, batch: Batch, epoch: int, step: int) -> float:
        """One optimizer step on ``batch`` (with the extensions' passes); its clean loss."""
        carry_in = self.carry
        try:
            with self.precision(), contextlib.ExitStack() as stack:
                for extension in self.extensions:
                    stack.enter_context(extension.forward())
                loss, self.carry = self.loop.step(self.model, batch, carry_in)
        except RuntimeError as error:   # torch.OutOfMemoryError on a GPU, the allocator's RuntimeError on a CPU
            if not _out_of_memory(error):
                raise
            raise TrainingError(f"out of memory at epoch {epoch + 1}, step {step + 1} with batch size "
                                f"{self.config.batch_size}; try -s train.batch_size="
                                f"{max(1, self.config.batch_size // 2)}") from None
        if not torch.isfinite(loss):
            raise TrainingError(
                f"the loss became {float(loss.detach())} at epoch {epoch + 1}, step {step + 1}: training diverged. "
                f"Lower the learning rate (now {self.config.lr:g}; try -s train.lr={self.config.lr / 10:g}) or clip "
                f"gradients harder (-s train.clip_norm=0.5). The last good checkpoint was kept.")
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()

        def again() -> torch.Tensor:
            with self.precision():
                return self.loop.step(self.model, batch, carry_in)[0]

        for extension in self.extensions:
            extra = extension.extra_loss(again)
            if extra is not None:
                self.scaler.scale(extra).backward()
        if self.config.clip_norm > 0:
            self.scaler.unscale_(self.optimizer)
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.config.clip_norm)
        self.scaler.step(self.optimizer)
        self.scaler.update()
        for extension in self.extensions:
            extension.after_step()
        if self.schedule is not None and not isinstance(self.schedule, torch.optim.lr_scheduler.ReduceLROnPlateau):
            self.schedule.step()
        return float(loss.detach())

    def validate(self) -> tuple[dict, float]:
        """The validation metrics (none without validation) and their seconds; keeps a snapshot of the best epoch
        (of the averaged weights when there is an average)."""
        if self.loop.evaluate is None:
            return {}, 0.0
        began = time.perf_counter()
        with contextlib.ExitStack() as stack:
            for extension in self.extensions:
                stack.enter_context(extension.evaluating())
            with self.precision():
                metrics = self.loop.evaluate(distributed.unwrap(self.model))
            monitor = self.config.monitor
            if monitor not in metrics:
                raise ConfigError(f"train.monitor={monitor!r} is not a validation metric; choose one of "
                                  f"{sorted(k for k, v in metrics.items() if isinstance(v, (int, float)))}")
            if better(monitor, float(metrics[monitor]), self.history.best):
                self.history.best = float(metrics[monitor])
                self.history.best_epoch = len(self.history.epochs) + 1
                self.best_state = ({k: v.detach().clone() for k, v in self.model.state_dict().items()}
                                   if self.config.restore_best else None)
        return metrics, time.perf_counter() - began

    def end_epoch(self, epoch: int, loss: float, tokens: int, seconds: float, metrics: dict,
                  eval_seconds: float) -> bool:
        """Record the epoch, step the plateau schedule, decide whether training ends, checkpoint; True to end."""
        config = self.config
        row = {"epoch": epoch + 1, "train_loss": loss,
               **{f"valid_{k}": v for k, v in metrics.items() if isinstance(v, (int, float))},
               "seconds": seconds, "eval_seconds": eval_seconds, "tokens_per_second": tokens / max(1e-9, seconds),
               "lr": self.optimizer.param_groups[0]["lr"]}
        self.history.epochs.append(row)
        improved = self.history.best_epoch == epoch + 1
        if isinstance(self.schedule, torch.optim.lr_scheduler.ReduceLROnPlateau):
            self.schedule.step(float(metrics[config.monitor]) if metrics else loss)
        self.history.seconds = time.perf_counter() - self.began
        if not self.quiet:
            print(epoch_line(row, config.epochs, metrics), file=sys.stderr)
        for callback in self.loop.on_epoch_end:
            callback(epoch + 1, metrics)
        done = epoch + 1 == config.epochs
        # epochs since the best one count against the patience, also those before a resume
        if config.early_stopping and not improved and epoch + 1 - self.history.best_epoch >= config.early_stopping:
            self.history.stopped, done = f"early stopping after epoch {epoch + 1}", True
        if self.loop.stop_when is not None and self.loop.stop_when(metrics):
            self.history.stopped, done = f"goal reached after epoch {epoch + 1}", True
        if self.time_up():
            self.history.stopped, done = f"time budget of {config.max_minutes:g} minutes reached in epoch {epoch + 1}", True
        if self.steps_up():
            self.history.stopped, done = f"{config.max_steps} steps reached in epoch {epoch + 1}", True
        self.save(epoch + 1, 0, None)
        if self.logs is not None:
            self.logs.epoch(row, self.history)
        return done

    def finish(self) -> History:
        if self.best_state is not None and self.config.restore_best:
            self.model.load_state_dict(self.best_state)
        else:
            for extension in self.extensions:
                extension.finish()
        if self.logs is not None:
            self.logs.close(self.history)
        return self.history

    def __enter__(self) -> Run:
        self.stop.install()
        return self

    def __exit__(self, *exc) -> None:
        self.stop.uninstall()
        for extension in self.extensions:
            extension.close()


class _StopFlag:
    """Turns the first Ctrl-C into a request to stop after the current step (a second one interrupts at once)."""

    def __init__(self):
        self.requested = False
        self._previous = None

    def install(self) -> None:
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._handle)

    def _handle(self, signum, frame):
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True

    def uninstall(self) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)


def _out_of_memory(error: RuntimeError) -> bool:
    """Whether a failed step ran out of memory: CUDA's OutOfMemoryError, or the CPU and MPS allocators' messages."""
    text = str(error)
    return isinstance(error, torch.OutOfMemoryError) or "can't allocate memory" in text or "out of memory" in text

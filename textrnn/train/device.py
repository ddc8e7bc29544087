"""Where and how a run computes: the device, CPU threads, seeds and mixed precision."""
from __future__ import annotations

import os
import random
import sys

import numpy as np
import torch

from textrnn.errors import ConfigError


def resolve_device(name: str = "auto") -> torch.device:
    """``auto`` picks CUDA, then MPS, then CPU; a named device that is not there is a ConfigError."""
    mps = getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        return torch.device("mps") if mps else torch.device("cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise ConfigError(f"unknown device {name!r}; use auto, cpu, cuda, cuda:N or mps") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError("--device cuda was asked for but no CUDA GPU is available here; use --device cpu or auto")
    if device.type == "mps" and not mps:
        raise ConfigError("--device mps was asked for but MPS is not available here; use --device cpu or auto")
    return device


def set_seed(seed: int) -> None:
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


def cpu_has_bf16() -> bool:
    """Whether this CPU computes bf16 natively (oneDNN's check for AVX512-BF16 or AMX)."""
    try:
        return bool(torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def autocast_dtype(device: torch.device, amp: bool, amp_cpu: bool, quiet: bool = True) -> torch.dtype | None:
    """The mixed-precision type of a run: bf16 (else fp16) on CUDA with ``amp``, bf16 on a bf16 CPU with
    ``amp_cpu``, otherwise None (full fp32)."""
    if device.type == "cuda" and amp:
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    if device.type == "cpu" and amp_cpu:
        if cpu_has_bf16():
            return torch.bfloat16
        if not quiet:
            print("train.amp_cpu: this CPU has no native bf16 (AVX512-BF16 or AMX); training in fp32", file=sys.stderr)
    return None

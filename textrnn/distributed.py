"""Running under ``torchrun --nproc_per_node=N``: DistributedDataParallel with gloo on CPU and NCCL on GPU.

Batches are sharded per rank by the training loop, the train loss is reduced across ranks, every rank evaluates
the whole validation set (so all agree on early stopping) and only rank 0 writes files.
"""
from __future__ import annotations

import os

import torch


def world_size() -> int:
    return int(os.environ.get("WORLD_SIZE", "1"))


def _active() -> bool:
    import torch.distributed as dist

    return dist.is_available() and dist.is_initialized()


def setup() -> tuple[int, int]:
    """Join the process group when started by torchrun; returns (rank, world size)."""
    import torch.distributed as dist

    if world_size() <= 1:
        return 0, 1
    if not dist.is_initialized():
        backend = "nccl" if torch.cuda.is_available() else "gloo"
        if torch.cuda.is_available():
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
        dist.init_process_group(backend=backend)
    return dist.get_rank(), dist.get_world_size()


def rank_and_world() -> tuple[int, int]:
    """This process's rank and the number of processes (0, 1 when not distributed)."""
    if _active():
        return torch.distributed.get_rank(), torch.distributed.get_world_size()
    return 0, 1


def is_main() -> bool:
    """True on rank 0, and always when not distributed: the process that writes files and prints results (before
    the process group is joined, the rank torchrun gave this process)."""
    return (rank_and_world()[0] if _active() else int(os.environ.get("RANK", "0"))) == 0


def wrap(model: torch.nn.Module) -> torch.nn.Module:
    """The model wrapped for DistributedDataParallel when running distributed, else the model itself."""
    if rank_and_world()[1] == 1:
        return model
    device = next(model.parameters()).device
    return torch.nn.parallel.DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)


def unwrap(model: torch.nn.Module) -> torch.nn.Module:
    """The model inside a DistributedDataParallel wrapper, or the model itself."""
    return model.module if isinstance(model, torch.nn.parallel.DistributedDataParallel) else model


def sum_across(total: float, count: int, device: torch.device) -> tuple[float, int]:
    """``total`` and ``count`` summed over every process (themselves when not distributed)."""
    if not _active():
        return total, count
    values = torch.tensor([total, count], dtype=torch.float64, device=device)   # NCCL reduces CUDA tensors only
    torch.distributed.all_reduce(values)
    return float(values[0]), int(values[1])

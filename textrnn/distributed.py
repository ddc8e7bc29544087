"""Running under ``torchrun --nproc_per_node=N``: DistributedDataParallel with gloo on CPU and NCCL on GPU.

Batches are sharded per rank by the training loop, the train loss is reduced across ranks, every rank evaluates
the whole validation set (so all agree on early stopping) and only rank 0 writes files.
"""
from __future__ import annotations

import os

import torch


def world_size() -> int:
    return int(os.environ.get("WORLD_SIZE", "1"))


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


def is_main() -> bool:
    """True on rank 0, and always when not distributed: the process that writes files and prints results."""
    import torch.distributed as dist

    return not (dist.is_available() and dist.is_initialized()) or dist.get_rank() == 0


def wrap(model: torch.nn.Module) -> torch.nn.Module:
    """The model wrapped for DistributedDataParallel when running distributed, else the model itself."""
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return model
    device = next(model.parameters()).device
    return torch.nn.parallel.DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)


def unwrap(model: torch.nn.Module) -> torch.nn.Module:
    return model.module if isinstance(model, torch.nn.parallel.DistributedDataParallel) else model


def teardown() -> None:
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()

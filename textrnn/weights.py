"""Model weights as safetensors: the one place that writes and reads them (a saved run, a pretrained encoder).

Reading never runs pickled code. Tied tensors (an LM's shared embedding and output matrix) are stored once, under
the first of their names, as ``safetensors.torch.save_model`` does; loading copies them to every alias.
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from textrnn.errors import PipelineError

if TYPE_CHECKING:   # torch loads where weights are written or read, not on import
    import torch


def write_weights(model: torch.nn.Module, path: Path) -> None:
    """Write ``model``'s weights into ``path``. The bytes are made in memory first, so a full disk fails in Python's
    write with an OSError that names the cause (safetensors' own file writer raises an opaque error)."""
    from safetensors.torch import save

    state = model.state_dict()
    kept: dict[tuple, str] = {}
    for name in sorted(state):
        tensor = state[name]
        key = (tensor.data_ptr(), tuple(tensor.shape)) if tensor.numel() else (name,)
        kept.setdefault(key, name)
    path.write_bytes(save({name: state[name].detach().to("cpu").contiguous() for name in kept.values()}))


def read_weights(path: Path) -> dict[str, torch.Tensor]:
    """The tensors of a safetensors file; PipelineError naming the file when it is not one."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    try:
        return load_file(str(path))
    except (SafetensorError, OSError, ValueError) as error:
        raise PipelineError(f"{path}: not a readable safetensors file ({error})") from None


def load_weights(model: torch.nn.Module, weights: dict, path: Path, vocab_size: int | None = None) -> None:
    """Copy ``weights`` into ``model``, naming any missing, unexpected or wrongly shaped tensor (and, for a tensor
    whose first axis is the vocabulary, the two sizes)."""
    expected = model.state_dict(keep_vars=True)
    for name, tensor in expected.items():   # a tied tensor was stored once: copy it to every alias
        if name not in weights:
            for other, other_tensor in expected.items():
                if other in weights and other_tensor is tensor:
                    weights[name] = weights[other]
                    break
    missing = sorted(set(expected) - set(weights))
    unexpected = sorted(set(weights) - set(expected))
    if missing or unexpected:
        raise PipelineError(f"{path}: weights do not fit the model (missing {missing[:3]}, unexpected {unexpected[:3]}); "
                            "the file belongs to another model or is corrupted")
    for name, tensor in expected.items():
        if tuple(weights[name].shape) != tuple(tensor.shape):
            hint = ""
            if vocab_size is not None and tensor.dim() >= 1 and tensor.shape[0] == vocab_size:
                hint = f": the vocabulary has {vocab_size} tokens but the weights expect {weights[name].shape[0]}"
            raise PipelineError(f"{path}: tensor {name!r} has shape {tuple(weights[name].shape)}, the model needs "
                                f"{tuple(tensor.shape)}{hint}")
    model.load_state_dict(weights, strict=True)

"""``textrnn export RUN --format onnx --out DIR``: a saved run as an ONNX graph that onnxruntime runs without torch.

What a task's graph takes and gives is its ``Task.graph`` (classify, tag, lm and regress have one; the traced paths
are ``textrnn.models.traceable``); a translate run is refused with the reason, and ``textrnn serve`` serves it.

Batch and steps (and a word's characters) are dynamic. The graph is made with ``torch.onnx.export(..., dynamo=True)``
and then checked in onnxruntime at several lengths and batch sizes against PyTorch on the same inputs: a graph
whose dimension froze, or whose numbers differ by more than ``TOLERANCE``, is refused, never written. The folder
holds the graph, ``export.json`` (what the graph takes and gives, the settings inference needs, what was checked and
the sha256 of every other file) and the run's own ``config.json``, the part files it lists (``vocab.json``,
``labels.json``, ``chars.json``, ``spm.model``: everything but the weights) and ``metrics.json`` where it has one.
``textrnn.onnx_runtime.load(DIR)`` reads it back with numpy and onnxruntime alone, its parts through
``runfiles.read_parts``. The export is written all or nothing (``fileio.save_together``).
"""
from __future__ import annotations

import contextlib
import hashlib
import io
import json
import logging
import shutil
import tempfile
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from textrnn import __version__
from textrnn.errors import ExportError, TextrnnError

if TYPE_CHECKING:
    from textrnn.models.traceable import GraphSpec

FORMATS = ("onnx",)
EXPORT_FORMAT_VERSION = 1
TOLERANCE = 1e-4                     # absolute and relative, on probabilities, scores, logits and states
CHECK_STEPS = (1, 2, 11, 37)         # the example is traced at 7 steps: these show a dimension that froze
CHECK_BATCHES = (1, 4)
EXAMPLE_BATCH, EXAMPLE_STEPS, EXAMPLE_WIDTH = 3, 7, 5
GRAPH = "model.onnx"
MANIFEST = "export.json"
WEIGHTS = "model.safetensors"        # the one file of a run an export leaves out: the graph holds the weights


def graph_spec(pipe) -> GraphSpec:
    """The graph of a loaded pipeline's task (its ``Task.graph``). Raises ExportError for a task without one."""
    if pipe.task.graph is None:
        raise ExportError(f"cannot export a {pipe.config.task!r} run: its task has no exported graph")
    return pipe.task.graph(pipe)


def _trace(spec: GraphSpec):
    """The ONNX program of ``spec`` (torch.onnx.export with dynamo=True), its annotations made trustworthy."""
    import torch
    from onnxscript import ir

    example = spec.make_inputs(np.random.default_rng(0), EXAMPLE_BATCH, EXAMPLE_STEPS, EXAMPLE_WIDTH)
    args = tuple(torch.from_numpy(example[name]) for name in spec.input_names)
    # Dim.AUTO rather than named Dims: a named Dim makes any guard the tracer adds ("the batch is not 1", met by
    # the LSTM's export decomposition) a hard error, and one on a derived length (a convolution's pooled steps)
    # crashes torch's constraint solver. Whether a dimension stayed dynamic is checked below, and the numbers at
    # one step and one row by _check.
    dynamic_shapes = {name: {axis: torch.export.Dim.AUTO for axis in spec.dynamic[name]} for name in spec.input_names}
    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings(), _quiet_loggers():
        # the exporter reports its steps on stdout and warns about torch internals it traces through
        warnings.simplefilter("ignore")
        try:
            program = torch.onnx.export(spec.module, args, dynamo=True, input_names=spec.input_names,
                                        output_names=spec.output_names, dynamic_shapes=dynamic_shapes,
                                        optimize=False, verbose=False)
        except torch.onnx.OnnxExporterError as error:
            cause = error.__cause__ or error           # torch's own error, under the exporter's "step 1/3" banner
            reason = next((line.strip() for line in str(cause).splitlines() if line.strip()), type(cause).__name__)
            raise ExportError(f"torch.onnx could not export this model ({reason}); it is not exported") from error
    graph = program.model.graph
    frozen = [f"{value.name} axis {axis} ({spec.dynamic[value.name][axis]})" for value in graph.inputs
              for axis in spec.dynamic[value.name] if not isinstance(value.shape[axis], ir.SymbolicDim)]
    if frozen:
        raise ExportError(f"the exporter fixed dimensions that must stay dynamic: {', '.join(frozen)}; this model "
                          "cannot be exported with torch " + torch.__version__)
    program.rename_axes({value.shape[axis]: spec.dynamic[value.name][axis]
                         for value in graph.inputs for axis in spec.dynamic[value.name]})
    # torch 2.13 can record the example's length in the shapes it infers after an LSTM or GRU (pytorch/pytorch
    # #191855): drop every inferred shape, declare the outputs' own, and let the optimizer infer the rest afresh
    outputs = set(graph.outputs)
    for node in graph:
        for value in node.outputs:
            if value not in outputs:
                value.shape = None
    for value in graph.outputs:
        value.shape = ir.Shape([ir.SymbolicDim(d) if isinstance(d, str) else d for d in spec.output_axes[value.name]])
    program.optimize()
    return program


@contextlib.contextmanager
def _quiet_loggers():
    """torch.onnx logs a warning per torchvision operator it cannot register (torchvision is not needed here)."""
    logger = logging.getLogger("torch.onnx._internal.exporter._registration")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


def _check(spec: GraphSpec, session) -> dict:
    """Run the graph in onnxruntime at CHECK_STEPS x CHECK_BATCHES against PyTorch; the largest differences."""
    import torch

    rng = np.random.default_rng(1)
    worst = 0.0
    for steps in CHECK_STEPS:
        for batch in CHECK_BATCHES:
            made = spec.make_inputs(rng, batch, steps, 1 + steps % 6)
            got = session.run(spec.output_names, made)
            with torch.inference_mode():
                want = spec.module(*(torch.from_numpy(made[name]) for name in spec.input_names))
            want = [want] if isinstance(want, torch.Tensor) else list(want)
            for name, ours, theirs in zip(spec.output_names, got, want, strict=True):
                theirs = theirs.float().numpy()
                if ours.shape != theirs.shape:
                    raise ExportError(f"the ONNX graph's {name} has shape {ours.shape} at batch {batch} and {steps} "
                                      f"steps where PyTorch gives {theirs.shape}: a dimension froze; not exported")
                difference = float(np.max(np.abs(ours - theirs))) if ours.size else 0.0
                if not np.allclose(ours, theirs, rtol=TOLERANCE, atol=TOLERANCE):
                    raise ExportError(f"the ONNX graph's {name} differs from PyTorch's by up to {difference:.3g} at "
                                      f"batch {batch} and {steps} steps (tolerance {TOLERANCE}); not exported")
                worst = max(worst, difference)
    return {"steps": list(CHECK_STEPS), "batches": list(CHECK_BATCHES), "max_abs_difference": worst,
            "tolerance": TOLERANCE}


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def export_run(run_dir: str | Path, out_dir: str | Path, format: str = "onnx") -> dict:
    """Export the saved run ``run_dir`` into ``out_dir`` (see the module docstring) and return its manifest.

    Raises ExportError for an unknown format, a run the traced paths do not cover (a translator), or a graph that
    fails its check in onnxruntime; PipelineError for a run that does not load; and a TextrnnError naming the
    missing package when the export extra is not installed.
    """
    if format not in FORMATS:
        raise ExportError(f"unknown export format {format!r}; choose one of {', '.join(FORMATS)}")
    _require_packages()
    import onnx
    import onnxruntime
    import onnxscript
    import torch

    from textrnn.fileio import atomic_write_json, save_together
    from textrnn.pipeline import load
    from textrnn.runfiles import run_files, saved_files

    run_dir, out_dir = Path(run_dir), Path(out_dir)
    if out_dir.resolve() == run_dir.resolve():
        raise ExportError(f"{out_dir}: export into a folder of its own, not into the run")
    pipe = load(run_dir, device="cpu")
    spec = graph_spec(pipe)
    where = run_files(run_dir)
    listed = json.loads(where["config.json"].read_text(encoding="utf-8"))["files"]
    copied = ["config.json", *sorted(set(listed) - {WEIGHTS}), *(["metrics.json"] if where["metrics.json"].is_file()
                                                                  else [])]
    spec.module.eval()
    program = _trace(spec)
    with tempfile.TemporaryDirectory() as scratch:   # checked before anything lands in out_dir
        graph_path = Path(scratch) / GRAPH
        program.save(graph_path, external_data=False)
        session = onnxruntime.InferenceSession(str(graph_path), providers=["CPUExecutionProvider"])
        checked = _check(spec, session)

        def write(staging: Path) -> list[str]:
            shutil.copyfile(graph_path, staging / GRAPH)
            names = [GRAPH, *copied]
            for name in copied:
                shutil.copyfile(where[name], staging / name)
            manifest = {
                "format_version": EXPORT_FORMAT_VERSION, "textrnn_version": __version__, "format": format,
                "task": pipe.config.task, "graph": GRAPH,
                "inputs": {name: _describe(value) for name, value in
                           zip(spec.input_names, program.model.graph.inputs, strict=True)},
                "outputs": {name: spec.output_axes[name] for name in spec.output_names},
                "settings": spec.settings, "crf": spec.crf, "checked": checked,
                "versions": {"torch": torch.__version__, "onnx": onnx.__version__,
                             "onnxscript": onnxscript.__version__, "onnxruntime": onnxruntime.__version__,
                             "opset": program.model.opset_imports.get("")},
                "files": {name: _sha256(staging / name) for name in names},
            }
            atomic_write_json(staging / MANIFEST, manifest)
            return names + [MANIFEST]

        known = (saved_files() - {WEIGHTS}) | {GRAPH, MANIFEST}
        save_together(out_dir, write, known.__contains__)
    return json.loads((out_dir / MANIFEST).read_text(encoding="utf-8"))


def _describe(value) -> dict:
    """An ONNX input as ``{"dtype", "shape"}``, dimension names where dynamic."""
    shape = [dim.value if hasattr(dim, "value") else dim for dim in value.shape]
    return {"dtype": str(value.dtype.numpy()), "shape": shape}


def _require_packages() -> None:
    missing = [name for name in ("onnx", "onnxscript", "onnxruntime") if not _importable(name)]
    if missing:
        raise TextrnnError(f"export needs {', '.join(missing)}: pip install \"textrnn[export]\"")


def _importable(name: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(name) is not None

"""A saved pipeline is one directory of plain files; this is the only module that knows its format::

    config.json         format_version, textrnn version, task, every setting, the parts and the sha256 of each file
    vocab.json, ...     each vocabulary or label part as a JSON list (index = id): vocab.json, labels.json,
                        chars.json (a tagger's characters), source_vocab.json ...
    spm.model, ...      a sentencepiece tokenizer's model (``<name>spm.model``: spm.model, source_spm.model ...)
    model.safetensors   weights only: loading never runs pickled code
    metrics.json        the run's figures, when saved with them

A save is all or nothing (``fileio.save_together``): the files are written into a staging folder, a commit file
lists them, and they are renamed into place with ``config.json`` last, holding the checksums of the others. A load
reads a save cut off while renaming as it committed, and never writes; the next save or ``repair`` finishes it.
Only the file names of the format are ever read or moved (``saved_files``).
"""
from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

from textrnn import __version__
from textrnn.config import from_dict, to_dict
from textrnn.errors import ConfigError, PipelineError
from textrnn.fileio import (
    atomic_write,
    atomic_write_json,
    check_name,
    clean_temporaries,
    committed_files,
    finish_saving,
    save_together,
)
from textrnn.tasks import TASK_NAMES, get_task
from textrnn.tokenize import SentencePieceTokenizer, tokenizer_from_config
from textrnn.vocab import LabelVocab, Vocab
from textrnn.weights import load_weights, read_weights, write_weights

FORMAT_VERSION = 2   # 1: before the task registry (the parts, and the task's settings, had no place of their own)
FIXED_FILES = frozenset({"config.json", "metrics.json", "model.safetensors"})
_PART_NAME = re.compile(r"[a-z][a-z_]*")


def saved_files() -> frozenset[str]:
    """Every file name a saved pipeline of any task may hold: nothing else is read from or moved into a run."""
    return FIXED_FILES.union(*(get_task(name).files for name in TASK_NAMES))


def spm_file(part: str) -> str:
    """The sentencepiece model file of tokenizer part ``part`` ("tokenizer" -> spm.model)."""
    return part.removesuffix("tokenizer") + "spm.model"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


# ----- writing ----------------------------------------------------------------------------------------------------
def save_run(pipe, run_dir: Path, metrics: dict | None = None) -> None:
    """Write ``pipe`` (and ``metrics``) into ``run_dir`` all or nothing; ``config.json`` lands last."""
    known = saved_files()
    clean_temporaries(run_dir)
    save_together(run_dir, lambda staging: _write_files(pipe, staging, metrics), known.__contains__)


def _write_files(pipe, folder: Path, metrics: dict | None) -> list[str]:
    from textrnn.distributed import unwrap

    files, parts = ["model.safetensors"], {}
    for name, part in sorted(pipe.parts.items()):
        if isinstance(part, (Vocab, LabelVocab)):
            part.save(folder / f"{name}.json")
            files.append(f"{name}.json")
            parts[name] = {"kind": "labels" if isinstance(part, LabelVocab) else "vocab", "size": len(part)}
        else:
            parts[name] = {"kind": "tokenizer", "config": part.config()}
            if isinstance(part, SentencePieceTokenizer):
                part.save_model(folder / spm_file(name))
                files.append(spm_file(name))
    atomic_write(folder / "model.safetensors", lambda tmp: write_weights(unwrap(pipe.model), tmp))
    document = {"format_version": FORMAT_VERSION, "textrnn_version": __version__, "parts": parts,
                "files": {name: _sha256(folder / name) for name in files}, **to_dict(pipe.config)}
    if metrics is not None:
        atomic_write_json(folder / "metrics.json", metrics)
        files.append("metrics.json")
    atomic_write_json(folder / "config.json", document)
    return files + ["config.json"]


def repair(run_dir: str | Path) -> bool:
    """Finish a save that was cut off while moving its files in, as the next save would (``textrnn repair``); True
    when there was one. Raises PipelineError for a commit file naming anything but the run's own files."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise PipelineError(f"{run_dir}: no such run directory")
    clean_temporaries(run_dir)
    return finish_saving(run_dir, saved_files().__contains__)


# ----- reading ----------------------------------------------------------------------------------------------------
def run_files(run_dir: Path) -> dict[str, Path]:
    """Where each file of the run is: in the run, or in the staging folder of a committed, unfinished save."""
    known = saved_files()
    return {name: run_dir / name for name in known} | committed_files(run_dir, known.__contains__)


def load_run(cls, config_class: type, run_dir: Path):
    """The pipeline saved in ``run_dir`` (``cls(config, parts)`` of a ``config_class`` config), every file checked;
    reads only."""
    if not run_dir.is_dir():
        raise PipelineError(f"{run_dir}: no such run directory; train one with 'textrnn run RECIPE --out {run_dir}'")
    where = run_files(run_dir)
    path = where["config.json"]
    if not path.exists():
        raise PipelineError(f"{path}: missing; {run_dir} is not a saved textrnn pipeline (or its save never finished)")
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise PipelineError(f"{path}: not valid JSON ({error}); the file is corrupted") from None
    if not isinstance(document, dict):
        raise PipelineError(f"{path}: must hold a JSON object")
    version = document.pop("format_version", None)
    if version != FORMAT_VERSION:
        raise PipelineError(f"{path}: format_version {version!r} is not supported (this textrnn reads "
                            f"{FORMAT_VERSION}); retrain the run, or use the textrnn version that saved it "
                            f"({document.get('textrnn_version', 'unknown')})")
    document.pop("textrnn_version", None)
    parts_doc, files = document.pop("parts", None), document.pop("files", None)
    _check_files(files, where, path)
    try:
        config = from_dict(config_class, document, "config")
        task = get_task(config.task)
    except ConfigError as error:
        raise PipelineError(f"{path}: {error}") from None
    parts = read_parts(parts_doc, files, where, path, task.files)
    try:
        pipe = cls(config, parts)
    except (ConfigError, TypeError, ValueError) as error:
        raise PipelineError(f"{path}: the model settings do not build a model ({error})") from None
    vocab = parts.get("vocab")
    load_weights(pipe.model, read_weights(where["model.safetensors"]), where["model.safetensors"],
                 len(vocab) if vocab is not None else None)
    pipe.model.eval()
    return pipe


def _check_files(files, where: dict[str, Path], path: Path) -> None:
    if not isinstance(files, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in files.items()):
        raise PipelineError(f"{path}: 'files' must map file names to sha256 checksums")
    for name, digest in files.items():
        file_path = where[check_name(name, where.__contains__, path)]
        if not file_path.exists():
            raise PipelineError(f"{file_path}: missing; copy the whole run directory or save the pipeline again")
        if _sha256(file_path) != digest:
            raise PipelineError(f"{file_path}: does not match the checksum in config.json (corrupted, or "
                                "replaced after saving); save the pipeline again")


def read_parts(parts_doc, files: dict, where: dict[str, Path], path: Path, task_files: frozenset[str]) -> dict:
    """The parts (tokenizers, vocabularies, labels) that config.json's ``parts`` describe, read from ``where``
    (file name -> path); ``files`` are the files config.json lists, ``task_files`` the names a part may be read
    from. Needs no torch, so an exported run (``textrnn.onnx_runtime``) reads its parts here too. Raises
    PipelineError naming the part for one that is not a part of a saved pipeline."""
    if not isinstance(parts_doc, dict):
        raise PipelineError(f"{path}: 'parts' must map part names to their kind")
    parts = {}
    for name, entry in parts_doc.items():
        if not (isinstance(name, str) and _PART_NAME.fullmatch(name) and isinstance(entry, dict)):
            raise PipelineError(f"{path}: part {name!r} is not a part of a saved pipeline")
        kind = entry.get("kind")
        file = spm_file(name) if kind == "tokenizer" else f"{name}.json"
        needs_file = kind != "tokenizer" or (entry.get("config") or {}).get("kind") == "sentencepiece"
        if needs_file and (file not in task_files or file not in files):
            raise PipelineError(f"{path}: part {name!r} needs the file {file}, which this task's runs do not hold")
        if kind == "tokenizer":
            parts[name] = tokenizer_from_config(entry.get("config"), where[file] if needs_file else None)
        elif kind in ("vocab", "labels"):
            parts[name] = (Vocab if kind == "vocab" else LabelVocab).load(where[file])
            if entry.get("size") is not None and entry["size"] != len(parts[name]):
                raise PipelineError(f"{where[file]}: holds {len(parts[name])} entries but config.json says "
                                    f"{entry['size']}")
        else:
            raise PipelineError(f"{path}: part {name!r} has an unknown kind {kind!r}")
    return parts

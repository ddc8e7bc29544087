"""``textrnn train classify|tag|lm --data FILE``: the recipe runner on a user's own corpus."""
from __future__ import annotations

from pathlib import Path

from textrnn.config import apply_overrides, from_dict
from textrnn.recipes import Recipe, run_text

DEFAULTS = {
    "classify": {"model": {"cell": "lstm", "hidden_dim": 128, "bidirectional": True, "pooling": "max"},
                 "vocab": {"min_freq": 2, "max_size": 30000}, "encode": {"max_len": 400},
                 "train": {"epochs": 10, "batch_size": 32, "lr": 0.002, "early_stopping": 3, "monitor": "accuracy"}},
    "tag": {"model": {"cell": "lstm", "hidden_dim": 128, "bidirectional": True},
            "train": {"epochs": 15, "batch_size": 32, "lr": 0.002, "early_stopping": 3}},
    "lm": {"model": {"cell": "lstm", "hidden_dim": 256, "num_layers": 2, "dropout": 0.2},
           "vocab": {"min_freq": 2, "max_size": 30000},
           "train": {"epochs": 10, "batch_size": 32, "lr": 0.002, "early_stopping": 2}},
}


def train_custom(task: str, data: str | Path, valid: str | Path | None = None, text_field: str = "text",
                 label_field: str = "label", tokenizer: str = "word", embedding: str = "learned", cell: str = "lstm",
                 out: str | Path = "runs/custom", overrides: list[str] = (), device: str | None = None,
                 resume: bool = False, quiet: bool = False, init_from: str | Path | None = None) -> dict:
    """Train a pipeline on a file (jsonl, csv/tsv, txt or CoNLL) with sensible defaults; returns its metrics.

    ``init_from``: a saved run of the same task to go on from (fine-tuning): its tokenizer, vocabulary, labels,
    model and weights are kept, so ``tokenizer``, ``embedding`` and ``cell`` do not apply."""
    raw = {"name": Path(out).name, "runner": "text", "task": task,
           "data": {"path": str(data), "valid_path": str(valid) if valid else None,
                    "text_field": text_field, "label_field": label_field},
           "tokenizer": {"kind": tokenizer}, **{k: dict(v) for k, v in DEFAULTS[task].items()}}
    raw["model"] = {**raw["model"], "cell": cell, "embedding": {"kind": embedding}}
    if device:
        raw["train"]["device"] = device
    if init_from:
        raw["init_from"] = str(init_from)
    recipe = from_dict(Recipe, apply_overrides(raw, list(overrides)))
    return run_text(recipe, out_dir=Path(out), resume=resume, quiet=quiet)

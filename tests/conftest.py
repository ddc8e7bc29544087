"""Shared fixtures: tiny corpora written here (never copied from a real corpus) and the data-dir switch."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("MPLBACKEND", "Agg")
DATA_DIR = os.environ.get("TEXTRNN_DATA_DIR")


def data_available(name: str) -> bool:
    return bool(DATA_DIR) and (Path(DATA_DIR) / name).is_dir()


def needs_data(name: str):
    """Skip (with the reason) when the real corpus is not in TEXTRNN_DATA_DIR."""
    return pytest.mark.skipif(not data_available(name),
                              reason=f"needs the {name} corpus: set TEXTRNN_DATA_DIR to a folder holding {name}/")


POSITIVE = ["a wonderful film with great acting", "i loved it , great story and fine music",
            "brilliant and moving , a great film", "fine acting , wonderful story"]
NEGATIVE = ["a dull film with bad acting", "i hated it , boring story and awful music",
            "terrible and boring , a bad film", "awful acting , dull story"]


@pytest.fixture
def sentiment_file(tmp_path: Path) -> Path:
    """A small JSON-lines classification file (labels pos/neg), 48 rows."""
    import json

    path = tmp_path / "reviews.jsonl"
    rows = [{"text": t, "label": "pos"} for t in POSITIVE] + [{"text": t, "label": "neg"} for t in NEGATIVE]
    path.write_text("\n".join(json.dumps(r) for r in rows * 6) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def conll_file(tmp_path: Path) -> Path:
    """A small IOB2 CoNLL file (token POS chunk NER)."""
    sentences = [
        [("Teddy", "B-PER"), ("Roosevelt", "I-PER"), ("visited", "O"), ("Paris", "B-LOC"), (".", "O")],
        [("Marie", "B-PER"), ("Curie", "I-PER"), ("worked", "O"), ("in", "O"), ("Warsaw", "B-LOC"), (".", "O")],
        [("The", "O"), ("United", "B-ORG"), ("Nations", "I-ORG"), ("met", "O"), ("in", "O"), ("Geneva", "B-LOC")],
        [("Ada", "B-PER"), ("Lovelace", "I-PER"), ("wrote", "O"), ("about", "O"), ("Babbage", "B-PER")],
    ]
    lines = ["-DOCSTART- -X- -X- O", ""]
    for sentence in sentences * 4:
        lines += [f"{w} NN O {t}" for w, t in sentence] + [""]
    path = tmp_path / "train.conll"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


@pytest.fixture
def text_file(tmp_path: Path) -> Path:
    """A small line corpus for language models."""
    lines = ["the cat sat on the mat", "the dog sat on the log", "a cat and a dog", "the mat and the log"] * 20
    path = tmp_path / "lines.txt"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path

"""Vocabulary building plus encoding of IMDB train (25,000 reviews): textrnn against Keras TextVectorization
(adapt + call, in the anchors' Keras venv) and the Hugging Face `tokenizers` word-level model (a reference).

    pip install -e ".[bench]"    # the Hugging Face tokenizers reference
    python bench/vectorize.py [--repeats 3]

Each side: 5,000-word vocabulary built from the texts, then every text encoded to ids; best of the repeats.
"""
from __future__ import annotations

import argparse
import gzip
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from common import SHARED, machine, record, today

KERAS = """
import gzip, json, sys, time
import numpy as np, keras
texts = np.array([json.loads(l)["text"].replace("<br />", " ") for l in gzip.open(sys.argv[1], "rt", encoding="utf-8")])
best = 1e9
for _ in range(int(sys.argv[2])):
    t = time.perf_counter()
    vec = keras.layers.TextVectorization(max_tokens=5000, output_sequence_length=500)
    vec.adapt(texts); ids = vec(texts).numpy()
    best = min(best, time.perf_counter() - t)
print(json.dumps({"seconds": best, "tokens": int((ids > 0).sum())}))
"""


def read_texts(path: Path) -> list[str]:
    with gzip.open(path, "rt", encoding="utf-8") as f:
        return [json.loads(line)["text"].replace("<br />", " ") for line in f]


def textrnn_side(texts: list[str], repeats: int) -> float:
    """As a Pipeline does it: tokenizing and encoding with the cyclic garbage collector paused."""
    from textrnn import Vocab, WordTokenizer
    from textrnn.bulk import collector_paused

    best = float("inf")
    for _ in range(repeats):
        began = time.perf_counter()
        with collector_paused():
            tokenizer = WordTokenizer(lower=True)
            tokens = [tokenizer.tokenize(t) for t in texts]
            vocab = Vocab.build(tokens, max_size=5000)
            ids = [vocab.encode(t[:500]) for t in tokens]
        best = min(best, time.perf_counter() - began)
    assert len(ids) == len(texts)
    return best


def hf_side(texts: list[str], repeats: int) -> float | None:
    try:
        from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, trainers
    except ImportError:
        return None
    best = float("inf")
    for _ in range(repeats):
        began = time.perf_counter()
        tok = Tokenizer(models.WordLevel(unk_token="<unk>"))
        tok.normalizer = normalizers.Lowercase()
        tok.pre_tokenizer = pre_tokenizers.Whitespace()
        tok.train_from_iterator(texts, trainers.WordLevelTrainer(vocab_size=5000, special_tokens=["<pad>", "<unk>"]))
        tok.encode_batch(texts)
        best = min(best, time.perf_counter() - began)
    return best


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    path = Path(os.environ.get("TEXTRNN_DATA_DIR", SHARED / "data")) / "imdb" / "train.jsonl.gz"
    texts = read_texts(path)
    ours = textrnn_side(texts, args.repeats)
    hf = hf_side(texts, args.repeats)
    venv = Path(os.environ.get("KERAS_VENV", Path.home() / ".cache" / "textrnn-keras-venv"))
    keras = None
    if (venv / "bin" / "python").exists():
        done = subprocess.run([str(venv / "bin" / "python"), "-c", KERAS, str(path), str(args.repeats)],
                              capture_output=True, text=True, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
        lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
        keras = json.loads(lines[-1])["seconds"] if lines else None
    row = {"what": "vocabulary + encoding of IMDB train (25,000 reviews)", "textrnn_seconds": ours,
           "keras_seconds": keras, "hf_tokenizers_seconds": hf,
           "ratio_to_keras": ours / keras if keras else None, "repeats": args.repeats,
           "machine": machine(), "date": today(), "command": "python bench/vectorize.py"}
    record("vectorize", row, ("what",))
    print(json.dumps({k: row[k] for k in ("textrnn_seconds", "keras_seconds", "hf_tokenizers_seconds", "ratio_to_keras")}))
    if keras is None:
        print("Keras venv not found: run `bash ../shared/anchors/run.sh multiply 0 1` once to create it", file=sys.stderr)


if __name__ == "__main__":
    main()

"""onnxruntime against PyTorch on the CPU: the latency of an exported run's answers (``textrnn.onnx_runtime``)
beside the saved pipeline's, for one sentence and for a batch of 64, with one thread each.

The models have the recipes' shapes (random weights: the time does not depend on their values): a classifier like
``reuters`` (BiLSTM 2x256 over 128-d embeddings, max and mean pooling, 46 labels) answering ``predict``, and a tagger
like ``ner`` with one member where the recipe decodes two together (BiLSTM 2x200 over 100-d embeddings, a character
CNN, a casing feature and a CRF) answering ``tag``. Both sides tokenize the same way, so the figures are what a caller sees.

    python bench/onnx_speed.py [--repeats 30]

It prints JSON and records one row per model into bench/results.json (section ``onnx``).
"""
from __future__ import annotations

import argparse
import json
import random
import statistics
import tempfile
import time
from pathlib import Path

from common import commit, machine, record, today

WORDS = [f"w{i}" for i in range(20_000)]
NAMES = ["Ada", "Lovelace", "Paris", "Geneva", "Marie", "Curie", "London", "Reuters"]


def sentence(rng: random.Random, words: int = 18) -> str:
    return " ".join(rng.choice(WORDS) if rng.random() < 0.8 else rng.choice(NAMES) for _ in range(words))


def build(root: Path):
    """Steps: generated texts, the recipes' vocabulary sizes and model shapes (untrained), save, export."""
    import torch

    from textrnn.corpus import Example
    from textrnn.export import export_run
    from textrnn.pipeline import Pipeline

    torch.manual_seed(0)
    rng = random.Random(0)
    texts = [sentence(rng, 30) for _ in range(700)]
    classifier = Pipeline.for_task(
        "classify", train=[Example(text=t, label=f"topic{i % 46}") for i, t in enumerate(texts)], quiet=True,
        vocab={"max_size": 20_000}, model={"hidden_dim": 256, "bidirectional": True, "pooling": "max+mean",
                                           "embedding": {"dim": 128}})
    tags = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC", "B-ORG", "I-ORG", "B-MISC", "I-MISC"]
    tagger = Pipeline.for_task(
        "tag", train=[Example(tokens=t.split(), tags=[tags[len(w) % 9] for w in t.split()]) for t in texts],
        quiet=True, model={"hidden_dim": 200, "crf": True, "char_dim": 30, "char_hidden": 50, "casing_dim": 8,
                           "embedding": {"dim": 100}})
    runs = {}
    for name, pipe in (("classifier", classifier), ("tagger", tagger)):
        run = pipe.save(root / name)
        export_run(run, root / f"{name}-onnx")
        runs[name] = (run, root / f"{name}-onnx")
    return runs


def best_ms(call, repeats: int) -> dict:
    """Median and best wall milliseconds of ``call()`` over ``repeats`` runs after three warm-up runs."""
    for _ in range(3):
        call()
    times = []
    for _ in range(repeats):
        began = time.perf_counter()
        call()
        times.append((time.perf_counter() - began) * 1000)
    return {"median_ms": round(statistics.median(times), 2), "best_ms": round(min(times), 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=30)
    args = parser.parse_args()
    import torch

    from textrnn import onnx_runtime
    from textrnn.pipeline import load

    torch.set_num_threads(1)
    rng = random.Random(1)
    one, batch = [sentence(rng)], [sentence(rng) for _ in range(64)]
    rows = {}
    with tempfile.TemporaryDirectory() as scratch:
        for name, (run, exported) in build(Path(scratch)).items():
            method = "predict" if name == "classifier" else "tag"
            pytorch = getattr(load(run), method)
            onnx = getattr(onnx_runtime.load(exported, threads=1), method)
            row = {}
            for label, texts in (("one sentence", one), ("batch of 64", batch)):
                theirs = best_ms(lambda f=pytorch, t=texts: f(t), args.repeats)
                ours = best_ms(lambda f=onnx, t=texts: f(t), args.repeats)
                row[label] = {"pytorch": theirs, "onnxruntime": ours,
                              "speed_up": round(theirs["median_ms"] / ours["median_ms"], 2)}
            rows[name] = row
    print(json.dumps(rows, indent=2))
    shapes = {"classifier": "classifier of the reuters recipe's shape (BiLSTM 2x256, 128-d embeddings, 46 labels), "
                            "predict, 18-word sentences",
              "tagger": "tagger of the ner recipe's shape, one member (BiLSTM 2x200, character CNN, casing, CRF), "
                        "tag, 18-word sentences"}
    for name, row in rows.items():
        record("onnx", {"model": name, "what": shapes[name], "result": row, "threads": 1, "machine": machine(),
                        "commit": commit(), "date": today(),
                        "command": f"python bench/onnx_speed.py --repeats {args.repeats}"}, ("model",))


if __name__ == "__main__":
    main()

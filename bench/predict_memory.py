"""How much memory ``textrnn predict RUN --file`` needs as the file grows: peak RSS at 10,000 and 100,000 lines.

A streaming predict reads, encodes and prints one chunk of lines at a time, so its peak should not grow with the
file. The script trains a tiny classifier in a temporary folder, writes generated files of one short text per line,
runs the real command on each (one torch thread) through a small launcher that reads its peak RSS with ``wait4``.
Run: ``python bench/predict_memory.py [--lines 10000 100000] [--words 20]``; it prints one JSON line.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import commit, machine, record, today

TOPICS = {"oil": "oil crude barrel price opec energy gas pipeline refinery drilling".split(),
          "money": "bank loan interest rate credit deposit mortgage lender finance debt".split()}
FILLER = "the a of and to in on for with by".split()


def text(rng: random.Random, topic: str, words: int) -> str:
    return " ".join(rng.choice(TOPICS[topic]) if rng.random() < 0.4 else rng.choice(FILLER) for _ in range(words))


def train_tiny_classifier(run_dir: Path) -> None:
    """Steps: generated data, word vocabulary, a 32-unit bidirectional LSTM, two epochs, save."""
    from textrnn.corpus import Example
    from textrnn.pipeline import Pipeline

    rng = random.Random(0)
    train = [Example(text=text(rng, topic, rng.randint(8, 30)), label=topic) for _ in range(300) for topic in TOPICS]
    pipe = Pipeline.for_task("classify", train=train, encode={"max_len": 400}, quiet=True,
                             model={"hidden_dim": 32, "bidirectional": True, "pooling": "max", "embedding": {"dim": 32}},
                             train_config={"epochs": 2, "batch_size": 32, "threads": 1, "device": "cpu"})
    pipe.fit(train, train, quiet=True)
    pipe.save(run_dir)


def write_texts(path: Path, lines: int, words: int) -> None:
    rng = random.Random(1)
    with open(path, "w", encoding="utf-8") as f:
        for _ in range(lines):
            f.write(text(rng, rng.choice(list(TOPICS)), words) + "\n")


# Linux keeps the memory high-water mark across exec, so a command started from this process (torch loaded, a model
# trained) would report at least this process's size: a small launcher starts it and reports its own child's peak.
LAUNCHER = ("import os, subprocess, sys; process = subprocess.Popen(sys.argv[2:]); "
            "_, status, usage = os.wait4(process.pid, 0); "
            "open(sys.argv[1], 'w').write(f'{usage.ru_maxrss} {os.waitstatus_to_exitcode(status)}')")


def measure(run_dir: Path, texts: Path, output: Path) -> dict:
    """Peak RSS (MB) and seconds of one ``textrnn predict RUN --file TEXTS --json`` process."""
    command = [sys.executable, "-m", "textrnn.cli", "predict", str(run_dir), "--file", str(texts), "--json"]
    report = output.with_suffix(".rss")
    began = time.perf_counter()
    with open(output, "w") as stdout:
        done = subprocess.run([sys.executable, "-c", LAUNCHER, str(report), *command], stdout=stdout,
                              stderr=subprocess.PIPE, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
    seconds = time.perf_counter() - began
    kilobytes, status = report.read_text().split() if report.exists() else ("0", "-1")
    if done.returncode != 0 or status != "0":
        sys.exit(f"textrnn predict failed (exit {status}): {done.stderr[-2000:]}")
    with open(output) as f:
        printed = sum(1 for _ in f)
    return {"peak_rss_mb": round(int(kilobytes) / 1024, 1), "seconds": round(seconds, 1),
            "file_mb": round(texts.stat().st_size / 2**20, 1), "predictions": printed}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--words", type=int, default=20, help="words per line")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="textrnn-predict-memory-") as folder:
        folder = Path(folder)
        train_tiny_classifier(folder / "run")
        runs = {}
        for lines in args.lines:
            texts = folder / f"texts-{lines}.txt"
            write_texts(texts, lines, args.words)
            runs[f"{lines:,} lines"] = measure(folder / "run", texts, folder / f"predictions-{lines}.jsonl")
    peaks = [run["peak_rss_mb"] for run in runs.values()]
    row = {"what": f"peak RSS of textrnn predict RUN --file ({' vs '.join(runs)}, {args.words} words a line)",
           "result": {**runs, "growth_mb": round(peaks[-1] - peaks[0], 1)}, "machine": machine(),
           "commit": commit(), "date": today(), "command": "python bench/predict_memory.py"}
    print(json.dumps(row, ensure_ascii=False))
    record("other", row, ("what",))


if __name__ == "__main__":
    main()

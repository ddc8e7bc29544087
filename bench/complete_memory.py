"""How much memory ``complete`` (``pipe.complete``, which ``textrnn complete`` calls) needs as the text before the blank grows: peak RSS and seconds for a text of
120 KB and one of 1.1 MB (the sizes that once took 1.1 and 8.0 GB), with a tiny character LM.

The command reads the last 4,000 characters before the blank (``tasks/lm/fill.py``), so its peak should not grow
with the text. Run: ``python bench/complete_memory.py [--sizes 120000 1100000]``; it prints one JSON line and
records it in bench/results.json ("other").
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import commit, machine, record, today
from predict_memory import LAUNCHER

COMPLETE = ("import json, sys, textrnn; text = open(sys.argv[2], encoding='utf-8').read(); "
            "print(json.dumps(textrnn.load(sys.argv[1]).complete(text, candidates=['tea', 'coffee'])))")
SENTENCES = ["i drink coffee every morning", "we drink tea in the evening", "the cat sleeps on the mat"]


def tiny_lm(run_dir: Path) -> None:
    from textrnn.corpus import Example
    from textrnn.pipeline import Pipeline

    lines = [Example(text=t) for t in SENTENCES * 40]
    pipe = Pipeline.for_task("lm", train=lines, tokenizer="char", quiet=True,
                             model={"hidden_dim": 32, "num_layers": 1, "embedding": {"dim": 16}},
                             train_config={"epochs": 1, "batch_size": 8, "threads": 1, "device": "cpu"})
    pipe.fit(lines, lines[:10], quiet=True)
    pipe.save(run_dir)


def measure(run_dir: Path, size: int, folder: Path) -> dict:
    text = (" ".join(SENTENCES) + " . ") * (size // 80 + 1)
    text = text[:size] + " i drink ___ every morning"
    source, report = folder / f"{size}.txt", folder / f"{size}.rss"
    source.write_text(text, encoding="utf-8")
    # through Python: a text of a megabyte is longer than one command-line argument may be
    command = [sys.executable, "-c", COMPLETE, str(run_dir), str(source)]
    began = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", LAUNCHER, str(report), *command], capture_output=True, text=True,
                          env={**os.environ, "OMP_NUM_THREADS": "1"})
    seconds = time.perf_counter() - began
    kilobytes, status = report.read_text().split() if report.exists() else ("0", "-1")
    if done.returncode != 0 or status != "0":
        sys.exit(f"complete failed (exit {status}): {done.stderr[-2000:]}")
    fills = [f["fill"] for f in json.loads(done.stdout)["fills"]]
    return {"peak_rss_mb": round(int(kilobytes) / 1024, 1), "seconds": round(seconds, 1), "text_kb": len(text) // 1000,
            "fills": fills}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[120_000, 1_100_000])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="textrnn-complete-memory-") as folder:
        folder = Path(folder)
        tiny_lm(folder / "run")
        runs = {f"{size:,} characters": measure(folder / "run", size, folder) for size in args.sizes}
    peaks = [run["peak_rss_mb"] for run in runs.values()]
    row = {"what": f"peak RSS of complete on a long text ({' vs '.join(runs)} before the blank)",
           "result": {**runs, "growth_mb": round(peaks[-1] - peaks[0], 1)}, "machine": machine(),
           "commit": commit(), "date": today(), "command": "python bench/complete_memory.py"}
    print(json.dumps(row, ensure_ascii=False))
    record("other", row, ("what",))


if __name__ == "__main__":
    main()

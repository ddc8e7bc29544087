"""Check textrnn's CUDA paths and time recipes on a GPU machine, then record what it measured.

    python bench/gpu.py run --out DIR [--deadline 480]   # on the GPU machine (data in TEXTRNN_DATA_DIR)
    python bench/gpu.py record DIR/gpu.json              # here: the rows go to bench/results.json under "gpu"

``run`` does three things, in this order, within ``--deadline`` seconds:

1. the test suite with device ``auto`` (so CUDA wherever a test trains), in parallel workers when pytest-xdist is
   there; its closing line is kept;
2. every recipe's ``--quick`` form with ``--device cuda``: the exit code, the device its metrics name and its time;
3. full-size timing runs, one at a time so that none shares the GPU: a language model's characters or words per
   second under a short budget, and whole recipes where they fit.

It writes ``DIR/gpu.json`` (rows with the machine's facts) and ``DIR/runs.tgz`` (each run's metrics.json and
history.json) and prints a one-line summary per step.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tarfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from common import ROOT, commit, machine, record, today
from run import HEADLINE, dig

QUICK = ["hello", "multiply", "sine", "energy", "reuters", "reuters-course", "imdb", "imdb-course", "ner",
         "shakespeare", "ptb", "korean", "english", "complete"]

# full-size runs: (recipe, overrides, cap in seconds). The LMs run under a short budget (their rate is the figure);
# the classifiers and the tagger run whole, with word2vec on more worker threads than the CPU recipe's two.
TIMED = [
    ("shakespeare", ["train.max_minutes=0.5"], 90),
    ("ptb", ["train.max_minutes=0.5"], 90),
    ("reuters", ["model.embedding.workers=8"], 240),
    ("imdb", ["model.embedding.workers=8"], 400),
    ("ner", ["model.embedding.workers=8"], 400),
]


def logged(command: list[str], timeout: float, log: Path) -> tuple[int, float]:
    """Run ``command`` in the repository with its output in ``log``: its exit code (124 when ``timeout`` seconds
    ran out first) and its seconds."""
    began = time.time()
    with open(log, "w") as out:
        try:
            code = subprocess.run(command, stdout=out, stderr=subprocess.STDOUT, timeout=max(1.0, timeout),
                                  cwd=ROOT).returncode
        except subprocess.TimeoutExpired:
            code = 124
    return code, round(time.time() - began, 1)


def textrnn(*args: str, timeout: float, log: Path) -> tuple[int, float]:
    return logged([sys.executable, "-m", "textrnn.cli", *args], timeout, log)


def metrics_of(run: Path) -> dict:
    path = run / "metrics.json"
    return json.loads(path.read_text()) if path.exists() else {}


def rate_of(run: Path) -> float | None:
    path = run / "history.json"
    if not path.exists():
        return None
    epochs = json.loads(path.read_text()).get("epochs", [])
    return round(epochs[-1]["tokens_per_second"]) if epochs and "tokens_per_second" in epochs[-1] else None


def headline(name: str, metrics: dict) -> tuple[str | None, object]:
    """The figure the recipe is judged by (bench/run.py's HEADLINE), or (None, None) when the run wrote none."""
    path, metric, _ = HEADLINE.get(name, (("valid", "loss"), "loss", "valid"))
    try:
        return metric, dig(metrics, path)
    except (KeyError, TypeError):
        return None, None


def run_tests(out: Path, timeout: float, deselect: list[str]) -> dict:
    try:
        import xdist  # noqa: F401

        parallel = ["-n", "8"]
    except ImportError:
        parallel = []
    code, seconds = logged([sys.executable, "-m", "pytest", "-q", "-ra", *parallel, "-p", "no:cacheprovider",
                            # the wheel test needs hatchling, which the GPU image lacks
                            "--deselect", "tests/test_packaging.py",
                            *(part for test in deselect for part in ("--deselect", test))],
                           timeout, out / "tests.log")
    lines = [line for line in (out / "tests.log").read_text().splitlines() if line.strip()]
    summary = next((line for line in reversed(lines) if " passed" in line or " failed" in line), lines[-1] if lines else "")
    return {"what": "test suite, device auto", "exit": code, "summary": summary.strip("= "), "seconds": seconds}


def run_quick(name: str, runs: Path, logs: Path, timeout: float) -> dict:
    run = runs / f"{name}-quick"
    code, seconds = textrnn("run", name, "--quick", "--device", "cuda", "--out", str(run), timeout=timeout,
                            log=logs / f"quick-{name}.log")
    metrics = metrics_of(run)
    return {"what": "quick", "recipe": name, "exit": code, "seconds": seconds, "device": metrics.get("device")}


def run_timed(name: str, overrides: list[str], runs: Path, logs: Path, timeout: float) -> dict:
    run = runs / name
    sets = [part for item in overrides for part in ("-s", item)]
    code, seconds = textrnn("run", name, "--device", "cuda", "--out", str(run), *sets, timeout=timeout,
                            log=logs / f"full-{name}.log")
    metrics = metrics_of(run)
    metric, value = headline(name, metrics)
    return {"what": "full", "recipe": name, "overrides": overrides, "exit": code, "seconds": seconds,
            "device": metrics.get("device"), "epochs": metrics.get("epochs"),
            "seconds_per_epoch": metrics.get("seconds_per_epoch"), "tokens_per_second": rate_of(run),
            "metric": metric, "value": value,
            "command": f"textrnn run {name} --device cuda" + "".join(f" -s {s}" for s in overrides)}


def run(args: argparse.Namespace) -> None:
    out = Path(args.out)
    runs, logs = out / "runs", out / "logs"
    runs.mkdir(parents=True, exist_ok=True)
    logs.mkdir(exist_ok=True)
    end = time.time() + args.deadline
    facts = {**machine(), "commit": os.environ.get("TEXTRNN_COMMIT") or commit(), "date": today()}
    rows: list[dict] = []

    def save() -> None:
        (out / "gpu.json").write_text(json.dumps({"machine": facts, "rows": rows}, indent=2) + "\n")

    # 1 and 2 together: the tests on 8 workers, the quick recipes 6 at a time beside them
    with ThreadPoolExecutor(max_workers=7) as pool:
        tests = pool.submit(run_tests, logs, min(args.tests_seconds, end - time.time()), args.deselect) if args.tests else None
        quick = [pool.submit(run_quick, name, runs, logs, min(240, end - time.time())) for name in args.quick]
        for job in quick:
            rows.append(job.result())
            print(json.dumps(rows[-1]), flush=True)
        if tests is not None:
            rows.append(tests.result())
            print(json.dumps(rows[-1]), flush=True)
    save()
    for name, overrides, cap in (t for t in TIMED if t[0] in args.timed):
        left = end - time.time()
        if left < 30:
            print(f"{name}: skipped, the deadline came first", flush=True)
            continue
        rows.append(run_timed(name, overrides, runs, logs, min(cap, left)))
        print(json.dumps(rows[-1]), flush=True)
        save()
    with tarfile.open(out / "runs.tgz", "w:gz") as tar:
        for path in sorted(runs.rglob("*.json")) + sorted(logs.glob("*.log")):
            tar.add(path, arcname=str(path.relative_to(out)))


def record_rows(path: str) -> None:
    """Every quick row (a failed one is a finding), and the full runs and the test suite where they finished: one
    that the deadline cut off measured nothing."""
    data = json.loads(Path(path).read_text())
    saved = Path(path).with_name("runs.tgz")
    if saved.exists():      # the headline again from each run's metrics.json, as bench/run.py names it
        with tarfile.open(saved) as tar:
            for row in data["rows"]:
                if row["what"] == "full" and f"runs/{row['recipe']}/metrics.json" in tar.getnames():
                    metrics = json.load(tar.extractfile(f"runs/{row['recipe']}/metrics.json"))
                    row["metric"], row["value"] = headline(row["recipe"], metrics)
    kept = 0
    for row in data["rows"]:
        if row["what"] != "quick" and row.get("exit") != 0:
            print(f"not recorded (exit {row.get('exit')}): {row.get('recipe') or row['what']}")
            continue
        row = {**row, "machine": data["machine"], "date": data["machine"]["date"],
               "commit": data["machine"]["commit"]}
        record("gpu", row, ("what", "recipe"))
        kept += 1
    print(f"recorded {kept} of {len(data['rows'])} rows from {path}")


def main() -> None:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command", required=True)
    go = sub.add_parser("run")
    go.add_argument("--out", required=True)
    go.add_argument("--deadline", type=float, default=480, help="seconds for everything")
    go.add_argument("--tests-seconds", type=float, default=200)
    go.add_argument("--no-tests", dest="tests", action="store_false")
    go.add_argument("--deselect", action="append", default=[], help="a test to leave out (pytest's --deselect)")
    go.add_argument("--quick", nargs="*", default=QUICK, help="recipes to run --quick (default: all)")
    go.add_argument("--timed", nargs="*", default=[t[0] for t in TIMED], help="full-size runs (default: all)")
    keep = sub.add_parser("record")
    keep.add_argument("file")
    args = parser.parse_args()
    if args.command == "run":
        os.environ.setdefault("MPLBACKEND", "Agg")
        run(args)
    else:
        record_rows(args.file)


if __name__ == "__main__":
    main()

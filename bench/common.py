"""Helpers shared by the benchmark scripts: machine facts, the results file, running commands."""
from __future__ import annotations

import datetime
import json
import os
import platform
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS = HERE / "results.json"
SHARED = Path(os.environ.get("TEXTRNN_SHARED", ROOT.parent / "shared"))


def machine() -> dict:
    cpu = platform.processor() or "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import torch

    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    return {"cpu": cpu, "cores": os.cpu_count(), "cores_used": len(os.sched_getaffinity(0)), "gpu": gpu, "torch": torch.__version__,
            "python": platform.python_version()}


def cpu_times() -> dict[int, tuple[int, int]]:
    """Per core (busy, total) jiffies from /proc/stat; empty where there is no /proc."""
    times = {}
    try:
        for line in Path("/proc/stat").read_text().splitlines():
            name, *fields = line.split()
            if name.startswith("cpu") and name != "cpu":
                values = [int(v) for v in fields[:8]]
                idle = values[3] + values[4]
                times[int(name[3:])] = (sum(values) - idle, sum(values))
    except (OSError, ValueError):
        pass
    return times


def busy_elsewhere(before: dict[int, tuple[int, int]]) -> float | None:
    """How busy (0-1) the cores outside this process's affinity were since `before`: the other half of a
    hyperthreaded pair slows a run by up to 2x, so a timing taken beside other work says so."""
    after = cpu_times()
    mine = os.sched_getaffinity(0)
    busy = total = 0
    for core, (b, t) in after.items():
        if core in mine or core not in before:
            continue
        busy += b - before[core][0]
        total += t - before[core][1]
    return round(busy / total, 2) if total else None


def commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                              check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def today() -> str:
    return datetime.date.today().isoformat()


def load_results() -> dict:
    if RESULTS.exists():
        return json.loads(RESULTS.read_text())
    return {"recipes": [], "vs_keras": [], "vectorize": [], "scaling": [], "other": []}


def save_results(results: dict) -> None:
    RESULTS.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")


def record(section: str, row: dict, keys: tuple[str, ...]) -> None:
    """Upsert one row into results.json under a lock, re-reading the file so concurrent benchmarks keep theirs."""
    import fcntl

    with open(HERE / ".results.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        results = load_results()
        upsert(results.setdefault(section, []), row, keys)
        save_results(results)


def upsert(rows: list, row: dict, keys: tuple[str, ...]) -> None:
    """Replace the row with the same keys, or append."""
    for i, old in enumerate(rows):
        if all(old.get(k) == row.get(k) for k in keys):
            rows[i] = row
            return
    rows.append(row)


def keras_anchor(name: str, *args: str) -> list[dict]:
    """Run the course's Keras model through ../shared/anchors/run.sh and parse its JSON lines."""
    env = {**os.environ, "TEXTRNN_DATA_DIR": os.environ.get("TEXTRNN_DATA_DIR", str(SHARED / "data"))}
    done = subprocess.run(["bash", str(SHARED / "anchors" / "run.sh"), name, *args], capture_output=True, text=True,
                          env=env)
    rows = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    if not rows:
        sys.exit(f"the Keras anchor printed nothing (exit {done.returncode}): {done.stderr[-2000:]}")
    return rows

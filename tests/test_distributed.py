"""Training under ``torchrun --nproc_per_node=2``: DistributedDataParallel on gloo on the CPU, two real processes.

Only rank 0 prints the JSON and writes the run directory; the saved pipeline loads and predicts like any other.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import textrnn as tr
from textrnn.corpus import read_examples

pytestmark = pytest.mark.slow


def torchrun(*args: str, cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess:
    """``torchrun --standalone --nproc_per_node=2 -m textrnn.cli ARGS`` with one torch thread per process."""
    # no GPU visible: two processes on the CPU with gloo, also on a machine that has one
    env = {**os.environ, "MPLBACKEND": "Agg", "OMP_NUM_THREADS": "1", "CUDA_VISIBLE_DEVICES": ""}
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
               "-m", "textrnn.cli", *args]
    return subprocess.run(command, capture_output=True, text=True, cwd=cwd, env=env, timeout=timeout)


@pytest.mark.parametrize("extra", [[], ["-s", "train.adversarial=0.05"]], ids=["plain", "adversarial"])
def test_two_processes_train_one_classifier_and_rank_0_saves_it(sentiment_file, tmp_path, extra):
    """Also with adversarial training: two forward and backward passes a step, each reduced across the processes."""
    work = tmp_path / "work"
    work.mkdir()
    done = torchrun("train", "classify", "--data", str(sentiment_file), "--out", "run", "--device", "cpu",
                    "-s", "train.epochs=3", "-s", "train.threads=1", "-s", "model.hidden_dim=16", *extra, "--json",
                    cwd=work)
    assert done.returncode == 0, done.stderr[-3000:]
    # both processes ran (each reads the data and builds the vocabulary) ...
    assert done.stderr.count(" tokens; device ") == 2, done.stderr[-3000:]   # the two lines may interleave
    # ... and only rank 0 reports: one JSON value on stdout
    lines = [line for line in done.stdout.splitlines() if line.strip()]
    assert len(lines) == 1, done.stdout
    metrics = json.loads(lines[0])
    assert metrics["task"] == "classify" and metrics["epochs"] == 3 and metrics["device"] == "cpu"
    # exactly one pipeline, written whole: no second run directory, no temporary files left behind
    assert [p.parent.name for p in work.rglob("config.json")] == ["run"]
    run = work / "run"
    assert not [p.name for p in run.iterdir() if p.name.startswith(".tmp")]
    history = json.loads((run / "history.json").read_text(encoding="utf-8"))
    assert len(history["epochs"]) == 3
    saved = json.loads((run / "metrics.json").read_text(encoding="utf-8"))
    assert saved["valid"] == metrics["valid"]

    pipe = tr.load(run)
    predicted = pipe.predict(["a wonderful film , great acting", "a dull and boring film"], top=2)
    assert [p["label"] for p in predicted] and all(p["label"] in ("pos", "neg") for p in predicted)
    assert pipe.evaluate(read_examples(sentiment_file))["n"] == 48


def test_a_drill_under_torchrun_is_refused_not_run_twice(tmp_path):
    done = torchrun("run", "hello", "--quick", "--out", "hello", "--json", cwd=tmp_path)
    assert done.returncode != 0
    assert "runs in one process; run it without torchrun" in done.stderr
    assert done.stdout.strip() == "" and not (tmp_path / "hello").exists()

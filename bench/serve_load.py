"""How ``textrnn serve`` holds up: one client, then N concurrent clients on the loopback, for a fixed number of
requests (and at most a fixed time): requests a second, p50/p99 latency, failed requests, and the server's peak
memory.

The models have the shapes of the recipes (random weights: the time does not depend on their values, except where
a search stops at ``<eos>``): a classifier like ``reuters`` (a bidirectional LSTM of 256 units each way over 128-d
embeddings, max and mean pooling, 46 labels, 20,000 words) answering ``predict`` for one sentence, a word LM like
``ptb`` (2 x 400 LSTM, tied 400-d embeddings, 10,000 words) answering ``generate`` for 20 tokens, and a translator
like ``multi30k`` (a 2-layer bidirectional GRU encoder of 512 units, a GRU decoder with general attention and input
feeding, 256-d embeddings, 8,000 words a side) answering ``translate`` for one 12-word sentence with the beam of 5.
The server runs as ``textrnn serve`` pinned to one core (``taskset``) with one torch thread; the clients run here,
on the other core.

    python bench/serve_load.py [--models classifier,lm,translator] [--clients 16] [--requests 2000] [--core 1]

It prints JSON and records one row per model and phase into bench/results.json (section ``serve``).
"""
from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from common import commit, machine, record, today

WORDS = [f"w{i}" for i in range(20_000)]
SENTENCE = " ".join(WORDS[100:118])   # one sentence of 18 known words


def build_runs(root: Path) -> dict[str, tuple[Path, str, dict]]:
    """Steps: generated texts, vocabularies of the recipes' sizes, untrained models of their shapes, saved runs."""
    import torch

    from textrnn.corpus import Example
    from textrnn.pipeline import Pipeline

    torch.manual_seed(0)
    rng = random.Random(0)
    labels = [f"topic{i}" for i in range(46)]
    texts = [" ".join(rng.choice(WORDS) for _ in range(30)) for _ in range(800)] + [" ".join(WORDS)]
    classifier = Pipeline.for_task(
        "classify", train=[Example(text=t, label=labels[i % 46]) for i, t in enumerate(texts)], quiet=True,
        vocab={"max_size": 20_000}, model={"cell": "lstm", "hidden_dim": 256, "bidirectional": True, "pooling": "max+mean",
               "embedding": {"dim": 128}})
    lm = Pipeline.for_task("lm", train=[Example(text=t) for t in texts], quiet=True, vocab={"max_size": 10_000},
                           model={"cell": "lstm", "hidden_dim": 400, "num_layers": 2, "tie_weights": True,
                                              "embedding": {"dim": 400}})
    side = WORDS[:8_000]
    pairs = [Example(text=t, target=" ".join(reversed(t.split()))) for t in texts[:400]] + \
        [Example(text=" ".join(side), target=" ".join(reversed(side)))]
    translator = Pipeline.for_task("translate", train=pairs, quiet=True, tokenizer="word",
                                   vocab={"min_freq": 1, "max_size": 8_000},
                                   model={"cell": "gru", "src_embed_dim": 256, "tgt_embed_dim": 256, "hidden_dim": 512,
                                          "encoder_layers": 2, "attention": "general", "input_feeding": True})
    return {
        "classifier": (classifier.save(root / "classifier"), "predict", {"texts": [SENTENCE]}),
        "lm": (lm.save(root / "lm"), "generate", {"prompt": "w1 w2 w3", "max_tokens": 20, "temperature": 0.8,
                                                  "top_k": 40, "seed": 1}),
        "translator": (translator.save(root / "translator"), "translate", {"texts": [" ".join(WORDS[200:212])]}),
    }


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(runs: dict, port: int, core: int) -> subprocess.Popen:
    command = [sys.executable, "-m", "textrnn.cli", "serve", *(f"{name}={path}" for name, (path, _, _) in runs.items()),
               "--port", str(port), "--threads", "1"]
    if hasattr(os, "sched_setaffinity"):
        command = ["taskset", "-c", str(core), *command]
    process = subprocess.Popen(command, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            sys.exit(f"the server exited with {process.returncode}: {process.stderr.read()[-2000:]}")
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            connection.request("GET", "/healthz")
            if connection.getresponse().status == 200:
                return process
        except OSError:
            time.sleep(0.3)
    process.kill()
    sys.exit("the server did not answer within 120 s")


def peak_rss_mb(pid: int) -> float:
    """The process's memory high-water mark (VmHWM), in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024, 1)
    return float("nan")


def load(port: int, path: str, body: dict, clients: int, requests: int, seconds: float) -> dict:
    """``requests`` POSTs shared among ``clients`` threads (each on its own keep-alive connection), stopping early
    after ``seconds``: requests a second, latency percentiles (ms), and how many failed or were not answered."""
    payload = json.dumps(body).encode()
    latencies: list[float] = []
    failures: list[str] = []
    left = [requests]
    lock = threading.Lock()
    deadline = time.monotonic() + seconds

    def client() -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        while True:
            with lock:
                if left[0] <= 0 or time.monotonic() > deadline:
                    return
                left[0] -= 1
            began = time.perf_counter()
            try:
                connection.request("POST", path, payload, {"Content-Type": "application/json"})
                response = connection.getresponse()
                answer = response.read()
                ok = response.status == 200 and answer.startswith((b"[", b"{"))
            except (OSError, http.client.HTTPException) as error:
                ok, answer = False, repr(error).encode()
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            elapsed = (time.perf_counter() - began) * 1000
            with lock:
                (latencies.append(elapsed) if ok else failures.append(answer[:200].decode(errors="replace")))

    began = time.perf_counter()
    threads = [threading.Thread(target=client) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - began
    latencies.sort()

    def percentile(p: float) -> float:
        return round(latencies[min(len(latencies) - 1, int(p / 100 * len(latencies)))], 2) if latencies else None

    return {"clients": clients, "asked": requests, "answered": len(latencies), "failed": len(failures),
            "not_sent": left[0], "seconds": round(wall, 2), "requests_per_second": round(len(latencies) / wall, 1),
            "p50_ms": percentile(50), "p99_ms": percentile(99), "first_failure": failures[0] if failures else None}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="classifier,lm,translator", help="which of the three to serve")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--requests", type=int, default=2000, help="classifier requests per phase")
    parser.add_argument("--lm-requests", type=int, default=160, help="LM and translator requests per phase (each "
                                                                     "generates up to 20 tokens)")
    parser.add_argument("--seconds", type=float, default=120, help="the most one phase may take")
    parser.add_argument("--core", type=int, default=1, help="the CPU core the server is pinned to")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        wanted = args.models.split(",")
        runs = {name: run for name, run in build_runs(Path(scratch)).items() if name in wanted}
        if not runs:
            sys.exit(f"--models names none of classifier, lm, translator: {args.models}")
        port = free_port()
        server = start_server(runs, port, args.core)
        try:
            rows = {}
            for name, (_, capability, body) in runs.items():
                path = f"/v1/models/{name}/{capability}"
                count = args.requests if name == "classifier" else args.lm_requests
                load(port, path, body, 1, 10, args.seconds)                                  # warm-up
                alone = load(port, path, body, 1, max(20, count // 10), args.seconds)
                together = load(port, path, body, args.clients, count, args.seconds)
                rows[name] = {"capability": capability, "one client": alone, f"{args.clients} clients": together}
            rows["server_peak_rss_mb"] = peak_rss_mb(server.pid)
        finally:
            server.terminate()
            server.wait(timeout=30)
    print(json.dumps(rows, indent=2))
    models = {"classifier": "classifier of the reuters recipe's shape (BiLSTM 2x256, 128-d embeddings, 20,000 words, "
                            "46 labels), predict one 18-word sentence",
              "lm": "word LM of the ptb recipe's shape (2x400 LSTM, tied, 10,000 words), generate 20 tokens",
              "translator": "translator of the multi30k recipe's shape (2-layer BiGRU 512, GRU decoder, general "
                            "attention, input feeding, 8,000 words a side), translate one 12-word sentence, beam 5"}
    for name in runs:
        record("serve", {"model": name, "what": models[name], "result": rows[name],
                         "server_peak_rss_mb": rows["server_peak_rss_mb"], "machine": machine(), "commit": commit(),
                         "date": today(), "command": f"python bench/serve_load.py --models {args.models} "
                                                     f"--clients {args.clients} --requests {args.requests} "
                                                     f"--lm-requests {args.lm_requests} --core {args.core}"},
               ("model",))


if __name__ == "__main__":
    main()

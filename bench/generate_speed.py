"""How fast generation is: 1,000 characters from the shakespeare recipe's model size (a 2x512 character LSTM,
64-d embedding) with random weights, on the CPU.

The target (TARGETS.md) is < 1 s. The prompt is fed once and the state carried, so the time is 1,000 one-token
model steps plus sampling. Run: ``python bench/generate_speed.py [--threads N] [--characters N]``; it prints JSON.
"""
from __future__ import annotations

import argparse
import json
import string
import time

import torch
from common import machine, record, today

from textrnn.embeddings import EmbeddingConfig
from textrnn.models.lm import LanguageModel, LMConfig
from textrnn.tasks.lm.sampling import GenerationConfig, generate
from textrnn.tokenize import CharTokenizer
from textrnn.vocab import SPECIALS, Vocab

SETTINGS = {
    "sampled (temperature 0.8, top-k 40)": {"temperature": 0.8, "top_k": 40},
    "nucleus (top-p 0.9)": {"top_p": 0.9},
    "greedy": {"temperature": 0},
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--characters", type=int, default=1000)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    parser.add_argument("--repeats", type=int, default=3, help="runs per setting; the fastest is reported")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    vocab = Vocab(list(SPECIALS) + sorted(set(string.ascii_letters + string.digits + " \n.,;:!?'-&$")))  # ~ 65 chars
    config = LMConfig(embedding=EmbeddingConfig(dim=64), cell="lstm", hidden_dim=512, num_layers=2, dropout=0.2)
    model = LanguageModel(config, len(vocab))
    tokenizer = CharTokenizer()
    generate(model, tokenizer, vocab, "ROMEO:", GenerationConfig(max_tokens=20, seed=0))   # warm-up
    runs = {}
    for name, settings in SETTINGS.items():
        settings = GenerationConfig(max_tokens=args.characters, seed=0, stop_at_eos=False, **settings)
        times, cpu_times = [], []
        for _ in range(args.repeats):
            began, cpu_began = time.perf_counter(), time.process_time()
            text = generate(model, tokenizer, vocab, "ROMEO:", settings)
            times.append(time.perf_counter() - began)
            cpu_times.append(time.process_time() - cpu_began)
        # CPU time as well: on a busy machine the wall time measures the other processes too
        runs[name] = {"seconds": round(min(times), 3), "cpu_seconds": round(min(cpu_times), 3), "characters": len(text)}
    result = {"model": "textrnn LanguageModel, char LSTM 2x512, 64-d embedding (random weights)",
              "vocab": len(vocab), "threads": torch.get_num_threads(), "runs": runs}
    print(json.dumps(result, indent=2))
    threads = torch.get_num_threads()
    record("other", {"what": f"generating {args.characters:,} characters, {threads} thread(s) (target < 1 s)",
                     "result": {name: f"{run['seconds']} s wall, {run['cpu_seconds']} s CPU" for name, run in runs.items()},
                     "worst_seconds": max(run["seconds"] for run in runs.values()), "target_seconds": 1.0,
                     "machine": machine(), "date": today(),
                     "command": "python bench/generate_speed.py" + (f" --threads {args.threads}" if args.threads else "")},
           ("what",))


if __name__ == "__main__":
    main()

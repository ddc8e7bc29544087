"""Time one Adam step over a tagger's weights: PyTorch's per-tensor loop, its foreach form, and its fused kernel.

    python bench/optimizer_step.py [--vocab 56743] [--dim 100] [--repeats 50]

The shapes are the ner recipe's (a 56,743 x 100 word-vector table, which dominates, and a 200-unit bidirectional
LSTM); one thread, as on one core. textrnn's make_optimizer asks for the fused kernel. The row goes to
bench/results.json under "other".
"""
from __future__ import annotations

import argparse
import sys
import time

import torch
from common import commit, machine, record, today


def weights(vocab: int, dim: int) -> list[torch.nn.Parameter]:
    inputs = dim + 50 + 8                   # word vector, character features, casing
    shapes = [(vocab, dim)] + [(800, inputs), (800, 200), (800,), (800,)] * 2   # the LSTM, both directions
    return [torch.nn.Parameter(torch.randn(*shape)) for shape in shapes]


def time_step(kind: str, vocab: int, dim: int, repeats: int) -> float:
    params = weights(vocab, dim)
    for p in params:
        p.grad = torch.randn_like(p)
    options = {"loop": {"foreach": False}, "foreach": {"foreach": True}, "fused": {"fused": True}}[kind]
    optimizer = torch.optim.Adam(params, lr=1e-3, **options)
    optimizer.step()                        # the state is made on the first step
    began = time.perf_counter()
    for _ in range(repeats):
        optimizer.step()
    return (time.perf_counter() - began) / repeats * 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--vocab", type=int, default=56743)
    parser.add_argument("--dim", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=50)
    args = parser.parse_args()
    torch.set_num_threads(1)
    result = {kind: round(time_step(kind, args.vocab, args.dim, args.repeats), 2) for kind in ("loop", "foreach", "fused")}
    print({f"{k} ms per step": v for k, v in result.items()})
    record("other", {"what": "one Adam step over the ner tagger's weights (ms; loop, foreach, fused)",
                     "result": {f"{k} ms": v for k, v in result.items()}, "machine": machine(), "commit": commit(),
                     "date": today(), "command": " ".join(["python bench/optimizer_step.py", *sys.argv[1:]])},
           ("what",))


if __name__ == "__main__":
    main()

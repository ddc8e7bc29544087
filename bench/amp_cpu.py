"""One training step (forward, backward, Adam) of the recipes' recurrent shapes in fp32 and in bf16 autocast on the
CPU (what ``train.amp_cpu = true`` does), one thread, in CPU time so that a busy machine does not inflate it.

    python bench/amp_cpu.py [--repeats 5]

bf16 pays only on a CPU that computes it natively (AVX512-BF16 or AMX); elsewhere oneDNN emulates it, slowly, and
the script says so.
"""
from __future__ import annotations

import argparse
import json
import time

import torch
from common import machine, record, today

from textrnn.train.device import cpu_has_bf16

# (name, hidden, layers, batch, steps, output classes): the recipes' shapes
SHAPES = [
    ("shakespeare 2x512, 64 x 128, 65 chars", 512, 2, 64, 128, 65),
    ("ptb 2x400, 64 x 35, 10k words", 400, 2, 64, 35, 10000),
    ("reuters-course 1x100, 32 x 100, 46 topics", 100, 1, 32, 100, 46),
    ("imdb BiLSTM 1x128, 64 x 400", 128, 1, 64, 400, 2),
]


def step_ms(hidden: int, layers: int, batch: int, steps: int, classes: int, bf16: bool, repeats: int) -> float:
    torch.manual_seed(0)
    rnn = torch.nn.LSTM(hidden, hidden, layers, batch_first=True)
    head = torch.nn.Linear(hidden, classes)
    optimizer = torch.optim.Adam([*rnn.parameters(), *head.parameters()])
    inputs = torch.randn(batch, steps, hidden)
    targets = torch.randint(classes, (batch, steps))

    def step() -> None:
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            outputs, _ = rnn(inputs)
            logits = head(outputs)
        loss = torch.nn.functional.cross_entropy(logits.float().flatten(0, 1), targets.flatten())
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    for _ in range(2):                                       # warm-up
        step()
    began = time.process_time()
    for _ in range(repeats):
        step()
    return (time.process_time() - began) / repeats * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(1)
    native = cpu_has_bf16()
    if not native:
        print("this CPU has no native bf16: the bf16 column is oneDNN's emulation")
    result = {}
    for name, hidden, layers, batch, steps, classes in SHAPES:
        fp32 = step_ms(hidden, layers, batch, steps, classes, False, args.repeats)
        bf16 = step_ms(hidden, layers, batch, steps, classes, True, args.repeats)
        result[name] = {"fp32_ms": round(fp32, 1), "bf16_ms": round(bf16, 1), "speed_up": round(fp32 / bf16, 2)}
        print(json.dumps({name: result[name]}), flush=True)
    record("other", {"what": "one LSTM training step, fp32 against bf16 autocast, CPU ms (1 thread"
                             + ("" if native else ", bf16 emulated") + ")",
                     "result": result, "machine": machine(), "date": today(), "command": "python bench/amp_cpu.py"},
           ("what",))


if __name__ == "__main__":
    main()

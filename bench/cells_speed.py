"""Forward + backward time of PyTorch's three recurrent cells on the multiplication problem's shapes (batch 32,
100 steps, 2 inputs, 2x30 units), one thread, measured in CPU time so that a busy machine does not inflate it.

    python bench/cells_speed.py [--repeats 80]

Why it exists: on the CPU PyTorch runs nn.LSTM through oneDNN's fused kernel but nn.GRU and nn.RNN through its
own per-step kernels, so a GRU costs about twice an LSTM of the same size, unlike in Keras. Beside each module it
times textrnn's ``Recurrent`` of the same size in training, which takes the hand-written SimpleRNN and GRU layers of
``textrnn/models/cpu_cells.py`` (and nn.LSTM itself).
"""
from __future__ import annotations

import argparse
import json
import time

import torch
from common import machine, record, today

from textrnn.models.recurrent import Recurrent


def cpu_ms(model, inputs: torch.Tensor, repeats: int) -> float:
    """CPU milliseconds of one forward and backward pass of ``model`` over ``inputs``."""
    for _ in range(5):                                       # warm-up
        model(inputs)[0].sum().backward()
    began = time.process_time()
    for _ in range(repeats):
        model(inputs)[0].sum().backward()
    return round((time.process_time() - began) / repeats * 1000, 2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=80)
    args = parser.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    inputs = torch.randn(32, 100, 2)
    timings = {}
    for name, cell in (("rnn", torch.nn.RNN), ("lstm", torch.nn.LSTM), ("gru", torch.nn.GRU)):
        timings[name] = cpu_ms(cell(2, 30, 2, batch_first=True), inputs, args.repeats)
        timings[f"textrnn_{name}"] = cpu_ms(Recurrent(name, 2, 30, num_layers=2), inputs, args.repeats)
    print(json.dumps({"ms_cpu_per_batch": timings}))
    record("other", {"what": "nn.RNN / nn.LSTM / nn.GRU and textrnn's Recurrent in training (textrnn_*), forward+backward, "
                             "CPU ms per batch (32 x 100 x 2, 2x30, 1 thread)",
                     "result": timings, "machine": machine(), "date": today(), "command": "python bench/cells_speed.py"},
           ("what",))


if __name__ == "__main__":
    main()

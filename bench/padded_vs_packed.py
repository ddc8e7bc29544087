"""Forward + backward time of the two Recurrent paths on a batch of ragged sequences: masked (the fused kernels
over the padded batch, padding computed and discarded) against packed (pack_padded_sequence, padding skipped).
PyTorch's own bidirectional nn.LSTM is timed as a reference for the two-module bidirectional stack: on the
packed batch, and on the padded batch without any masking (fast but wrong for ragged rows).

    python bench/padded_vs_packed.py [--device cpu|cuda] [--threads 2] [--repeats 5]

Prints one JSON dict: milliseconds per forward+backward (median of the repeats, after a warm-up), per setting.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from common import machine, record, today  # noqa: E402

from textrnn.models.recurrent import Recurrent  # noqa: E402


def timed(step, device: str, repeats: int) -> float:
    """Median milliseconds of ``step()`` over ``repeats`` runs after one warm-up run."""
    step()
    times = []
    for _ in range(repeats):
        if device == "cuda":
            torch.cuda.synchronize()
        began = time.perf_counter()
        step()
        if device == "cuda":
            torch.cuda.synchronize()
        times.append((time.perf_counter() - began) * 1000)
    return round(statistics.median(times), 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--hidden", type=int, default=128)
    parser.add_argument("--input", type=int, default=128)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    lengths = torch.randint(50, 401, (args.batch,))
    x = torch.randn(args.batch, int(lengths.max()), args.input, device=args.device)
    results = {"device": args.device if args.device == "cpu" else torch.cuda.get_device_name(0),
               "threads": args.threads, "batch": args.batch, "hidden": args.hidden, "input": args.input,
               "steps_max": int(lengths.max()), "padding_share": round(1 - float(lengths.sum()) / lengths.numel()
                                                                       / int(lengths.max()), 3),
               "torch": torch.__version__, "ms_forward_backward": {}}
    for bidirectional in (False, True):
        rnn = Recurrent("lstm", args.input, args.hidden, bidirectional=bidirectional).to(args.device)

        def step(module=rnn):
            outputs, last, _ = module(x, lengths)
            (outputs.sum() + last.sum()).backward()

        name = "bidirectional" if bidirectional else "unidirectional"
        for packed in (False, True):
            rnn.packed = packed
            results["ms_forward_backward"][f"{name}_{'packed' if packed else 'masked'}"] = timed(
                step, args.device, args.repeats)
    reference = torch.nn.LSTM(args.input, args.hidden, batch_first=True, bidirectional=True).to(args.device)

    def torch_packed():
        packed = torch.nn.utils.rnn.pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
        outputs, _ = torch.nn.utils.rnn.pad_packed_sequence(reference(packed)[0], batch_first=True)
        outputs.sum().backward()

    def torch_padded():   # wrong for ragged rows (padding reaches the backward direction): a speed reference only
        reference(x)[0].sum().backward()

    timings = results["ms_forward_backward"]
    timings["bidirectional_torch_nn_lstm_packed"] = timed(torch_packed, args.device, args.repeats)
    timings["bidirectional_torch_nn_lstm_padded_unmasked"] = timed(torch_padded, args.device, args.repeats)
    print(json.dumps(results))
    record("other", {"what": f"masked vs packed LSTM, forward+backward ms (batch {args.batch}, lengths 50-400, "
                             f"{args.threads} threads, {results['device']})", "result": timings,
                     "machine": machine(), "date": today(), "command": "python bench/padded_vs_packed.py"}, ("what",))


if __name__ == "__main__":
    main()

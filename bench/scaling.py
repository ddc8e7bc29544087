"""How training cost grows: one epoch of the course's Reuters LSTM at 1x, 2x and 4x the examples, and at 1x, 2x and
4x the sequence length, each in its own process; seconds per epoch and peak memory (RSS).

    python bench/scaling.py [--base 1500] [--length 100]

Time should grow linearly with examples and length; memory should follow the batch (length), not the corpus size.
Results go to bench/results.json under "scaling".
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile

from common import machine, record, today

CHILD = """
import json, resource, sys
from textrnn.recipes import run_recipe
metrics = run_recipe("reuters-course", sys.argv[2:], out=sys.argv[1], quiet=True)
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print("SCALE " + json.dumps({"seconds_per_epoch": metrics["seconds_per_epoch"], "peak_mb": round(peak, 1)}))
"""


def one(settings: list[str]) -> dict:
    with tempfile.TemporaryDirectory() as out:
        done = subprocess.run([sys.executable, "-c", CHILD, out, "train.epochs=1", "train.checkpoint=false", *settings],
                              capture_output=True, text=True)
    lines = [line for line in done.stdout.splitlines() if line.startswith("SCALE ")]
    if done.returncode or not lines:
        sys.exit(f"failed (exit {done.returncode}): {done.stderr[-2000:]}")
    return json.loads(lines[-1][6:])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", type=int, default=1500, help="train examples at 1x")
    parser.add_argument("--length", type=int, default=100, help="sequence length at 1x")
    args = parser.parse_args()
    rows = {}
    for factor in (1, 2, 4):
        rows[f"examples x{factor}"] = one([f"data.limit={args.base * factor}", f"encode.max_len={args.length}"])
        print(factor, "x examples", rows[f"examples x{factor}"], file=sys.stderr)
    for factor in (2, 4):
        rows[f"length x{factor}"] = one([f"data.limit={args.base}", f"encode.max_len={args.length * factor}"])
        print(factor, "x length", rows[f"length x{factor}"], file=sys.stderr)
    print(json.dumps(rows))
    record("scaling", {"what": f"reuters-course, 1 epoch: {args.base} examples x 1/2/4, length {args.length} x 1/2/4",
                       "result": rows, "machine": machine(), "date": today(),
                       "command": "python bench/scaling.py"}, ("what",))


if __name__ == "__main__":
    main()

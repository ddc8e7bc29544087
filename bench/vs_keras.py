"""textrnn against the course's Keras models, alternately in one run on this machine.

    python bench/vs_keras.py multiply [--epochs 100] [--repeats 1]
    python bench/vs_keras.py reuters [--repeats 1]
    python bench/vs_keras.py imdb [--repeats 1]
    python bench/vs_keras.py reuters --amp-cpu     # textrnn in bf16 mixed precision (a CPU with native bf16)


Same architecture, data, split, batch size and number of epochs on both sides; reports the ratio of seconds per
epoch (textrnn / Keras) and the accuracy difference as median, min and max over repeats, and stores them in
bench/results.json under "vs_keras". With ``--amp-cpu`` textrnn trains with ``train.amp_cpu=true`` (bf16 autocast;
Keras stays in its default fp32) and the rows are stored as ``NAME-bf16``, beside the fp32 rows.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time

from common import keras_anchor, machine, record, today

RECIPE = {"reuters": "reuters-course", "imdb": "imdb-course"}


def textrnn_multiply(epochs: int, seed: int, extra: list[str]) -> dict[str, dict]:
    from textrnn.recipes import run_recipe

    with tempfile.TemporaryDirectory() as out:
        metrics = run_recipe("multiply", [f"train.epochs={epochs}", f"drill.seeds=[{seed}]", "drill.rnn_remedy=false",
                                          "train.clip_norm=0.0", "model.init=keras", "train.checkpoint=false", *extra],
                             out=out, quiet=True)
    return {cell: {"accuracy": m["accuracy"], "s_per_epoch": m["seconds_per_epoch"]} for cell, m in metrics["models"].items()}


def textrnn_text(name: str, epochs: int, seed: int, extra: list[str]) -> dict:
    from textrnn.recipes import run_recipe

    with tempfile.TemporaryDirectory() as out:
        metrics = run_recipe(RECIPE[name], [f"train.epochs={epochs}", f"train.seed={seed}", "train.checkpoint=false",
                                            *extra], out=out, quiet=True)
    return {"accuracy": metrics["valid"]["accuracy"], "s_per_epoch": metrics["seconds_per_epoch"]}


def summary(values: list[float]) -> dict:
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("recipe", choices=["multiply", "reuters", "imdb"])
    parser.add_argument("--epochs", type=int, default=None, help="multiply: epochs per model (Keras and textrnn)")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--amp-cpu", action="store_true", help="textrnn in bf16 mixed precision (train.amp_cpu)")
    args = parser.parse_args()
    extra, suffix = (["train.amp_cpu=true"], "-bf16") if args.amp_cpu else ([], "")
    pairs: dict[str, list[tuple[dict, dict]]] = {}
    for repeat in range(args.repeats):
        seed = args.seed + repeat
        if args.recipe == "multiply":
            epochs = args.epochs or 100
            keras_rows = {r["cell"]: r for r in keras_anchor("multiply", str(seed), str(epochs))}
            ours = textrnn_multiply(epochs, seed, extra)
            for cell, keras_cell in (("rnn", "SimpleRNN"), ("lstm", "LSTM"), ("gru", "GRU")):
                pairs.setdefault(f"multiply-{cell}{suffix}", []).append((ours[cell], keras_rows[keras_cell]))
        else:
            keras_row = keras_anchor(args.recipe, str(seed))[0]
            epochs = keras_row["epochs"]   # the same number of epochs as Keras ran
            ours = textrnn_text(args.recipe, epochs, seed, extra)
            pairs.setdefault(args.recipe + suffix, []).append((ours, keras_row))
        print(f"repeat {repeat + 1}/{args.repeats} done", file=sys.stderr)
    for name, runs in pairs.items():
        ratios = [o["s_per_epoch"] / k["s_per_epoch"] for o, k in runs]
        diffs = [o["accuracy"] - k["accuracy"] for o, k in runs]
        row = {"recipe": name, "seconds_per_epoch_textrnn": statistics.median(o["s_per_epoch"] for o, _ in runs),
               "seconds_per_epoch_keras": statistics.median(k["s_per_epoch"] for _, k in runs),
               "seconds_per_epoch_ratio": statistics.median(ratios), "ratio_min_max": [min(ratios), max(ratios)],
               "accuracy_textrnn": statistics.median(o["accuracy"] for o, _ in runs),
               "accuracy_keras": statistics.median(k["accuracy"] for _, k in runs),
               "accuracy_difference": summary(diffs), "repeats": len(runs),
               "epochs": runs[0][1].get("epochs"), "machine": machine(), "date": today(),
               "command": "python bench/vs_keras.py " + " ".join(sys.argv[1:])}
        record("vs_keras", row, ("recipe",))
        print(json.dumps({k: row[k] for k in ("recipe", "seconds_per_epoch_textrnn", "seconds_per_epoch_keras",
                                              "seconds_per_epoch_ratio", "accuracy_textrnn", "accuracy_keras")}))


if __name__ == "__main__":
    began = time.time()
    main()
    print(f"took {time.time() - began:.0f} s", file=sys.stderr)

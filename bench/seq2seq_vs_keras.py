"""textrnn's encoder-decoder against the course's Keras one (../shared/anchors/keras_seq2seq.py), alternately in one run.

    taskset -c 1 python bench/seq2seq_vs_keras.py [--epochs 2] [--repeats 1] [--seed 0]

The same model on the same data on both sides: Multi30k German -> English, words as the Keras script makes them
(lower-cased, ``\\w+`` runs and single other marks, sentences cut at 39 tokens, the source ending in <eos>), the
words seen twice or more, an LSTM encoder of 256 whose final state starts an LSTM decoder of 256 over 256-wide
embeddings, a softmax over the English words, RMSprop (Keras's defaults), batch 64, the last 5% of train as
validation (Keras's ``validation_split``); with ``-attention`` additive attention over the encoder's outputs.
textrnn differs where it is the library's own way: length-bucketed batches (Keras pads every sentence to 40 steps),
a bridge layer from the encoder's state to the decoder's, and with attention a tanh layer before the softmax.
An epoch's seconds include the validation pass on both sides. Greedy decoding of val, lower-cased sacreBLEU, for
both. Rows go to bench/results.json under "vs_keras".
"""
from __future__ import annotations

import argparse
import gzip
import json
import re
import statistics
import sys
import time

import torch
from common import SHARED, keras_anchor, machine, record, today

from textrnn.metrics import translation_report
from textrnn.models.seq2seq import Seq2Seq, Seq2SeqConfig, decoder_inputs
from textrnn.parallel import pair_batches
from textrnn.search import greedy
from textrnn.train import TaskLoop, TrainConfig, fit
from textrnn.vocab import EOS_ID, Vocab

MAX = 40


def words(text: str) -> list[str]:
    """The Keras script's tokens."""
    return re.findall(r"\w+|[^\w\s]", text.lower())


def join(tokens: list[str]) -> str:
    """The Keras script's detokenizing."""
    return re.sub(r" ([.,!?;:)'])|([(]) ", r"\1\2", " ".join(tokens))


def read(name: str) -> list[str]:
    with gzip.open(SHARED / "data" / "multi30k" / name, "rt", encoding="utf-8") as handle:
        return handle.read().splitlines()


def textrnn_run(attention: bool, epochs: int, seed: int) -> dict:
    """Train textrnn's version for ``epochs``; seconds per epoch (training + validation pass) and val BLEU."""
    src_train, tgt_train = [words(s) for s in read("train.de.gz")], [words(s) for s in read("train.en.gz")]
    src_vocab, tgt_vocab = Vocab.build(src_train, min_freq=2), Vocab.build(tgt_train, min_freq=2)
    source = [src_vocab.encode(s[:MAX - 1]) + [EOS_ID] for s in src_train]
    target = [tgt_vocab.encode(t[:MAX - 1]) for t in tgt_train]
    cut = len(source) - int(0.05 * len(source))                 # Keras's validation_split takes the last 5%
    train_batches = (source[:cut], target[:cut])
    valid = pair_batches(source[cut:], target[cut:], 64, shuffle=False)
    config = Seq2SeqConfig(cell="lstm", src_embed_dim=256, tgt_embed_dim=256, hidden_dim=256, encoder_layers=1,
                           decoder_layers=1, bidirectional=False, attention="bahdanau" if attention else "none",
                           input_feeding=False, readout_dim=512 if attention else 0, dropout=0.0,
                           label_smoothing=0.0)
    torch.manual_seed(seed)
    model = Seq2Seq(config, len(src_vocab), len(tgt_vocab))

    def step(model, batch, carry):
        return model(batch.ids, batch.lengths, decoder_inputs(batch.targets), batch.targets)[1], None

    def evaluate(model) -> dict:
        with torch.no_grad():
            losses = [float(model(b.ids, b.lengths, decoder_inputs(b.targets), b.targets)[1]) for b in valid]
        return {"loss": statistics.fmean(losses)}

    loop = TaskLoop(lambda epoch: pair_batches(*train_batches, 64, seed=seed * 1000 + epoch), step, evaluate)
    history = fit(model, loop, TrainConfig(epochs=epochs, batch_size=64, lr=1e-3, optimizer="rmsprop", clip_norm=0.0,
                                           seed=seed, checkpoint=False), quiet=True)
    seconds = [row["seconds"] + row["eval_seconds"] for row in history.epochs]
    src_val = [src_vocab.encode(words(s)[:MAX - 1]) + [EOS_ID] for s in read("val.de.gz")]
    hypotheses = []
    for start in range(0, len(src_val), 256):
        batch = pair_batches(src_val[start:start + 256], [[]] * len(src_val[start:start + 256]), 256, shuffle=False)[0]
        found = greedy(model, batch.ids, batch.lengths, max_len_a=0.0, max_len_b=MAX)
        in_order = [result for _, result in sorted(zip(batch.index, found, strict=True), key=lambda pair: pair[0])]
        hypotheses += [join(tgt_vocab.decode(result.ids, skip_special=True)) for result in in_order]
    bleu = translation_report(hypotheses, read("val.en.gz"))["bleu_lowercase"]
    return {"s_per_epoch": statistics.fmean(seconds), "bleu_lowercase": bleu, "epochs": len(seconds),
            "params": sum(p.numel() for p in model.parameters()), "example": hypotheses[0]}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    pairs: dict[str, list[tuple[dict, dict]]] = {}
    for repeat in range(args.repeats):
        seed = args.seed + repeat
        keras_rows = {row["recipe"]: row for row in keras_anchor("seq2seq", str(seed), str(args.epochs))}
        print(f"keras: {json.dumps(keras_rows)}", file=sys.stderr)
        for attention in (False, True):
            name = "multi30k-attention" if attention else "multi30k"
            ours = textrnn_run(attention, keras_rows[name]["epochs"], seed)
            print(f"textrnn {name}: {json.dumps(ours)}", file=sys.stderr)
            pairs.setdefault(f"seq2seq-{name}", []).append((ours, keras_rows[name]))
    for name, runs in pairs.items():
        ratios = [o["s_per_epoch"] / k["s_per_epoch"] for o, k in runs]
        row = {"recipe": name, "seconds_per_epoch_textrnn": statistics.median(o["s_per_epoch"] for o, _ in runs),
               "seconds_per_epoch_keras": statistics.median(k["s_per_epoch"] for _, k in runs),
               "seconds_per_epoch_ratio": statistics.median(ratios), "ratio_min_max": [min(ratios), max(ratios)],
               "metric": "bleu_lowercase (val, greedy)",
               "accuracy_textrnn": statistics.median(o["bleu_lowercase"] for o, _ in runs),
               "accuracy_keras": statistics.median(k["bleu_lowercase"] for _, k in runs),
               "params": {"textrnn": runs[0][0]["params"], "keras": runs[0][1]["params"]},
               "repeats": len(runs), "epochs": runs[0][1]["epochs"], "machine": machine(), "date": today(),
               "command": "taskset -c 1 python bench/seq2seq_vs_keras.py " + " ".join(sys.argv[1:])}
        record("vs_keras", row, ("recipe",))
        print(json.dumps({k: row[k] for k in ("recipe", "seconds_per_epoch_textrnn", "seconds_per_epoch_keras",
                                              "seconds_per_epoch_ratio", "accuracy_textrnn", "accuracy_keras")}))


if __name__ == "__main__":
    began = time.time()
    main()
    print(f"took {time.time() - began:.0f} s", file=sys.stderr)

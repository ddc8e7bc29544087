"""Train the encoder-decoder (textrnn.models.seq2seq) on Multi30k German -> English or on Tatoeba Korean -> English
with the project's own loop (``train.fit`` + ``TaskLoop``), tokenizers and searches, and report validation BLEU and
chrF (sacreBLEU) with greedy and beam decoding, perplexity and seconds per epoch.

    taskset -c 1 nice -n 5 python bench/translate_experiment.py NAME [-s section.key=value ...]
    e.g. -s train.epochs=12 -s model.hidden_dim=512 -s data.vocab_size=8000 -s data.corpus=ko-en

Sections: ``data`` (DataConfig below), ``model`` (Seq2SeqConfig), ``train`` (TrainConfig), ``search`` (SearchConfig).
Each run appends one JSON line to bench/_work/translate_runs.jsonl and writes its run folder (checkpoint, history,
an attention heat map) under bench/_work/runs/NAME. The held-out test splits are never read.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch

from textrnn.config import apply_overrides, from_dict
from textrnn.metrics import translation_report
from textrnn.models.seq2seq import Seq2Seq, Seq2SeqConfig, decoder_inputs
from textrnn.parallel import pair_batches, read_line_pairs, read_tsv_pairs, split_by_group, translation_memory
from textrnn.plots import plot_attention
from textrnn.search import beam_search, greedy
from textrnn.tokenize import CharTokenizer, SentencePieceTokenizer, WordTokenizer
from textrnn.train import TaskLoop, TrainConfig, fit
from textrnn.vocab import Vocab

HERE = Path(__file__).resolve().parent
WORK = HERE / "_work"
DATA = Path(os.environ.get("TEXTRNN_DATA_DIR", HERE.parent.parent / "shared" / "data"))


@dataclass
class DataConfig:
    corpus: str = "multi30k"         # "multi30k" (de -> en) | "ko-en" (Tatoeba, ko -> en)
    tokenizer: str = "sentencepiece"  # "sentencepiece" | "word" | "char"
    joint: bool = True               # sentencepiece: one model for both languages
    vocab_size: int = 8000           # sentencepiece: pieces of the joint model, or of the source model
    target_vocab_size: int = 0       # sentencepiece, separate models: the target's pieces (0 = vocab_size)
    model_type: str = "unigram"      # sentencepiece: "unigram" | "bpe"
    lower: bool = False              # lower-case both sides before tokenizing
    min_freq: int = 2                # word and char vocabularies: tokens seen at least this often in train
    max_length: int = 0              # drop training pairs with a side longer than this many tokens; 0 = keep all
    valid_fraction: float = 0.1      # ko-en: the share of pairs carved from train (whole English sentences)
    seed: int = 0                    # ko-en: the carve's seed
    limit: int = 0                   # use only the first N train and valid pairs (a smoke test); 0 = all


@dataclass
class SearchConfig:
    beam_size: int = 5
    alpha: float = 0.6               # GNMT length penalty
    max_len_a: float = 1.5
    max_len_b: float = 5.0
    batch_size: int = 128            # sentences decoded together
    bleu_every: int = 1              # greedy BLEU on valid every N epochs (0 = only at the end)


@dataclass
class Experiment:
    data: DataConfig = field(default_factory=DataConfig)
    model: Seq2SeqConfig = field(default_factory=Seq2SeqConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    search: SearchConfig = field(default_factory=SearchConfig)


# 1. data --------------------------------------------------------------------------------------------------------

def read_pairs(config: DataConfig):
    """(train, valid) Examples with ``text`` the source and ``target`` the English."""
    if config.corpus == "multi30k":
        folder = DATA / "multi30k"
        return (read_line_pairs(folder / "train.de.gz", folder / "train.en.gz"),
                read_line_pairs(folder / "val.de.gz", folder / "val.en.gz"))
    if config.corpus == "ko-en":
        pairs = read_tsv_pairs(DATA / "kor-eng" / "train.tsv.gz", columns=("en", "ko", "attribution"),
                               source="ko", target="en")
        # the held-out test keeps every English sentence on one side; the validation carve does the same
        return split_by_group(pairs, config.valid_fraction, seed=config.seed, key=lambda e: e.target)
    raise SystemExit(f"data.corpus must be multi30k or ko-en, got {config.corpus!r}")


# 2. tokens and 3. vocabularies ----------------------------------------------------------------------------------

def tokenizers(config: DataConfig, train) -> tuple[object, object, Vocab, Vocab]:
    """(source tokenizer, target tokenizer, source vocab, target vocab), built from train only."""
    sources, targets = [e.text for e in train], [e.target for e in train]
    if config.tokenizer == "sentencepiece":
        def spm(texts, size):
            return SentencePieceTokenizer.train(texts, vocab_size=size, model_type=config.model_type,
                                                lower=config.lower, character_coverage=1.0)
        if config.joint:
            shared = spm(sources + targets, config.vocab_size)
            return shared, shared, shared.vocab(), shared.vocab()
        source, target = spm(sources, config.vocab_size), spm(targets, config.target_vocab_size or config.vocab_size)
        return source, target, source.vocab(), target.vocab()
    if config.tokenizer in ("word", "char"):
        kind = WordTokenizer if config.tokenizer == "word" else CharTokenizer
        source, target = kind(lower=config.lower), kind(lower=config.lower)
        return (source, target, Vocab.build([source.tokenize(t) for t in sources], min_freq=config.min_freq),
                Vocab.build([target.tokenize(t) for t in targets], min_freq=config.min_freq))
    raise SystemExit(f"data.tokenizer must be sentencepiece, word or char, got {config.tokenizer!r}")


def encode(examples, tokenizer, vocab, side: str) -> list[list[int]]:
    return [vocab.encode(tokenizer.tokenize(getattr(e, side))) for e in examples]


# 6. evaluation ---------------------------------------------------------------------------------------------------

def translate(model, source_ids: list[list[int]], search: SearchConfig, beam: bool) -> list:
    """Translations of every source (in order), decoded in length-sorted batches."""
    order = sorted(range(len(source_ids)), key=lambda i: len(source_ids[i]))
    out = [None] * len(source_ids)
    device = next(model.parameters()).device
    for start in range(0, len(order), search.batch_size):
        chunk = order[start:start + search.batch_size]
        batch = pair_batches([source_ids[i] for i in chunk], [[] for _ in chunk], len(chunk), shuffle=False)[0]
        ids = batch.ids.to(device)
        if beam:
            results = beam_search(model, ids, batch.lengths, search.beam_size, search.alpha, search.max_len_a,
                                  search.max_len_b)
        else:
            results = greedy(model, ids, batch.lengths, search.max_len_a, search.max_len_b)
        for position, result in zip(batch.index, results, strict=True):
            out[chunk[position]] = result
    return out


def detokenize(results, tokenizer, vocab) -> list[str]:
    return [tokenizer.detokenize(vocab.decode(r.ids, skip_special=True)) for r in results]


def nll(model, batches) -> tuple[float, int]:
    """Summed negative log-likelihood (nats, no smoothing) and the number of target tokens."""
    total, count = 0.0, 0
    device = next(model.parameters()).device
    with torch.no_grad():
        for batch in batches:
            batch = batch.to(device)
            logits, _ = model(batch.ids, batch.lengths, decoder_inputs(batch.targets))
            total += float(torch.nn.functional.cross_entropy(logits.float().flatten(0, 1), batch.targets.flatten(),
                                                             ignore_index=0, reduction="sum"))
            count += int((batch.targets != 0).sum())
    return total, count


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("name")
    parser.add_argument("-s", "--set", action="append", default=[], help="section.key=value")
    args = parser.parse_args()
    defaults = {"train": {"epochs": 10, "batch_size": 64, "lr": 1e-3, "schedule": "cosine", "warmup_steps": 200,
                          "monitor": "bleu_lowercase", "clip_norm": 1.0}}
    experiment = from_dict(Experiment, apply_overrides(defaults, args.set))
    data, search = experiment.data, experiment.search
    began = time.perf_counter()
    torch.manual_seed(experiment.train.seed)

    train, valid = read_pairs(data)
    if data.limit:
        train, valid = train[:data.limit], valid[:data.limit]
    src_tok, tgt_tok, src_vocab, tgt_vocab = tokenizers(data, train)
    train_src, train_tgt = encode(train, src_tok, src_vocab, "text"), encode(train, tgt_tok, tgt_vocab, "target")
    if data.max_length:
        kept = [i for i in range(len(train)) if max(len(train_src[i]), len(train_tgt[i])) <= data.max_length]
        train_src, train_tgt = [train_src[i] for i in kept], [train_tgt[i] for i in kept]
    valid_src, valid_tgt = encode(valid, src_tok, src_vocab, "text"), encode(valid, tgt_tok, tgt_vocab, "target")
    references = [e.target for e in valid]
    prepared = time.perf_counter() - began
    print(f"{len(train_src):,} train / {len(valid):,} valid pairs; vocab {len(src_vocab):,} / {len(tgt_vocab):,}; "
          f"mean length {sum(map(len, train_src)) / len(train_src):.1f} / {sum(map(len, train_tgt)) / len(train_tgt):.1f}"
          f"; prepared in {prepared:.1f} s", file=sys.stderr)

    model = Seq2Seq(experiment.model, len(src_vocab), len(tgt_vocab))
    params = sum(p.numel() for p in model.parameters() if p.requires_grad)
    valid_batches = pair_batches(valid_src, valid_tgt, 128, shuffle=False)
    epochs_seen = {"n": 0}

    def batches(epoch: int):
        return pair_batches(train_src, train_tgt, experiment.train.batch_size, shuffle=True,
                            seed=experiment.train.seed * 1000 + epoch)

    def step(model, batch, carry):
        _, loss = model(batch.ids, batch.lengths, decoder_inputs(batch.targets), batch.targets)
        return loss, None

    def evaluate(model) -> dict:
        epochs_seen["n"] += 1
        total, count = nll(model, valid_batches)
        metrics = {"loss": total / count, "perplexity": math.exp(min(total / count, 50))}
        last = epochs_seen["n"] == experiment.train.epochs
        if search.bleu_every and (epochs_seen["n"] % search.bleu_every == 0 or last):
            metrics.update(translation_report(detokenize(translate(model, valid_src, search, beam=False), tgt_tok,
                                                         tgt_vocab), references))
        else:
            metrics.update({"bleu": 0.0, "bleu_lowercase": 0.0, "chrf": 0.0})
        return metrics

    # CPU seconds per epoch (training and validation) beside fit's wall-clock seconds: on a shared core the wall
    # clock counts the other processes' turns too
    cpu_seconds, clock = [], {"last": time.process_time()}

    def count_cpu(epoch: int, metrics: dict) -> None:
        now = time.process_time()
        cpu_seconds.append(now - clock["last"])
        clock["last"] = now
        print(f"epoch {epoch}: {cpu_seconds[-1]:.0f} CPU seconds", file=sys.stderr)

    run_dir = WORK / "runs" / args.name
    history = fit(model, TaskLoop(batches, step, evaluate, on_epoch_end=[count_cpu]), experiment.train,
                  run_dir=run_dir, resume=True)

    # the restored best weights, decoded both ways
    report = {}
    for name, beam in (("greedy", False), ("beam", True)):
        t0 = time.perf_counter()
        results = translate(model, valid_src, search, beam)
        hypotheses = detokenize(results, tgt_tok, tgt_vocab)
        report[name] = {**translation_report(hypotheses, references), "seconds": time.perf_counter() - t0}
        report[name]["examples"] = [[valid[i].text, hypotheses[i], references[i]] for i in range(3)]
    if data.corpus == "ko-en":
        memory = translation_memory([e.text for e in valid], [e.text for e in train], [e.target for e in train])
        report["translation_memory"] = translation_report(memory, references)
    first = results[0]
    plot_attention(first.attention, src_vocab.decode(valid_src[0]) or ["(empty)"],
                   tgt_vocab.decode(first.ids) + ["<eos>"], run_dir / "attention.png")
    rows = history.epochs
    row = {"name": args.name, "config": asdict(experiment), "params": params,
           "train_pairs": len(train_src), "valid_pairs": len(valid),
           "vocab": [len(src_vocab), len(tgt_vocab)], "epochs": len(rows), "best_epoch": history.best_epoch,
           "seconds_per_epoch": sum(r["seconds"] for r in rows) / max(1, len(rows)),
           "eval_seconds_per_epoch": sum(r["eval_seconds"] for r in rows) / max(1, len(rows)),
           "cpu_seconds_per_epoch": sum(cpu_seconds) / max(1, len(cpu_seconds)),
           "train_minutes": history.seconds / 60, "total_minutes": (time.perf_counter() - began) / 60,
           "history": [{k: r[k] for k in ("epoch", "train_loss", "valid_loss", "valid_bleu_lowercase", "seconds")
                        if k in r} for r in rows],
           **report, "command": "python bench/translate_experiment.py " + " ".join(sys.argv[1:])}
    WORK.mkdir(exist_ok=True)
    with open(WORK / "translate_runs.jsonl", "a", encoding="utf-8") as out:
        out.write(json.dumps(row, ensure_ascii=False) + "\n")
    print(json.dumps({k: row[k] for k in ("name", "epochs", "best_epoch", "seconds_per_epoch", "cpu_seconds_per_epoch",
                                          "train_minutes",
                                          "total_minutes")} | {"greedy": {k: report["greedy"][k] for k in (
                                              "bleu_lowercase", "bleu", "chrf")},
                                              "beam": {k: report["beam"][k] for k in ("bleu_lowercase", "bleu", "chrf")}}
                     | ({"translation_memory": report["translation_memory"]} if "translation_memory" in report else {})))


if __name__ == "__main__":
    main()

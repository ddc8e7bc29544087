"""Entity F1 on the CoNLL validation file, split by whether each entity was seen in training.

CoNLL-2003's test file holds more entities that never occur in train than the validation file does, which is the
usual reading of why test F1 runs several points below validation. This script measures a saved tagger on the
two halves of the validation entities: "seen" (the same words, lower-cased, are an entity somewhere in train,
of any type) and "unseen" (all others). Recall is split by the gold entity, precision by the predicted one.

    python bench/ner_unseen.py runs/ner [runs/ner-other ...]

Needs the conll2003 corpus (``TEXTRNN_DATA_DIR``). Prints one JSON object per run.
"""
from __future__ import annotations

import argparse
import json
import sys

from seqeval.scheme import IOB2, Entities

from textrnn.corpus import load_corpus
from textrnn.metrics import _f1, _ratio
from textrnn.pipeline import load
from textrnn.tasks import tag


def spans(tag_lists: list[list[str]]) -> list[list[tuple[int, int, str]]]:
    """Strict IOB2 entities per sentence as (start, end, type), as seqeval's strict mode counts them."""
    return [[(e.start, e.end, e.tag) for e in sentence] for sentence in Entities(tag_lists, IOB2).entities]


def surface(tokens: list[str], start: int, end: int) -> str:
    return " ".join(tokens[start:end]).lower()


def split_scores(sentences: list[list[str]], gold: list[list[str]], guess: list[list[str]], known: set[str]) -> dict:
    """Precision, recall and F1 of exact entity matches for seen and unseen entities, and the unseen share."""
    counts = {part: {"gold": 0, "guess": 0, "gold_hit": 0, "guess_hit": 0} for part in ("seen", "unseen")}
    for tokens, truth, predicted in zip(sentences, spans(gold), spans(guess), strict=True):
        truth_set, predicted_set = set(truth), set(predicted)
        for entities, others, total, hit in ((truth, predicted_set, "gold", "gold_hit"),
                                             (predicted, truth_set, "guess", "guess_hit")):
            for entity in entities:
                part = counts["seen" if surface(tokens, entity[0], entity[1]) in known else "unseen"]
                part[total] += 1
                part[hit] += entity in others
    out = {}
    for name, c in counts.items():
        precision, recall = _ratio(c["guess_hit"], c["guess"]), _ratio(c["gold_hit"], c["gold"])
        f1 = _f1(precision, recall)
        out[name] = {"precision": round(precision, 4), "recall": round(recall, 4), "f1": round(f1, 4),
                     "entities": c["gold"]}
    total = counts["seen"]["gold"] + counts["unseen"]["gold"]
    out["unseen_share"] = round(counts["unseen"]["gold"] / total, 4) if total else 0.0
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", help="saved ner run directories")
    parser.add_argument("--data-dir", default=None, help="the data directory (default: TEXTRNN_DATA_DIR)")
    args = parser.parse_args(argv)
    corpus = load_corpus("conll2003", args.data_dir)
    known = {surface(ex.tokens, s, e) for ex in corpus.train for s, e, _ in spans([ex.tags])[0]}
    valid = list(corpus.valid)
    sentences = [ex.tokens for ex in valid]
    gold = [list(ex.tags) for ex in valid]
    for run in args.runs:
        pipe = load(run)
        predicted, _ = tag.decode(pipe, pipe.encode(valid, with_labels=False))
        guess = [pipe.labels.decode(path) for path in predicted]
        print(json.dumps({"run": run, **split_scores(sentences, gold, guess, known)}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

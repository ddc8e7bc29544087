"""Entity F1 on the CoNLL validation file of the taggers of several saved runs decoded together.

A recipe's ensemble is bound by its budget: two taggers in 30 CPU-minutes. This script asks what more of them
would give, from runs already trained: the taggers of the first run alone, then those of the first two runs, and
so on, each pool decoded as one ensemble (Viterbi over the mean scores, as the recipe's own ensemble decodes);
with ``--each``, every tagger alone (decoded by itself) first; with ``--pick K``, only tagger K of each run (a
pair from two runs against the pair of one). The runs must share one vocabulary, character
vocabulary and tag set (the same recipe on the same data; the seeds may differ).

    python bench/ner_pool.py runs/ner-s0 runs/ner-s1 runs/ner-s2 [--each] [--pick K]

Needs the conll2003 corpus (``TEXTRNN_DATA_DIR``). Prints one JSON object per pool.
"""
from __future__ import annotations

import argparse
import json
import sys

from textrnn.corpus import load_corpus
from textrnn.models.ensemble import members_of
from textrnn.models.tagger import Tagger, TaggerEnsemble
from textrnn.pipeline import load
from textrnn.tasks import tag


def mismatch(first, other) -> str | None:
    """What keeps ``other``'s taggers from reading ``first``'s batches, or None."""
    for name, same in (("vocabulary", first.vocab == other.vocab),
                       ("character vocabulary", first.char_vocab == other.char_vocab),
                       ("tag set", first.labels.itos == other.labels.itos)):
        if not same:
            return name
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", help="saved ner run directories of one recipe")
    parser.add_argument("--each", action="store_true", help="first score every tagger alone")
    parser.add_argument("--pick", type=int, default=None, metavar="K", help="pool only tagger K of each run")
    parser.add_argument("--data-dir", default=None, help="the data directory (default: TEXTRNN_DATA_DIR)")
    args = parser.parse_args(argv)
    pipes = [load(run) for run in args.runs]
    first = pipes[0]
    for run, pipe in zip(args.runs[1:], pipes[1:], strict=True):
        differs = mismatch(first, pipe)
        if differs:
            print(f"ner_pool: {run}: its {differs} differs from {args.runs[0]}'s; pool runs of one recipe on one "
                  "data set", file=sys.stderr)
            return 2
    encoded = first.encode(load_corpus("conll2003", args.data_dir).valid)

    def f1(taggers: list[Tagger]) -> float:
        model = taggers[0] if len(taggers) == 1 else TaggerEnsemble(taggers)
        return round(tag.evaluate(first, encoded, model=model)["f1"], 4)

    if args.each:
        for run, pipe in zip(args.runs, pipes, strict=True):
            for k, tagger in enumerate(members_of(pipe.model)):
                print(json.dumps({"run": run, "tagger": k, "f1": f1([tagger])}), flush=True)
    pool: list[Tagger] = []
    for n, (run, pipe) in enumerate(zip(args.runs, pipes, strict=True), 1):
        taggers = members_of(pipe.model)
        if args.pick is not None:
            if not 0 <= args.pick < len(taggers):
                print(f"ner_pool: {run} has {len(taggers)} tagger(s): --pick takes 0 to {len(taggers) - 1}",
                      file=sys.stderr)
                return 2
            taggers = [taggers[args.pick]]
        pool += taggers
        print(json.dumps({"runs": args.runs[:n], "taggers": len(pool), "f1": f1(pool)}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""How many multiple-choice blanks a saved language model gets right, ranking the candidates both ways
(``lm.fill_score``): by the whole sentence's log-probability, and by that minus the candidate's own (PMI).

    python bench/blanks.py RUN blanks/korean.tsv [--record NAME]

The blanks file is one of ``recipes/blanks`` (or a path). Prints one JSON line with each way's accuracy and the
items each way gets wrong; ``--record NAME`` stores it in bench/results.json under "blanks".
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from common import commit, machine, record, today

import textrnn
from textrnn.blanks import read_choices
from textrnn.recipes import recipes_dir


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("run")
    parser.add_argument("blanks")
    parser.add_argument("--record", help="a name for the row in bench/results.json")
    args = parser.parse_args()
    path = Path(args.blanks) if Path(args.blanks).exists() else recipes_dir() / args.blanks
    items = read_choices(path)
    pipe = textrnn.load(args.run)
    result = {"run": args.run, "recipe": pipe.config.meta.get("recipe"), "blanks": str(path.name), "n": len(items)}
    for way in ("sentence", "pmi"):
        pipe.settings.fill_score = way
        wrong = []
        for text, options in items:
            picked = pipe.complete(text, candidates=options)["fills"][0]["fill"]
            if picked != options[0]:
                wrong.append(f"{text} -> {picked} (not {options[0]})")
        result[way] = {"accuracy": round(1 - len(wrong) / len(items), 4), "wrong": wrong}
    print(json.dumps(result, ensure_ascii=False))
    if args.record:
        record("blanks", {"name": args.record, **result, "machine": machine(), "commit": commit(), "date": today(),
                          "command": f"python bench/blanks.py {args.run} {args.blanks}"}, ("name", "blanks"))


if __name__ == "__main__":
    main()

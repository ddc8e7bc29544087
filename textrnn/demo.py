"""The sentence-completion demo (``textrnn run complete``): the course's four Korean blanks, English examples and
news-style examples filled by the korean, english and ptb language models, plus multiple-choice blanks scored for
accuracy, each model on its own domain (everyday Korean; everyday English and films; news in PTB's form).

The multiple-choice items (``recipes/blanks/*.tsv``) were written for textrnn: everyday sentences with one right
fill and wrong fills of the same kind of word, so only the sentence's meaning tells them apart. Each model ranks
them the way its recipe's ``lm.fill_score`` says.
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

from textrnn.blanks import read_choices
from textrnn.recipes import Recipe, base_metrics, recipes_dir, run_recipe

COURSE_BLANKS = ["나는 오늘 짝꿍과 밥을 ___.", "공부하려고 책을 ___.", "친구가 나를 못생겼다고 ___.", "그래서 나는 ___."]
ENGLISH_BLANKS = ["The apple and ___ salad was delicious.", "I watched a great ___ last night.",
                  "She drinks a cup of ___ every morning."]
NEWS_BLANKS = ["the company reported a net ___ of $ N million", "shares of the company ___ N cents"]   # PTB's form

# the multiple-choice development sets, one file a language (textrnn/blanks.py reads them): everyday Korean, everyday
# English, news in PTB's form, all written for textrnn
CHOICES = {"korean": "blanks/korean.tsv", "english": "blanks/english.tsv", "news": "blanks/news.tsv"}


def multiple_choice(pipe, items) -> dict:
    """Share of items whose right fill (the first) the LM ranks on top, with each item's pick and the fills the
    model does not know (``unknown``: a fair item has none; a --quick model's small vocabulary lacks many)."""
    right, details = 0, []
    for text, options in items:
        result = pipe.complete(text, candidates=options, top=len(options))
        best = result["fills"][0]["fill"]
        right += best == options[0]
        unknown = [f["fill"] for f in result["fills"] if f["unknown"]]
        details.append({"text": text, "answer": options[0], "picked": best, "unknown": unknown})
    return {"accuracy": right / len(items), "n": len(items), "items": details}


def _model(name: str, out_dir: Path, quick: bool, data_dir, quiet: bool, device: str, resume: bool):
    """The saved LM of recipe ``name`` under ``out_dir``, trained first if it is not there (an interrupted training
    there goes on with ``resume``), on ``device``."""
    from textrnn.pipeline import load

    run_dir = out_dir / name
    if not (run_dir / "config.json").exists():
        run_recipe(name, quick=quick, out=str(run_dir), data_dir=data_dir, device=device, resume=resume, quiet=quiet)
    return load(run_dir, device=device)


def run(recipe: Recipe, out_dir: Path, data_dir: str | None = None, resume: bool = False, quiet: bool = False) -> dict:
    began = time.perf_counter()
    quick = bool(recipe.drill.get("quick_models", False))
    device = recipe.train.get("device", "auto")     # --device: where the models train and fill the blanks
    korean = _model("korean", Path(recipe.drill.get("korean_run", out_dir)), quick, data_dir, quiet, device, resume)
    english = _model("english", Path(recipe.drill.get("english_run", out_dir)), quick, data_dir, quiet, device, resume)
    news = _model("ptb", Path(recipe.drill.get("ptb_run", out_dir)), quick, data_dir, quiet, device, resume)
    top = int(recipe.drill.get("top", 3))
    fills = {}
    for pipe, blanks in ((korean, COURSE_BLANKS), (english, ENGLISH_BLANKS), (news, NEWS_BLANKS)):
        for text in blanks:
            result = pipe.complete(text, top=top)
            fills[text] = result["fills"]
            if not quiet:
                shown = "   ".join(f"{f['fill']} ({f['probability']:.2f})" for f in result["fills"])
                print(f"{text}\n    {shown}", file=sys.stderr)
    # the demo trains nothing itself (epochs 0): the run's fields are still those of every recipe's metrics.json
    metrics = {**base_metrics(recipe, None, str(english.device)), "task": "lm", "fills": fills,
               **{f"{name}_choice": multiple_choice(pipe, read_choices(recipes_dir() / recipe.drill.get(
                   f"{name}_choices", CHOICES[name]))) for name, pipe in (("korean", korean), ("english", english),
                                                                           ("news", news))},
               "pear_vs_pair": english.score(["The apple and pear salad", "The apple and pair salad"])}
    metrics["valid"] = {f"{name}_choice_accuracy": metrics[f"{name}_choice"]["accuracy"]
                        for name in ("korean", "english", "news")}
    metrics["seconds"] = round(time.perf_counter() - began, 1)
    if not quiet:
        shown = ", ".join(f"{name} {metrics[f'{name}_choice']['accuracy']:.0%}" for name in ("korean", "english", "news"))
        print(f"multiple-choice blanks: {shown}", file=sys.stderr)
    from textrnn.fileio import atomic_write_json

    atomic_write_json(out_dir / "metrics.json", metrics)
    return metrics

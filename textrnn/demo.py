"""The sentence-completion demo (``textrnn run complete``): the course's four Korean blanks, English examples and
news-style examples filled by the korean, english and ptb language models, plus multiple-choice blanks scored for
accuracy, each model on its own domain (everyday Korean; everyday English and films; news in PTB's form).

The multiple-choice items were written for textrnn: everyday sentences with one right fill and wrong fills that
are the same kind of word, so only the sentence's meaning tells them apart.
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

from textrnn.recipes import Recipe, base_metrics, run_recipe

COURSE_BLANKS = ["나는 오늘 짝꿍과 밥을 ___.", "공부하려고 책을 ___.", "친구가 나를 못생겼다고 ___.", "그래서 나는 ___."]
ENGLISH_BLANKS = ["The apple and ___ salad was delicious.", "I watched a great ___ last night.",
                  "She drinks a cup of ___ every morning."]

KOREAN_CHOICES = [
    ("나는 오늘 짝꿍과 밥을 ___.", ["먹었다", "읽었다", "마셨다", "탔다"]),
    ("공부하려고 책을 ___.", ["샀다", "먹었다", "마셨다", "잤다"]),
    ("목이 말라서 물을 ___.", ["마셨다", "읽었다", "입었다", "썼다"]),
    ("추워서 외투를 ___.", ["입었다", "마셨다", "먹었다", "읽었다"]),
    ("버스를 ___ 학교에 갔다.", ["타고", "먹고", "입고", "마시고"]),
    ("영화가 너무 ___ 울었다.", ["슬퍼서", "배불러서", "추워서", "빨라서"]),
    ("피곤해서 일찍 ___.", ["잤다", "먹었다", "입었다", "마셨다"]),
    ("친구에게 편지를 ___.", ["썼다", "마셨다", "먹었다", "입었다"]),
    ("비가 와서 우산을 ___.", ["썼다", "먹었다", "마셨다", "읽었다"]),
    ("배가 고파서 라면을 ___.", ["먹었다", "입었다", "썼다", "읽었다"]),
    ("오늘 날씨가 정말 ___.", ["좋다", "먹었다", "마셨다", "입었다"]),
    ("이 영화 정말 ___.", ["재밌다", "마셨다", "입었다", "탔다"]),
]
ENGLISH_CHOICES = [
    ("The apple and ___ salad was fresh.", ["pear", "pair", "pare", "peer"]),
    ("I watched the ___ last night and loved the acting.", ["movie", "spoon", "carpet", "window"]),
    ("The ___ was so boring that I fell asleep.", ["film", "apple", "river", "shoe"]),
    ("She drank a cup of hot ___.", ["coffee", "chair", "paper", "shirt"]),
    ("The actors gave a great ___.", ["performance", "sandwich", "bicycle", "kitchen"]),
    ("I would ___ this movie to anyone.", ["recommend", "eat", "paint", "drive"]),
    ("This is one of the worst films I have ever ___.", ["seen", "eaten", "driven", "cooked"]),
    ("The story was ___ and the ending made me cry.", ["moving", "wooden", "square", "frozen"]),
    ("He plays the ___ in a famous band.", ["guitar", "potato", "window", "tiger"]),
    ("We went to the ___ to watch the new film.", ["cinema", "kitchen", "dentist", "garage"]),
    ("The special effects were ___.", ["amazing", "hungry", "married", "asleep"]),
    ("I laughed so ___ during the comedy.", ["hard", "blue", "tall", "wet"]),
]
# PTB's form: lower case, no final stop, numbers as N; every word here is in its 10,000-word vocabulary, so no fill
# is an <unk> (which a PTB model scores as a frequent word)
NEWS_BLANKS = ["the company reported a net ___ of $ N million", "shares of the company ___ N cents"]
NEWS_CHOICES = [
    ("stock prices fell sharply on wall ___ yesterday", ["street", "river", "school", "garden"]),
    ("the federal reserve cut interest ___ again", ["rates", "games", "horses", "windows"]),
    ("the company reported a net ___ of $ N million for the quarter", ["loss", "song", "river", "dog"]),
    ("the president signed the ___ into law", ["bill", "apple", "car", "song"]),
    ("shares of the company ___ N cents to $ N", ["rose", "sang", "flew", "walked"]),
    ("the chief executive ___ said the company would cut jobs", ["officer", "river", "apple", "kitchen"]),
    ("the merger was approved by the company 's board of ___", ["directors", "apples", "horses", "windows"]),
    ("the japanese ___ rose against the dollar", ["yen", "dog", "horse", "kitchen"]),
    ("the senate voted to ___ the tax increase", ["approve", "eat", "fly", "sleep"]),
    ("oil ___ rose after the attack", ["prices", "games", "dogs", "hats"]),
    ("the bank agreed to ___ the loan", ["repay", "eat", "sleep", "fly"]),
    ("the house of ___ passed the bill", ["representatives", "apples", "horses", "dogs"]),
]


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
               "korean_choice": multiple_choice(korean, KOREAN_CHOICES),
               "english_choice": multiple_choice(english, ENGLISH_CHOICES),
               "news_choice": multiple_choice(news, NEWS_CHOICES),
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

"""The course's first RNN: the characters of "hello", one-hot encoded, and a SimpleRNN that learns the next
character (h->e, e->l, l->l, l->o) — a many-to-many tag task. Prints its predictions as it learns."""
from __future__ import annotations

import sys
import time
from pathlib import Path

from textrnn.corpus import Example
from textrnn.recipes import Recipe, base_metrics


def run(recipe: Recipe, out_dir: Path, data_dir: str | None = None, resume: bool = False, quiet: bool = False) -> dict:
    from textrnn.pipeline import Pipeline
    from textrnn.tasks import tag

    # 1. data: the word and its next characters
    word = str(recipe.drill.get("word", "hello"))
    if len(word) < 2:
        from textrnn.errors import ConfigError

        raise ConfigError("drill.word must have at least two characters")
    example = Example(tokens=list(word[:-1]), tags=list(word[1:]))
    # 2-3. characters, one-hot vocabulary, the model
    pipe = Pipeline.for_task("tag", train=[example], tokenizer="char", embedding={"kind": "onehot"},
                             model=recipe.model, train_config=recipe.train, meta={"recipe": recipe.name}, quiet=quiet)
    every = int(recipe.drill.get("print_every", 10))
    encoded = pipe.encode([example])   # the drill's goal is to learn this one word: it validates on it too

    def show(epoch: int, metrics: dict) -> None:
        if quiet or (epoch % every and metrics["accuracy"] < 1.0):
            return
        predicted = "".join(pipe.labels.decode(tag.decode(pipe, encoded)[0][0]))
        arrows = " ".join(f"{a}->{b}" for a, b in zip(word[:-1], predicted, strict=True))
        print(f"epoch {epoch:4d}  loss {metrics['loss']:.4f}  {arrows}  prediction: {word[0]}{predicted}", file=sys.stderr)

    # 4. training: stop as soon as every character is right
    loop = tag.loop(pipe, encoded, encoded, pipe.config.train)
    loop.on_epoch_end.append(show)
    loop.stop_when = lambda metrics: metrics["accuracy"] >= 1.0
    from textrnn.train import fit, set_threads

    set_threads(pipe.config.train.threads)
    began = time.perf_counter()
    pipe.to(pipe.config.train.device)
    history = fit(pipe.model, loop, pipe.config.train, run_dir=out_dir, resume=resume, quiet=True)
    # 5. evaluation
    metrics = base_metrics(recipe, history, str(pipe.device))
    metrics["valid"] = tag.evaluate(pipe, encoded)
    metrics["prediction"] = word[0] + "".join(pipe.labels.decode(tag.decode(pipe, encoded)[0][0]))
    metrics["seconds"] = round(time.perf_counter() - began, 2)
    metrics["cell"] = pipe.model_config.cell
    if not quiet:
        print(f"{metrics['cell']} learned {word!r} -> {metrics['prediction']!r} in {len(history.epochs)} epochs, "
              f"{metrics['seconds']:.1f} s (accuracy {metrics['valid']['accuracy']:.0%})", file=sys.stderr)
    # 6. save
    pipe.save(out_dir, metrics)
    return metrics

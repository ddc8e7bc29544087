"""Recipes: small declarative TOML presets (``recipes/NAME.toml``) that name a corpus, a task and settings.

A recipe's ``runner`` says which code runs it: ``text`` (any recipe of a text task on a corpus) or one of the
course drills and demos (``hello``, ``multiply``, ``sine``, ``energy``, ``complete``). ``--quick`` applies the
recipe's own ``quick`` overrides (a seconds-long form for tests), then ``-s key=value`` overrides apply. The table
named after the recipe's task (``[lm]``) holds the task's own settings.
"""
from __future__ import annotations

import importlib
import sys
import time
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from textrnn import outdir
from textrnn.config import apply_overrides, from_dict, to_dict
from textrnn.errors import ConfigError, DataError, closest_name
from textrnn.tasks import TASK_NAMES, reads

RUNNERS = {
    "text": "textrnn.recipes:run_text",
    "hello": "textrnn.drills.hello:run",
    "multiply": "textrnn.drills.multiply:run",
    "sine": "textrnn.drills.sine:run",
    "energy": "textrnn.drills.energy:run",
    "complete": "textrnn.demo:run",
}


def recipes_dir() -> Path:
    """The shipped recipes: ``textrnn/_recipes`` in an installed wheel, ``recipes/`` in a source checkout."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "_recipes", here.parent / "recipes"):
        if candidate.is_dir():
            return candidate
    raise ConfigError("the recipes folder is missing from this installation; reinstall textrnn")


def recipe_names() -> list[str]:
    return sorted(p.stem for p in recipes_dir().glob("*.toml"))


@dataclass
class DataSettings:
    corpus: str = ""
    path: str | None = None            # an explicit train file instead of the corpus card's
    valid_path: str | None = None      # with ``path``: a validation file (else a seeded slice of train)
    target_path: str | None = None     # translate, with ``path``: the target side as a line file aligned to ``path``
    text_field: str = "text"
    label_field: str = "label"
    limit: int | None = None           # use only the first N train examples (quick runs)
    valid_limit: int | None = None
    max_chars: int | None = None       # keep only the first N characters of train and of valid (one-text corpora)
    valid_fraction: float | None = None
    extra: str = ""                    # more unlabelled text, named as load_extra_text reads it: for word2vec (and a
                                       # pretraining's default text); a language model trains on it
    extra_limit: int | None = None     # at most this many extra texts (those of pretrain.text too)
    valid_group: str | None = None     # with ``path`` and no valid file: a field whose groups the carved validation
                                       # keeps whole (the film a review is about), so it behaves like a test split


@dataclass
class Recipe:
    name: str = ""
    description: str = ""
    runner: str = "text"
    task: str = "classify"
    data: DataSettings = field(default_factory=DataSettings)
    tokenizer: dict = field(default_factory=dict)
    vocab: dict = field(default_factory=dict)
    encode: dict = field(default_factory=dict)
    settings: dict = field(default_factory=dict)  # the task's own settings: the recipe's table named after its task
    model: dict = field(default_factory=dict)
    train: dict = field(default_factory=dict)
    pretrain: dict = field(default_factory=dict)  # a classifier's or tagger's encoder pretrained as a language
                                                  # model first (PretrainConfig, textrnn/pretrain.py), on the train
                                                  # texts and those ``text`` names (default: the data.extra texts)
    drill: dict = field(default_factory=dict)     # settings of a drill or demo runner
    quick: list = field(default_factory=list)     # overrides applied by --quick
    samples: list = field(default_factory=list)   # prompts or texts shown after training
    init_from: str = ""   # a saved run to go on from: its tokenizer, vocabulary, labels, model and weights; the
                          # recipe's data and train settings (a fresh optimizer and schedule) apply


def read_recipe(name_or_path: str) -> tuple[dict, Path]:
    """The raw recipe table, from a shipped name or a path to a TOML file."""
    path = Path(name_or_path)
    if not (path.suffix == ".toml" and path.exists()):
        path = recipes_dir() / f"{name_or_path}.toml"
        if not path.exists():
            names = recipe_names()
            close = closest_name(name_or_path, names)
            hint = f" Did you mean {close!r}?" if close else ""
            raise ConfigError(f"unknown recipe {name_or_path!r}.{hint} Known recipes: {', '.join(names)}; "
                              "or give a path to a .toml recipe file")
    try:
        with open(path, "rb") as f:
            return tomllib.load(f), path
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path}: not valid TOML ({error})") from None


def recipe_from_table(raw: dict) -> Recipe:
    """A Recipe from its table; the table named after its task becomes ``settings``."""
    raw = dict(raw)
    task = raw.get("task", "classify")
    if task not in TASK_NAMES:
        raise ConfigError(f"task must be one of {', '.join(TASK_NAMES)}, got {task!r}")
    if isinstance(raw.get(task), dict):
        raw["settings"] = {**raw.get("settings", {}), **raw.pop(task)}
    return from_dict(Recipe, raw)


def load_recipe(name_or_path: str, overrides: list[str] = (), quick: bool = False) -> Recipe:
    raw, path = read_recipe(name_or_path)
    raw.setdefault("name", path.stem)
    if quick:
        raw = apply_overrides(raw, list(raw.get("quick", [])))
    recipe = recipe_from_table(apply_overrides(raw, list(overrides)))
    if recipe.runner not in RUNNERS:
        raise ConfigError(f"{path}: runner must be one of {', '.join(RUNNERS)}, got {recipe.runner!r}")
    return recipe


def run_recipe(name_or_path: str, overrides: list[str] = (), quick: bool = False, out: str | None = None,
               data_dir: str | None = None, device: str | None = None, resume: bool = False,
               overwrite: bool = False, quiet: bool = False) -> dict:
    """Run a recipe end to end and return its metrics (also written to ``OUT/metrics.json``)."""
    recipe = load_recipe(name_or_path, overrides, quick)
    if device is not None:
        recipe.train["device"] = device
    return run_loaded(recipe, Path(out or f"runs/{recipe.name}{'-quick' if quick else ''}"), data_dir=data_dir,
                      resume=resume, overwrite=overwrite, quiet=quiet)


def run_loaded(recipe: Recipe, out_dir: Path, data_dir: str | None = None, resume: bool = False,
               overwrite: bool = False, quiet: bool = False) -> dict:
    """Run a loaded recipe into ``out_dir`` (checked and marked first: ``outdir.prepare``)."""
    from textrnn.distributed import is_main, world_size

    if recipe.init_from and recipe.runner != "text":
        raise ConfigError(f"init_from: the {recipe.name} recipe does not train from a saved run; init_from is for "
                          "the text tasks' recipes and 'textrnn train'")
    if recipe.runner != "text" and world_size() > 1:
        # the drills train without DistributedDataParallel: every process would train, print and write alone
        raise ConfigError(f"the {recipe.name} recipe runs in one process; run it without torchrun "
                          "(text recipes and 'textrnn train' can be distributed)")
    from textrnn.train import TrainConfig

    from_dict(TrainConfig, recipe.train, "train").check()   # a wrong setting is named before the folder is touched
    if is_main():
        outdir.prepare(out_dir, recipe.name, recipe.task, resume=resume, overwrite=overwrite)
    module_name, _, function = RUNNERS[recipe.runner].partition(":")
    runner = getattr(importlib.import_module(module_name), function)
    return runner(recipe, out_dir=out_dir, data_dir=data_dir, resume=resume, quiet=quiet)


def base_metrics(recipe: Recipe, history, device: str) -> dict:
    from textrnn import __version__

    epochs = len(history.epochs) if history is not None else 0
    seconds = history.seconds if history is not None else 0.0
    train_seconds = sum(e["seconds"] for e in history.epochs) if history is not None else 0.0
    return {"recipe": recipe.name, "task": recipe.task, "epochs": epochs, "seconds": round(seconds, 2),
            "seconds_per_epoch": round(train_seconds / max(1, epochs), 3), "device": device,
            "textrnn_version": __version__}


def _log(quiet: bool, message: str) -> None:
    if not quiet:
        print(message, file=sys.stderr)


UNKNOWN_WARNING = 0.05   # init_from: above this share of unknown train tokens the log suggests training from scratch


def start_from(recipe: Recipe, corpus, quiet: bool = False):
    """The pipeline saved in ``recipe.init_from``, to train further on ``train`` with the recipe's train settings:
    a language model fine-tuned on one's own text, or a saved model trained longer with a fresh schedule.

    Its tokenizer, vocabulary, labels, model settings and weights are kept (the recipe's own tokenizer, vocab,
    model and encode settings are not used); the optimizer and schedule start afresh. Words the saved vocabulary
    lacks become ``<unk>``, and the share of them in ``train`` is reported. Raises ConfigError for a run of another
    task and DataError for train labels the saved run does not know."""
    import numpy as np

    from textrnn.pipeline import load
    from textrnn.train import TrainConfig
    from textrnn.vocab import UNK_ID

    source = Path(recipe.init_from)
    pipe = load(source)
    if pipe.config.task != recipe.task:
        raise ConfigError(f"init_from: {source} holds a {pipe.config.task} pipeline, but this recipe trains a "
                          f"{recipe.task} model; start from a saved {recipe.task} run")
    train = corpus.train
    if pipe.labels is not None:   # labels as the saved run's corpus writes them (IMDB's 0/1) become its labels
        for split in (corpus.train, corpus.valid, corpus.test or []):
            pipe.reading().map_labels(split, pipe.labels.itos, recipe.data.path or recipe.data.corpus, strict=False)
        seen = {str(x) for e in train for x in ([e.label] if e.label is not None else []) + list(e.tags or [])}
        unknown = sorted(seen - set(pipe.labels.itos))
        if unknown:
            raise DataError(f"init_from: the train data has labels {', '.join(map(repr, unknown[:8]))} that {source} "
                            f"does not know (it has {len(pipe.labels)}: {', '.join(pipe.labels.itos[:8])}"
                            f"{' ...' if len(pipe.labels) > 8 else ''}); a saved model's labels are fixed, so train "
                            f"without init_from to add labels")
    pipe.config.train = from_dict(TrainConfig, recipe.train, "train")
    pipe.config.meta = {**pipe.config.meta, "recipe": recipe.name, "init_from": str(source),
                        "corpus": recipe.data.corpus or recipe.data.path or pipe.config.meta.get("corpus")}
    ids = pipe.encode(train[:2000], with_labels=False).ids   # a list of id lists, or an LM's one stream
    flat = np.concatenate([np.asarray(row, dtype=np.int64) for row in ids]) if isinstance(ids, list) else ids
    unknown_share = float((np.asarray(flat) == UNK_ID).mean()) if len(flat) else 0.0
    _log(quiet, f"starting from {source}: its tokenizer, vocabulary ({len(pipe.vocab):,} tokens), model and weights; "
                f"{unknown_share:.1%} of the train tokens are unknown to it"
                + (" (sampled)" if len(train) > 2000 else "")
                + ("; they all become <unk>, so a model trained on this text from scratch (without init_from) may"
                   " do better" if unknown_share > UNKNOWN_WARNING else ""))
    return pipe


def read_corpus(recipe: Recipe, data_dir: str | None):
    """The recipe's corpus (its card's, or its own files), cut to the recipe's limits."""
    from textrnn.corpus import Corpus, load_corpus

    data = recipe.data
    if data.path:
        corpus = Corpus.from_files(train=data.path, valid=data.valid_path, text_field=data.text_field,
                                   label_field=data.label_field, task=recipe.task, valid_group=data.valid_group,
                                   target=data.target_path)
    else:
        corpus = load_corpus(data.corpus, data_dir=data_dir, valid_fraction=data.valid_fraction)
    if data.limit:
        corpus.train = corpus.train[: data.limit]
    if data.valid_limit:
        corpus.valid = corpus.valid[: data.valid_limit]
    if data.max_chars:
        corpus.train, corpus.valid = (_first_characters(corpus.train, data.max_chars),
                                      _first_characters(corpus.valid, data.max_chars))
    return corpus


def run_text(recipe: Recipe, out_dir: Path, data_dir: str | None = None, resume: bool = False,
             quiet: bool = False) -> dict:
    """Steps: data, tokens + vocabulary + model (or a saved run's), pretraining, training, evaluation, plots, save."""
    from textrnn.corpus import Example, extra_parts, licenses, load_extra_text
    from textrnn.distributed import is_main
    from textrnn.pipeline import Pipeline
    from textrnn.plots import plot_curves
    from textrnn.train import CHECKPOINT, load_checkpoint, resolve_device

    began = time.perf_counter()
    pretrain = dict(recipe.pretrain)
    if pretrain.get("epochs") and recipe.init_from:
        raise ConfigError("pretrain: pretraining the encoder is for a new classifier or tagger, not one from "
                          "init_from; set pretrain.epochs=0")
    if resume and (out_dir / CHECKPOINT).exists():
        load_checkpoint(out_dir / CHECKPOINT)   # a checkpoint textrnn cannot read is refused before any work
    # 1. data
    data = recipe.data
    corpus = read_corpus(recipe, data_dir)
    extra = []
    for part in extra_parts(data.extra):   # each part keeps its name, as a language model's lines' source
        extra += [Example(text=t, meta={"source": part}) for t in load_extra_text(part, data.corpus, data_dir=data_dir)]
    extra = extra[: data.extra_limit]
    if extra and reads(recipe.task) == "text":   # a language model learns from the unlabelled text itself
        corpus.train, extra = list(corpus.train) + extra, []
    extra = [e.text for e in extra]
    _log(quiet, f"{recipe.name}: {len(corpus.train):,} train / {len(corpus.valid):,} valid examples"
                + (" (valid carved from train)" if corpus.valid_is_carved else ""))
    # 2-3. tokens, vocabulary, model; or all of them from a saved run
    if recipe.init_from:
        pipe = start_from(recipe, corpus, quiet)
    else:
        pipe = Pipeline.for_task(recipe.task, corpus, tokenizer=recipe.tokenizer, vocab=recipe.vocab,
                                 model=recipe.model, encode=recipe.encode, settings=recipe.settings,
                                 train_config=recipe.train, extra_text=extra,
                                 meta={"recipe": recipe.name, "corpus": data.corpus or data.path,
                                       "data": to_dict(corpus.reading),
                                       "licenses": licenses(data.corpus, ",".join(
                                           filter(None, [data.extra, pretrain.get("text", "")])))},
                                 quiet=quiet)
    sizes = {name: len(part) for name, part in pipe.parts.items() if name.endswith("vocab")}
    _log(quiet, f"{', '.join(f'{name} {size:,}' for name, size in sizes.items())} tokens; device "
                f"{resolve_device(pipe.config.train.device)}")
    pretrained = None
    if pretrain.get("epochs"):
        spec = pretrain.pop("text", "")
        texts = (load_extra_text(spec, data.corpus, data_dir=data_dir, setting="pretrain.text")[: data.extra_limit]
                 if spec else extra)
        pretrained = pipe.pretrain(list(corpus.train) + list(texts), run_dir=out_dir, resume=resume, quiet=quiet,
                                   **pretrain)
    # 4. training
    history = pipe.fit(corpus.train, corpus.valid, run_dir=out_dir, resume=resume, quiet=quiet)
    if not is_main():
        return {}
    # 5. evaluation (rank 0 only when distributed)
    metrics = base_metrics(recipe, history, str(pipe.device))
    valid = pipe.encode(corpus.valid, where="valid")
    metrics["valid"] = pipe.task.evaluate(pipe, valid)
    metrics["valid_is_carved"] = bool(corpus.valid_is_carved)
    if pretrained is not None:
        metrics["pretrain"] = pretrained
    if corpus.test:
        metrics["test"] = pipe.evaluate(corpus.test, where="test")
    clean = [e for e in corpus.valid if (e.meta or {}).get("clean")]
    if clean and len(clean) < len(corpus.valid):   # Reuters: the texts whose label Keras did not take from another
        metrics["valid_clean"] = {k: v for k, v in pipe.evaluate(clean).items() if k != "per_class"}
    if pipe.word2vec_report is not None:
        metrics["word2vec"] = pipe.word2vec_report
        _show_neighbours(pipe, recipe, quiet)
    metrics["sizes"] = {"train": len(corpus.train), "valid": len(corpus.valid), **sizes}
    # 6. plots and samples
    plot_curves(history.epochs, out_dir / "curves.png")
    if pipe.task.report is not None:
        metrics.update(pipe.task.report(pipe, corpus, valid, out_dir, recipe.samples, quiet))
    metrics["wall_seconds"] = round(time.perf_counter() - began, 1)
    # 7. save
    pipe.save(out_dir, metrics)
    _log(quiet, f"saved to {out_dir}")
    return metrics


def _first_characters(examples: list, count: int) -> list:
    """The examples whose text falls in the first ``count`` characters, the last one cut to fit."""
    import dataclasses

    kept, left = [], count
    for example in examples:
        if left <= 0:
            break
        text = example.text or ""
        kept.append(dataclasses.replace(example, text=text[:left]) if len(text) > left else example)
        left -= len(text)
    return kept


def _show_neighbours(pipe, recipe: Recipe, quiet: bool) -> None:
    from textrnn.embeddings import nearest_neighbours

    if quiet:
        return
    wanted = recipe.drill.get("neighbours", ["good", "bad", "oil", "bank"])
    for _, vocab, embeddings in pipe.word_tables():   # the first table that holds the words
        words = [w for w in wanted if w in vocab][:4]
        if words:
            table = nearest_neighbours(embeddings[0].weight.detach().cpu(), vocab, words, k=5)
            for word, neighbours in table.items():
                print(f"  {word}: " + ", ".join(f"{w} ({s:.2f})" for w, s in neighbours), file=sys.stderr)
            return


def describe(name: str) -> dict[str, Any]:
    raw, _ = read_recipe(name)
    return {"name": name, "task": raw.get("task", ""), "runner": raw.get("runner", "text"),
            "corpus": raw.get("data", {}).get("corpus", ""), "description": raw.get("description", "")}


def train_custom(task: str, data: str | Path, valid: str | Path | None = None, target: str | Path | None = None,
                 text_field: str = "text",
                 label_field: str = "label", tokenizer: str | None = None, embedding: str | None = None,
                 cell: str = "lstm",
                 out: str | Path = "runs/custom", overrides: list[str] = (), device: str | None = None,
                 resume: bool = False, overwrite: bool = False, quiet: bool = False,
                 init_from: str | Path | None = None) -> dict:
    """Train a pipeline on a file (jsonl, csv/tsv, txt or CoNLL) with the task's defaults; returns its metrics.

    ``tokenizer`` and ``embedding``: None keeps the task's default (word tokens, learned vectors). ``init_from``: a
    saved run of the same task to go on from (fine-tuning): its tokenizer, vocabulary, labels, model and weights
    are kept, so ``tokenizer``, ``embedding`` and ``cell`` do not apply."""
    import dataclasses

    from textrnn.tasks import get_task

    spec = get_task(task)
    raw = {**{k: dict(v) for k, v in spec.defaults.items()}, "name": Path(out).name, "runner": "text", "task": task,
           "data": {"path": str(data), "valid_path": str(valid) if valid else None,
                    "target_path": str(target) if target else None,
                    "text_field": text_field, "label_field": label_field}}
    raw["tokenizer"] = {"kind": "word", **raw.get("tokenizer", {}), **({"kind": tokenizer} if tokenizer else {})}
    raw["model"] = {**raw.get("model", {}), "cell": cell}
    if "embedding" in {f.name for f in dataclasses.fields(spec.model_config)}:
        raw["model"]["embedding"] = {"kind": embedding or "learned"}
    raw.setdefault("train", {})
    if device:
        raw["train"]["device"] = device
    if init_from:
        raw["init_from"] = str(init_from)
    recipe = recipe_from_table(apply_overrides(raw, list(overrides)))
    return run_loaded(recipe, Path(out), resume=resume, overwrite=overwrite, quiet=quiet)

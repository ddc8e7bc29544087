"""Recipes: small declarative TOML presets (``recipes/NAME.toml``) that name a corpus, a task and settings.

A recipe's ``runner`` says which code runs it: ``text`` (any classify/tag/lm recipe on a corpus) or one of the
course drills and demos (``hello``, ``multiply``, ``sine``, ``energy``, ``complete``). ``--quick`` applies the
recipe's own ``quick`` overrides (a seconds-long form for tests), then ``-s key=value`` overrides apply.
"""
from __future__ import annotations

import importlib
import sys
import time
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from textrnn.config import apply_overrides, from_dict
from textrnn.errors import ConfigError, DataError, closest_name

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
    text_field: str = "text"
    label_field: str = "label"
    limit: int | None = None           # use only the first N train examples (quick runs)
    valid_limit: int | None = None
    max_chars: int | None = None       # keep only the first N characters of train and of valid (one-text corpora)
    valid_fraction: float | None = None
    extra: str = ""                    # extra unlabelled text for word2vec (an LM trains on it): "unsup" (IMDB's
                                       # 50k reviews) and/or other corpora's names, comma-separated: "reuters,ptb"
    extra_limit: int | None = None
    unlabelled: str = ""               # unlabelled texts for train.virtual_adversarial, named as extra is
                                       # ("reuters:raw_text"; a tagger reads them cut into sentences); "" = the extra
                                       # text (a classifier's) or none
    unlabelled_limit: int | None = None    # at most this many unlabelled texts (sentences for a tagger)


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
    lm: dict = field(default_factory=dict)
    model: dict = field(default_factory=dict)
    train: dict = field(default_factory=dict)
    context: dict = field(default_factory=dict)   # a tagger's contextual character features (ContextConfig)
    pretrain: dict = field(default_factory=dict)  # a classifier's or tagger's encoder pretrained as a language
                                                  # model first (PretrainConfig, textrnn/pretrain.py), on the train
                                                  # texts and those ``text`` names (a data.extra spec; default: the
                                                  # data.extra texts)
    drill: dict = field(default_factory=dict)     # settings of a drill or demo runner
    quick: list = field(default_factory=list)     # overrides applied by --quick
    char_features: bool = False
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


def load_recipe(name_or_path: str, overrides: list[str] = (), quick: bool = False) -> Recipe:
    raw, path = read_recipe(name_or_path)
    raw.setdefault("name", path.stem)
    if quick:
        raw = apply_overrides(raw, list(raw.get("quick", [])))
    raw = apply_overrides(raw, list(overrides))
    recipe = from_dict(Recipe, raw)
    if recipe.runner not in RUNNERS:
        raise ConfigError(f"{path}: runner must be one of {', '.join(RUNNERS)}, got {recipe.runner!r}")
    return recipe


def run_recipe(name_or_path: str, overrides: list[str] = (), quick: bool = False, out: str | None = None,
               data_dir: str | None = None, device: str | None = None, resume: bool = False,
               quiet: bool = False) -> dict:
    """Run a recipe end to end and return its metrics (also written to ``OUT/metrics.json``)."""
    recipe = load_recipe(name_or_path, overrides, quick)
    if device is not None:
        recipe.train["device"] = device
    from textrnn.distributed import world_size

    if recipe.init_from and recipe.runner != "text":
        raise ConfigError(f"init_from: the {recipe.name} recipe does not train from a saved run; init_from is for "
                          "classify, tag and lm recipes and 'textrnn train'")
    if recipe.runner != "text" and world_size() > 1:
        # the drills train without DistributedDataParallel: every process would train, print and write alone
        raise ConfigError(f"the {recipe.name} recipe runs in one process; run it without torchrun "
                          "(text recipes and 'textrnn train' can be distributed)")
    out_dir = Path(out or f"runs/{recipe.name}{'-quick' if quick else ''}")
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


def _unlabelled(recipe: Recipe, data_dir: str | None, quiet: bool) -> list[str] | None:
    """The texts ``data.unlabelled`` names (a tagger's cut into sentences), when virtual adversarial training reads
    them; None leaves the pipeline its default (the extra text)."""
    data = recipe.data
    if not data.unlabelled or not float(recipe.train.get("virtual_adversarial", 0) or 0):
        return None
    from textrnn.corpus import load_extra_text

    texts = load_extra_text(data.unlabelled, data.corpus, data_dir=data_dir, setting="data.unlabelled")
    if recipe.task == "tag":
        from textrnn.tokenize import split_sentences

        # sentences of three words or more: a newswire's sign-off ("Reuter") or a dateline teaches nothing
        texts = [sentence for text in texts for sentence in split_sentences(text) if len(sentence.split()) >= 3]
    texts = texts[: data.unlabelled_limit]
    _log(quiet, f"virtual adversarial training on {len(texts):,} unlabelled {'sentences' if recipe.task == 'tag' else 'texts'}")
    return texts


UNKNOWN_WARNING = 0.05   # init_from: above this share of unknown train tokens the log suggests training from scratch


def start_from(recipe: Recipe, train: list, quiet: bool = False):
    """The pipeline saved in ``recipe.init_from``, to train further on ``train`` with the recipe's train settings:
    a language model fine-tuned on one's own text, or a saved model trained longer with a fresh schedule.

    Its tokenizer, vocabulary, labels, model settings and weights are kept (the recipe's own tokenizer, vocab,
    model and encode settings are not used); the optimizer and schedule start afresh. Words the saved vocabulary
    lacks become ``<unk>``, and the share of them in ``train`` is reported. Raises ConfigError for a run of another
    task and DataError for train labels the saved run does not know."""
    from textrnn.pipeline import load
    from textrnn.train import TrainConfig

    source = Path(recipe.init_from)
    pipe = load(source)
    if pipe.config.task != recipe.task:
        raise ConfigError(f"init_from: {source} holds a {pipe.config.task} pipeline, but this recipe trains a "
                          f"{recipe.task} model; start from a saved {recipe.task} run")
    if pipe.labels is not None:
        seen = ({str(e.label) for e in train if e.label is not None} if recipe.task == "classify"
                else {str(t) for e in train for t in (e.tags or [])})
        unknown = sorted(seen - set(pipe.labels.itos))
        if unknown:
            raise DataError(f"init_from: the train data has labels {', '.join(map(repr, unknown[:8]))} that {source} "
                            f"does not know (it has {len(pipe.labels)}: {', '.join(pipe.labels.itos[:8])}"
                            f"{' ...' if len(pipe.labels) > 8 else ''}); a saved model's labels are fixed, so train "
                            f"without init_from to add labels")
    pipe.config.train = from_dict(TrainConfig, recipe.train, "train")
    pipe.config.meta = {**pipe.config.meta, "recipe": recipe.name, "init_from": str(source),
                        "corpus": recipe.data.corpus or recipe.data.path or pipe.config.meta.get("corpus")}
    sample = [pipe.normalize_tokens(pipe.example_tokens(e)) for e in train[:2000]]
    tokens = sum(len(t) for t in sample)
    unknown_share = sum(t not in pipe.vocab for ts in sample for t in ts) / max(1, tokens)
    _log(quiet, f"starting from {source}: its tokenizer, vocabulary ({len(pipe.vocab):,} tokens), model and weights; "
                f"{unknown_share:.1%} of the train tokens are unknown to it"
                + (" (sampled)" if len(train) > len(sample) else "")
                + ("; they all become <unk>, so a model trained on this text from scratch (without init_from) may"
                   " do better" if unknown_share > UNKNOWN_WARNING else ""))
    return pipe


def run_text(recipe: Recipe, out_dir: Path, data_dir: str | None = None, resume: bool = False,
             quiet: bool = False) -> dict:
    """Steps: data, tokens + vocabulary, model, training, evaluation, plots, save."""
    from textrnn.corpus import Corpus, load_corpus, load_extra_text
    from textrnn.pipeline import Pipeline
    from textrnn.plots import plot_confusion, plot_curves
    from textrnn.train import resolve_device

    began = time.perf_counter()
    if recipe.pretrain.get("minutes") and (recipe.task not in ("classify", "tag") or recipe.init_from):
        raise ConfigError("pretrain: pretraining the encoder as a language model is for a new classifier or tagger "
                          "(task classify or tag, no init_from); set pretrain.minutes=0")
    # 1. data
    data = recipe.data
    if data.path:
        aux_field = recipe.model.get("aux_field") if recipe.task == "classify" else None
        corpus = Corpus.from_files(train=data.path, valid=data.valid_path, text_field=data.text_field,
                                   label_field=data.label_field, task=recipe.task,
                                   meta_fields=[aux_field] if aux_field else ())
    else:
        corpus = load_corpus(data.corpus, data_dir=data_dir, valid_fraction=data.valid_fraction)
    if data.limit:
        corpus.train = corpus.train[: data.limit]
    if data.valid_limit:
        corpus.valid = corpus.valid[: data.valid_limit]
    if data.max_chars:
        corpus.train, corpus.valid = _first_characters(corpus.train, data.max_chars), _first_characters(corpus.valid, data.max_chars)
    extra = []
    if data.extra:
        extra = load_extra_text(data.extra, data.corpus, data_dir=data_dir)[: data.extra_limit]
        if recipe.task == "lm":
            # a language model learns from the unlabelled text itself; a classifier only from its word vectors
            from textrnn.corpus import Example

            corpus.train = list(corpus.train) + [Example(text=t) for t in extra]
            extra = []
    _log(quiet, f"{recipe.name}: {len(corpus.train):,} train / {len(corpus.valid):,} valid examples"
                + (" (valid carved from train)" if corpus.valid_is_carved else ""))
    context_text = []
    if recipe.context.get("text"):
        context_text = load_extra_text(recipe.context["text"], data.corpus, data_dir=data_dir)[: data.extra_limit]
    # 2-3. tokens, vocabulary, (pretrained context features,) model; or all of them from a saved run
    if recipe.init_from:
        pipe = start_from(recipe, corpus.train, quiet)
    else:
        pipe = Pipeline.for_task(recipe.task, corpus, tokenizer=recipe.tokenizer, vocab=recipe.vocab,
                                 model=recipe.model, encode=recipe.encode, lm=recipe.lm, train_config=recipe.train,
                                 char_features=recipe.char_features, word2vec_extra=extra,
                                 meta={"recipe": recipe.name, "corpus": data.corpus}, context=recipe.context or None,
                                 context_text=context_text, run_dir=out_dir, resume=resume, quiet=quiet)
    _log(quiet, f"vocabulary {len(pipe.vocab):,} tokens; device {resolve_device(pipe.config.train.device)}")
    pretrained = None
    if recipe.pretrain.get("minutes"):
        settings = dict(recipe.pretrain)
        spec = settings.pop("text", "")
        texts = (load_extra_text(spec, data.corpus, data_dir=data_dir, setting="pretrain.text")[: data.extra_limit]
                 if spec else extra)
        pretrained = pipe.pretrain(list(corpus.train) + list(texts), run_dir=out_dir, resume=resume, quiet=quiet,
                                   **settings)
    # 4. training
    history = pipe.fit(corpus.train, corpus.valid, unlabelled=_unlabelled(recipe, data_dir, quiet), run_dir=out_dir,
                       resume=resume, quiet=quiet)
    from textrnn.distributed import is_main

    if not is_main():
        return {}
    # 5. evaluation (rank 0 only when distributed)
    metrics = base_metrics(recipe, history, str(pipe.device))
    metrics["valid"] = pipe.evaluate(corpus.valid, where="valid")
    metrics["valid_is_carved"] = bool(corpus.valid_is_carved)
    if pretrained is not None:
        metrics["pretrain"] = pretrained
    if corpus.test:
        metrics["test"] = pipe.evaluate(corpus.test, where="test")
    if recipe.task == "classify" and any("clean" in e.meta for e in corpus.valid):
        clean = [e for e in corpus.valid if e.meta.get("clean")]
        if clean:
            metrics["valid_clean"] = {k: v for k, v in pipe.evaluate(clean).items() if k != "per_class"}
    if pipe.word2vec_report is not None:
        metrics["word2vec"] = pipe.word2vec_report
        _show_neighbours(pipe, recipe, quiet)
    metrics["sizes"] = {"train": len(corpus.train), "valid": len(corpus.valid), "vocab": len(pipe.vocab)}
    metrics["wall_seconds"] = round(time.perf_counter() - began, 1)
    # 6. plots and samples
    plot_curves(history.epochs, out_dir / "curves.png")
    if recipe.task == "classify":
        from textrnn.tasks import classify

        encoded = pipe.encode(corpus.valid)
        predicted = classify.probabilities(pipe, encoded).argmax(axis=1)
        from textrnn.metrics import confusion_matrix

        matrix = confusion_matrix(encoded.labels, predicted, len(pipe.labels))
        plot_confusion(matrix, pipe.labels.itos, out_dir / "confusion.png")
    if recipe.task == "lm":
        # one seed per prompt: with one seed, prompts that end alike ("ROMEO:\n", "First Citizen:\n") draw the same
        # random numbers from near-equal distributions and can print the very same sample
        length = 200 if recipe.tokenizer.get("kind") == "char" else 40
        samples = [{"prompt": p, "text": pipe.generate(p, max_tokens=length, temperature=0.8, seed=i)}
                   for i, p in enumerate(recipe.samples or [""])]
        metrics["samples"] = samples
        from textrnn.fileio import atomic_write

        text = "\n\n".join(f"[{s['prompt']}]{s['text']}" for s in samples)
        atomic_write(out_dir / "samples.txt", lambda tmp: tmp.write_text(text + "\n", encoding="utf-8"))
        for sample in samples:
            _log(quiet, f"--- sample ({sample['prompt']!r}):\n{sample['prompt']}{sample['text']}")
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

    words = [w for w in recipe.drill.get("neighbours", ["good", "bad", "oil", "bank"]) if w in pipe.vocab][:4]
    if not words or quiet:
        return
    table = nearest_neighbours(pipe._word_embedding().weight.detach().cpu(), pipe.vocab, words, k=5)
    for word, neighbours in table.items():
        print(f"  {word}: " + ", ".join(f"{w} ({s:.2f})" for w, s in neighbours), file=sys.stderr)


def describe(name: str) -> dict[str, Any]:
    raw, _ = read_recipe(name)
    return {"name": name, "task": raw.get("task", ""), "runner": raw.get("runner", "text"),
            "corpus": raw.get("data", {}).get("corpus", ""), "description": raw.get("description", "")}

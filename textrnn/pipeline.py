"""A pipeline is one task's parts (tokenizer, vocabulary, labels...) and model, with training, evaluation, the task's
inference commands, and saving as a directory of plain files (``runfiles.py`` knows that format).

Build with ``Pipeline.for_task(task, corpus, ...)``, load with ``textrnn.load(run_dir)``. Everything that differs
between tasks is the task module's (``textrnn/tasks/``); the pipeline holds the parts and delegates.
"""
from __future__ import annotations

import sys
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import torch

from textrnn import distributed
from textrnn.config import from_dict, to_dict
from textrnn.encode import EncodeConfig
from textrnn.errors import ConfigError, DataError, PipelineError
from textrnn.runfiles import load_run, save_run
from textrnn.tasks import get_task, offering
from textrnn.tokenize import TokenizerConfig, clean_text
from textrnn.train import TrainConfig, fit, resolve_device, set_threads
from textrnn.vocab import EOS_ID, VocabConfig


@dataclass
class PipelineConfig:
    task: str = "classify"
    tokenizer: TokenizerConfig = field(default_factory=TokenizerConfig)
    vocab: VocabConfig = field(default_factory=VocabConfig)
    encode: EncodeConfig = field(default_factory=EncodeConfig)
    settings: dict = field(default_factory=dict)   # the task's own settings (its Task.settings dataclass)
    model: dict = field(default_factory=dict)
    train: TrainConfig = field(default_factory=TrainConfig)
    meta: dict = field(default_factory=dict)       # recipe name, corpus name, how the data was read...


def _as_dict(value: Any, name: str) -> dict:
    if value is None:
        return {}
    if isinstance(value, str):
        return {"kind": value}
    if isinstance(value, dict):
        return dict(value)
    if hasattr(value, "__dataclass_fields__"):
        return to_dict(value)
    raise ConfigError(f"{name}: expected a name or a table of settings, got {value!r}")


class Pipeline:
    """One task's parts and model, with fit, evaluate, the task's inference and save."""

    def __init__(self, config: PipelineConfig, parts: dict | None = None, model: torch.nn.Module | None = None):
        self.config = config
        self.task = get_task(config.task)
        self.parts = dict(parts or {})
        self.model_config = from_dict(self.task.model_config, config.model, "model")
        self.settings = (from_dict(self.task.settings, config.settings, config.task)
                         if self.task.settings is not None else None)
        self.model = model if model is not None else self.task.make_model(self.model_config, self.parts)
        self.history = None
        self.word2vec_report: dict | None = None

    @property
    def tokenizer(self):
        return self.parts.get("tokenizer")

    @property
    def vocab(self):
        return self.parts.get("vocab")

    @property
    def labels(self):
        return self.parts.get("labels")

    # ----- building -------------------------------------------------------------------------------------------
    @classmethod
    def for_task(cls, task: str, corpus=None, *, train=None, tokenizer: Any = "word", vocab: dict | None = None,
                 embedding: Any = None, model: dict | None = None, encode: dict | None = None,
                 settings: dict | None = None, train_config: dict | None = None, extra_text: Iterable[str] = (),
                 meta: dict | None = None, quiet: bool = False) -> Pipeline:
        """A new, untrained pipeline whose parts are built from the train split (``train``, or ``corpus.train``).

        ``tokenizer``: "word" | "char" | "sentencepiece" or TokenizerConfig settings; ``vocab``: VocabConfig
        settings; ``embedding``: "learned" | "onehot" | "word2vec" or EmbeddingConfig settings; ``model``: the task's
        model settings; ``settings``: the task's own (``lm``: LMSettings); ``extra_text``: more unlabelled texts for
        word2vec (IMDB's unlabelled reviews). A regress pipeline takes ``train`` as numeric arrays
        (``tasks.regress.Encoded``). The initial weights follow ``train.seed``.
        """
        spec = get_task(task)
        examples = train if train is not None else corpus.train
        model_dict = dict(model or {})
        if embedding is not None:
            model_dict["embedding"] = {**_as_dict(model_dict.get("embedding"), "embedding"),
                                       **_as_dict(embedding, "embedding")}
        config = from_dict(PipelineConfig, {
            "task": task, "tokenizer": _as_dict(tokenizer, "tokenizer"), "vocab": vocab or {}, "encode": encode or {},
            "settings": settings or {}, "model": model_dict, "train": train_config or {}, "meta": meta or {}})
        extra_text = [t for t in extra_text if t]
        built = spec.build(config, examples, corpus, extra_text, quiet)
        # the same settings give the same initial model in any process (and a resumed run continues the same one)
        torch.manual_seed(config.train.seed)
        pipe = cls(config, built.parts)
        if spec.prepare is not None:
            spec.prepare(pipe, examples, quiet)
        embedding_config = getattr(pipe.model_config, "embedding", None)
        if embedding_config is not None and embedding_config.kind == "word2vec":
            pipe._init_word2vec(built.token_lists, built.extra_lists, quiet)
        return pipe

    def word_embeddings(self) -> list[torch.nn.Embedding]:
        """Every word embedding of the model: one, or one per member of an ensemble."""
        found = [module for module in self.model.modules()
                 if isinstance(module, torch.nn.Embedding) and module.num_embeddings == len(self.vocab)]
        if not found:
            raise ConfigError("word2vec needs a learned word embedding in the model")
        return found

    def word_tables(self) -> list[tuple[str, Any, list[torch.nn.Embedding]]]:
        """The word embeddings word2vec fills, each as (name, the vocabulary of its rows, the embeddings): the
        task's (a translator's source and target), else the one vocabulary's."""
        if self.task.word_tables is not None:
            return self.task.word_tables(self)
        return [("words", self.vocab, self.word_embeddings())]

    def _init_word2vec(self, token_lists: list[list[str]], extra: list[list[str]], quiet: bool) -> None:
        """One set of skip-gram vectors over the train tokens and the extra texts', copied into every word table;
        ``word2vec_report`` is the coverage of the one table, or of each table by name."""
        from textrnn.embeddings import align_vectors, word2vec_vectors

        tables = self.word_tables()
        settings = replace(self.model_config.embedding, dim=tables[0][2][0].embedding_dim)
        if not quiet:
            print(f"word2vec: training {settings.dim}-d vectors on {len(token_lists) + len(extra):,} texts",
                  file=sys.stderr)
        vectors = word2vec_vectors(token_lists, settings, extra_token_lists=extra or None, seed=self.config.train.seed)
        reports = {}
        for name, vocab, embeddings in tables:
            matrix, reports[name] = align_vectors(vocab, vectors, settings.dim, seed=self.config.train.seed)
            with torch.no_grad():
                for embedding in embeddings:
                    embedding.weight.copy_(matrix)
            if not quiet:
                tokens = reports[name].get("token_coverage")
                print(f"word2vec coverage{'' if len(tables) == 1 else ' of the ' + name}: "
                      f"{reports[name]['vocab_coverage']:.1%} of the vocabulary"
                      + ("" if tokens is None else f", {tokens:.1%} of tokens"), file=sys.stderr)
        self.word2vec_report = next(iter(reports.values())) if len(tables) == 1 else reports

    # ----- text -> ids ----------------------------------------------------------------------------------------
    def clean(self, text: str) -> str:
        """A text as the tokenizer reads it (``encode.strip_html``)."""
        return clean_text(text or "", self.config.encode.strip_html)

    def text_ids(self, text: str) -> list[int]:
        return self.vocab.encode(self.tokenizer.tokenize(self.clean(text)))

    def start_id(self) -> int:
        """The id a language model's text starts after: ``<eos>``, or the token ``lm.start`` names."""
        start = self.settings.start if self.settings is not None else ""
        return self.vocab.stoi.get(start, EOS_ID) if start else EOS_ID

    # ----- training and evaluation -------------------------------------------------------------------------------
    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    def to(self, device: str | torch.device) -> Pipeline:
        self.model.to(resolve_device(device) if isinstance(device, str) else device)
        return self

    def encode(self, examples, with_labels: bool = True, where: str = ""):
        """Examples in the task's encoded form (``where`` names the split or file in errors)."""
        from textrnn.bulk import collector_paused

        with collector_paused():
            return self.task.encode(self, examples, with_labels=with_labels, where=where)

    def fit(self, train=None, valid=None, *, corpus=None, run_dir: str | Path | None = None, resume: bool = False,
            quiet: bool = False, **train_settings) -> Any:
        """Train on ``train`` (or ``corpus.train``), validating on ``valid`` (or ``corpus.valid``). Without either,
        training runs without validation and says so (every epoch kept, the last one the result).

        ``train_settings`` override TrainConfig fields (``epochs=3``, ``lr=1e-3``...). Returns the History."""
        if train_settings:
            self.config.train = from_dict(TrainConfig, {**to_dict(self.config.train), **train_settings}, "train")
        train = corpus.train if train is None else train
        if valid is None and corpus is not None:
            valid = corpus.valid
        settings = self.config.train
        rank, world = distributed.setup()
        device = settings.device
        if world > 1 and torch.cuda.is_available() and device in ("auto", "cuda"):
            device = f"cuda:{torch.cuda.current_device()}"
        set_threads(settings.threads)
        self.to(device)
        train_encoded = self.encode(train, where="train")
        valid_encoded = self.encode(valid, where="valid") if valid is not None else None
        if valid_encoded is not None and not len(valid_encoded):
            raise DataError("the validation split is empty: give validation examples, or valid=None to train "
                            "without validation")
        loop = self.task.loop(self, train_encoded, valid_encoded, settings)
        self.history = fit(distributed.wrap(self.model), loop, settings, run_dir=run_dir, resume=resume,
                           quiet=quiet or rank > 0)
        return self.history

    def pretrain(self, texts: Iterable, run_dir: str | Path | None = None, resume: bool = False,
                 quiet: bool = False, **settings) -> dict:
        """Pretrain a new classifier's or tagger's encoder as a two-way language model on unlabelled ``texts``
        before ``fit`` (textrnn/pretrain.py); ``settings``: PretrainConfig fields. Returns a report."""
        from textrnn.pretrain import PretrainConfig, pretrain_encoder

        return pretrain_encoder(self, list(texts), from_dict(PretrainConfig, settings, "pretrain"), run_dir=run_dir,
                                resume=resume, quiet=quiet)

    def evaluate(self, examples, where: str = "") -> dict:
        """The task's metrics (DESIGN.md's JSON names) on labelled examples."""
        if not len(examples):
            raise DataError(f"{where or 'evaluation data'}: no examples to evaluate")
        return self.task.evaluate(self, self.encode(examples, where=where))

    def evaluate_file(self, path: str | Path, format: str = "auto", text_field: str | None = None,
                      label_field: str | None = None, target: str | Path | None = None) -> dict:
        """The task's metrics on a labelled file in its corpus's format, read as the run's data were (its text and
        label fields, unless given), or the task's own way (a series forecaster's CSV; a translator's pairs, with
        ``target`` the file aligned to ``path``)."""
        from textrnn.corpus import detect_format, read_examples

        if self.task.evaluate_file is not None:
            return self.task.evaluate_file(self, Path(path), *([Path(target)] if target is not None else []))
        reading = self.reading()
        examples = read_examples(path, format=detect_format(path, format, task=self.config.task),
                                 text_field=text_field or reading.text_field,
                                 label_field=label_field or reading.label_field, require_label=self.labels is not None)
        if self.labels is not None and any(e.label is not None for e in examples):
            reading.map_labels(examples, self.labels.itos, path)
        return self.evaluate(examples, where=str(path))

    def reading(self):
        """How the run's labelled data were read (``corpus.Reading``): its fields and the labels as its files
        write them, so that the corpus's own files evaluate as they come."""
        from textrnn.corpus import Reading

        return from_dict(Reading, self.config.meta.get("data") or {}, "meta.data")

    # ----- inference: the task's commands ------------------------------------------------------------------------
    def command(self, name: str):
        """The task's inference function ``name``; PipelineError naming the tasks that offer it otherwise."""
        if name not in self.task.commands:
            offered = ", ".join(self.task.commands) or "evaluate"
            raise PipelineError(f"'{name}' needs a {' or '.join(offering(name))} pipeline, but this one is a "
                                f"{self.config.task} pipeline; use: {offered}")
        return self.task.commands[name]

    def predict(self, texts, **options) -> list[dict]:
        """Labels with probabilities (classify): ``[{"text", "label", "probability", "top": [...]}]``; options
        ``top``, ``batch_size``. A regress pipeline predicts values for numeric inputs."""
        return self.command("predict")(self, texts, **options)

    def tag(self, texts: Iterable[str], **options) -> list[dict]:
        """Tokens, tags and entity spans with character offsets into each text as given (tag)."""
        return self.command("tag")(self, texts, **options)

    def generate(self, prompt: str = "", **options) -> str:
        """The continuation of ``prompt`` (lm); options ``max_tokens``, ``temperature``, ``top_k``, ``top_p``,
        ``beam``, ``seed``."""
        return self.command("generate")(self, prompt, **options)

    def score(self, sentences: Iterable[str], **options) -> list[dict]:
        """Log-probability, perplexity and per-token figures of each sentence, in the input order (lm)."""
        return self.command("score")(self, sentences, **options)

    def complete(self, text: str, candidates: list[str] | None = None, top: int = 3, **options) -> dict:
        """Fill the one blank (``___``) in ``text``: rank ``candidates`` or propose the ``top`` fills (lm)."""
        return self.command("complete")(self, text, candidates=candidates, top=top, **options)

    def translate(self, texts: Iterable[str], **options) -> list[dict]:
        """Translations of texts (translate): ``[{"source", "translation", "logprob"}]``; options ``beam``,
        ``attention``."""
        return self.command("translate")(self, texts, **options)

    # ----- saving and loading --------------------------------------------------------------------------------------
    def save(self, run_dir: str | Path, metrics: dict | None = None) -> Path:
        """Write the pipeline into ``run_dir`` all or nothing (``runfiles.save_run``)."""
        run_dir = Path(run_dir)
        if distributed.is_main():
            save_run(self, run_dir, metrics)
        return run_dir

    @classmethod
    def load(cls, run_dir: str | Path, device: str = "cpu") -> Pipeline:
        """Load a saved pipeline, checking every file; never runs code from the files and never writes."""
        return load_run(cls, PipelineConfig, Path(run_dir)).to(device)


def load(run_dir: str | Path, device: str = "cpu") -> Pipeline:
    """Load a saved pipeline (``textrnn.load("runs/reuters")``)."""
    return Pipeline.load(run_dir, device=device)

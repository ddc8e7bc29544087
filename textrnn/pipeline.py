"""A pipeline is a tokenizer, a vocabulary, labels and a model for one task; saved as one directory of plain files.

This is the only module that knows the saved format::

    config.json         format_version, textrnn version, task, every setting, and the sha256 of each file below
    vocab.json          a JSON list of tokens, index = id
    labels.json         classifier and tagger labels (an unknown label is an error, never <unk>)
    chars.json          the tagger's character vocabulary (when it uses character features)
    context_*.safetensors, context_*.json   the forward and backward character LMs of a tagger's contextual
                        features, and their characters (textrnn/context.py)
    model.safetensors   weights only: loading never runs pickled code
    spm.model           the sentencepiece model (sentencepiece tokenizers only)

A save is all or nothing (``fileio.save_together``): the files are written into a staging folder, a commit file
lists them, and they are renamed into place with ``config.json`` last, holding the checksums of the others; a save
cut off while renaming is read as committed by a load (which never writes) and finished by the next save or
``repair``; ``load`` checks every file against ``config.json``.
"""
from __future__ import annotations

import hashlib
import html
import json
import re
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from textrnn import __version__
from textrnn.bulk import collector_paused
from textrnn.config import from_dict, to_dict
from textrnn.context import ContextConfig, ContextFeatures
from textrnn.errors import ConfigError, DataError, PipelineError
from textrnn.fileio import (
    atomic_write,
    atomic_write_json,
    check_name,
    clean_temporaries,
    committed_files,
    finish_saving,
    save_together,
)
from textrnn.models import MODELS
from textrnn.tasks import task_module
from textrnn.tokenize import CharTokenizer, SentencePieceTokenizer, WordTokenizer, tokenizer_from_config
from textrnn.train import TrainConfig, fit, resolve_device
from textrnn.vocab import EOS_ID, LabelVocab, Vocab

FORMAT_VERSION = 1
MODEL_OF_TASK = {"classify": "classifier", "tag": "tagger", "lm": "lm", "regress": "regressor"}
# the files a saved pipeline may hold: nothing else is ever moved into or read from a run folder
SAVED_FILES = frozenset({"config.json", "vocab.json", "labels.json", "chars.json", "model.safetensors", "spm.model",
                         "metrics.json", "context_forward.safetensors", "context_forward.json",
                         "context_backward.safetensors", "context_backward.json"})
PREDICT_MAX_TOKENS = 5000   # texts longer than this at prediction time keep their first 5,000 tokens (documented)
_HTML_BREAK = re.compile(r"<br\s*/?>", re.IGNORECASE)


@dataclass
class TokenizerConfig:
    kind: str = "word"               # "word" | "char" | "sentencepiece"
    lower: bool = False
    vocab_size: int = 8000           # sentencepiece only
    model_type: str = "unigram"      # sentencepiece only: "unigram" | "bpe"
    character_coverage: float = 0.9995


@dataclass
class VocabConfig:
    min_freq: int = 1
    max_size: int | None = None      # counts the four special tokens
    extra_min_freq: int = 0          # >0: words of the extra (word2vec) text seen this often join the vocabulary
                                     # after train's, with their word2vec vectors: unseen words at test time are
                                     # then known, as with pretrained vectors (0: the vocabulary is train's alone)


@dataclass
class EncodeConfig:
    max_len: int | None = None       # tokens kept per text (classify); None keeps all
    truncate: str = "head"           # which part of a long text to keep: "head" | "tail" | "head+tail"
    strip_html: bool = False         # turn <br /> into spaces and decode &amp; and friends (IMDB)
    document_window: int = 0         # tag: the sentences of one document (CoNLL's -DOCSTART- sections) are read
                                     # and tagged together, in windows of up to this many tokens, so a sentence
                                     # sees its neighbours; 0 tags each sentence alone (as do texts with no document)


@dataclass
class LMSettings:
    bptt: int = 70                   # window width of truncated backpropagation through time
    eos_per_example: bool = True     # each line ends with <eos>; False for one running text (tiny Shakespeare)
    start: str = ""                  # the context a new text starts from: "" means <eos>; else a token ("\n")


@dataclass
class PipelineConfig:
    task: str = "classify"
    tokenizer: TokenizerConfig = field(default_factory=TokenizerConfig)
    vocab: VocabConfig = field(default_factory=VocabConfig)
    encode: EncodeConfig = field(default_factory=EncodeConfig)
    lm: LMSettings = field(default_factory=LMSettings)
    model: dict = field(default_factory=dict)
    train: TrainConfig = field(default_factory=TrainConfig)
    char_features: bool = False      # tagger: build a character vocabulary for char features
    context: ContextConfig = field(default_factory=ContextConfig)   # tagger: contextual character features
    word2vec_extra: list = field(default_factory=list)   # extra unlabelled texts for word2vec (not saved)
    meta: dict = field(default_factory=dict)             # recipe name, corpus name, label names...


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


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
    """Tokenizer + vocabulary + labels + model for one task, with fit, evaluate, the task's inference, and save.

    Build with ``Pipeline.for_task(task, corpus, ...)``, load with ``textrnn.load(run_dir)``.
    """

    def __init__(self, config: PipelineConfig, tokenizer=None, vocab: Vocab | None = None,
                 labels: LabelVocab | None = None, char_vocab: Vocab | None = None, model=None,
                 context: ContextFeatures | None = None):
        self.config = config
        self.context = context
        self.tokenizer = tokenizer
        self.vocab = vocab
        self.labels = labels
        self.char_vocab = char_vocab
        self.model_config = from_dict(MODELS[MODEL_OF_TASK[config.task]][0], config.model, "model")
        self.model = model if model is not None else self._build_model()
        self.history = None
        self.word2vec_report: dict | None = None

    # ----- building -------------------------------------------------------------------------------------------
    @classmethod
    def for_task(cls, task: str, corpus=None, *, train: list | None = None, tokenizer: Any = "word",
                 vocab: dict | None = None, embedding: Any = None, model: dict | None = None,
                 encode: dict | None = None, lm: dict | None = None, train_config: dict | None = None,
                 char_features: bool | None = None, word2vec_extra: Iterable[str] = (), meta: dict | None = None,
                 context: dict | None = None, context_text: Iterable[str] = (), run_dir: str | Path | None = None,
                 resume: bool = False, quiet: bool = False) -> Pipeline:
        """A new, untrained pipeline whose tokenizer, vocabulary and labels are built from the train split.

        ``tokenizer``: "word" | "char" | "sentencepiece" or a dict of TokenizerConfig; ``vocab``: VocabConfig
        settings; ``embedding``: "learned" | "onehot" | "word2vec" or EmbeddingConfig settings; ``model``: the
        task's model settings (ClassifierConfig, TaggerConfig, LMConfig); ``word2vec_extra``: more unlabelled texts
        for word2vec (e.g. IMDB's unlabelled reviews); ``context``: a tagger's contextual character features
        (ContextConfig settings; their two LMs are pretrained here on the train sentences and ``context_text``,
        checkpointing under ``run_dir`` and, with ``resume``, loaded from there when already trained).
        """
        task_module(task)
        if task == "regress":
            raise ConfigError("regress pipelines are built by the sequence drills (textrnn run multiply|sine|energy)")
        examples = list(train if train is not None else corpus.train)
        model_dict = dict(model or {})
        if embedding is not None:
            model_dict["embedding"] = {**_as_dict(model_dict.get("embedding"), "embedding"), **_as_dict(embedding, "embedding")}
        config = from_dict(PipelineConfig, {
            "task": task, "tokenizer": _as_dict(tokenizer, "tokenizer"), "vocab": vocab or {},
            "encode": encode or {}, "lm": lm or {}, "model": model_dict, "train": train_config or {},
            "char_features": bool(char_features) if char_features is not None else False,
            "context": context or {}, "meta": meta or {},
        })
        config.word2vec_extra = list(word2vec_extra)
        features = None
        if config.context.hidden_dim > 0:
            if task != "tag":
                raise ConfigError(f"context: contextual character features are for taggers, not {task} pipelines")
            features = ContextFeatures.pretrain(config.context, [cls._example_words(config, e) for e in examples],
                                                list(context_text), config.train, run_dir=run_dir, resume=resume,
                                                quiet=quiet)
            config.model = {**config.model, "context_dim": features.dim,
                            "context_dropout": config.context.dropout}
        return cls._from_examples(config, examples, corpus, quiet, features)

    @classmethod
    def from_config(cls, config: PipelineConfig, corpus, quiet: bool = False) -> Pipeline:
        return cls._from_examples(config, list(corpus.train), corpus, quiet)

    @staticmethod
    def _example_words(config: PipelineConfig, example) -> list[str]:
        """An example's words as written (not lower-cased): its tokens, or its text cut by the word tokenizer."""
        if example.tokens is not None:
            return list(example.tokens)
        return WordTokenizer(lower=False).tokenize(Pipeline._clean_text(config, example.text or ""))

    @classmethod
    def _from_examples(cls, config: PipelineConfig, examples: list, corpus, quiet: bool,
                       context: ContextFeatures | None = None) -> Pipeline:
        if not examples:
            raise DataError("the train split is empty: nothing to build a vocabulary from")
        if config.context.hidden_dim > 0 and context is None:
            raise ConfigError("context: contextual character features are pretrained by Pipeline.for_task(context=...)")
        if config.encode.document_window < 0:
            raise ConfigError(f"encode.document_window must be 0 (each sentence alone) or a number of tokens, "
                              f"got {config.encode.document_window}")
        tok = config.tokenizer
        texts = [cls._clean_text(config, e.text or "") for e in examples if e.text is not None]
        if tok.kind == "sentencepiece":
            tokenizer = SentencePieceTokenizer.train(texts, vocab_size=tok.vocab_size, model_type=tok.model_type,
                                                     character_coverage=tok.character_coverage, lower=tok.lower)
            vocab = tokenizer.vocab()
        elif tok.kind in ("word", "char"):
            tokenizer = (WordTokenizer if tok.kind == "word" else CharTokenizer)(lower=tok.lower)
            vocab = None
        else:
            raise ConfigError(f"tokenizer.kind must be word, char or sentencepiece, got {tok.kind!r}")
        probe = cls.__new__(cls)
        probe.config, probe.tokenizer = config, tokenizer
        with collector_paused():
            token_lists = [probe.normalize_tokens(probe.example_tokens(e)) for e in examples]
        extra_lists = None   # the extra text's tokens: made once, only if the vocabulary or word2vec reads them
        if vocab is None:
            vocab = Vocab.build(token_lists, min_freq=config.vocab.min_freq, max_size=config.vocab.max_size)
            if config.vocab.extra_min_freq > 0 and config.word2vec_extra:
                extra_lists = probe._extra_token_lists()
                vocab = vocab.extended(extra_lists, config.vocab.extra_min_freq)
        labels = char_vocab = None
        if config.task == "classify":
            declared = getattr(corpus, "labels", None) if corpus is not None else None
            labels = LabelVocab.build((e.label for e in examples), order=declared)
            cls._find_aux_labels(config, examples, quiet)
        elif config.task == "tag":
            labels = LabelVocab.build(t for e in examples for t in (e.tags or []))
            cls._find_aux_columns(config, examples, quiet)
            if config.char_features or from_dict(MODELS["tagger"][0], config.model, "model").char_dim > 0:
                config.char_features = True
                char_vocab = Vocab.build([list(w) for e in examples for w in probe.example_tokens(e)])
                model = dict(config.model)
                model["char_vocab_size"] = len(char_vocab)
                config.model = model
        # the initial weights follow train.seed, so the same settings give the same model in any process (and a
        # resumed run continues the same one)
        torch.manual_seed(config.train.seed)
        pipe = cls(config, tokenizer, vocab, labels, char_vocab, context=context)
        if config.task == "tag":
            pipe._constrain_iob2(examples)
        embedding = pipe.model_config.embedding
        if embedding.kind == "word2vec":
            pipe._init_word2vec(token_lists, pipe._extra_token_lists() if extra_lists is None else extra_lists, quiet)
        return pipe

    @staticmethod
    def _find_aux_labels(config: PipelineConfig, examples: list, quiet: bool) -> None:
        """A classifier's auxiliary head (``model.aux_field``, ``model.aux_weight``): the finer label's values in
        the train split, kept in the model settings (so saved with them). With no train example holding the field
        (a download that lacks it), the head is left out, and the run says so."""
        settings = config.model
        field_name, weight = settings.get("aux_field") or "", float(settings.get("aux_weight") or 0.0)
        if not field_name or weight <= 0 or settings.get("aux_labels"):
            return
        from textrnn.tasks.classify import aux_value

        values = {aux_value(e, field_name) for e in examples} - {None}
        if not values:
            if not quiet:
                print(f"model.aux_field: no train example has a {field_name!r} field, so the auxiliary head is left "
                      f"out (set model.aux_weight=0 to silence this)", file=sys.stderr)
            return
        ordered = LabelVocab.build(values).itos            # sorted as labels are: numbers numerically
        config.model = {**settings, "aux_labels": ordered}
        if not quiet:
            print(f"auxiliary head: {field_name!r} with {len(ordered)} values ({', '.join(ordered[:10])}"
                  f"{', ...' if len(ordered) > 10 else ''}), weight {weight:g} in the loss", file=sys.stderr)

    @staticmethod
    def _find_aux_columns(config: PipelineConfig, examples: list, quiet: bool) -> None:
        """A tagger's auxiliary heads (``model.aux_weight``): the values of each column between token and tag in
        the train file (CoNLL-2003: part of speech, chunk), kept in the model settings. Without such columns the
        heads are left out, and the run says so."""
        settings = config.model
        if float(settings.get("aux_weight") or 0.0) <= 0 or settings.get("aux_labels"):
            return
        widths = {len((e.meta or {}).get("columns") or []) for e in examples}
        if widths == {0}:
            if not quiet:
                print("model.aux_weight: the train file has no columns between token and tag, so the auxiliary "
                      "heads are left out (set model.aux_weight=0 to silence this)", file=sys.stderr)
            return
        width = max(widths)
        values: list[set[str]] = [set() for _ in range(width)]
        for e in examples:
            for k, column in enumerate((e.meta or {}).get("columns") or []):
                values[k].update(column)
        config.model = {**settings, "aux_labels": [sorted(v) for v in values]}
        if not quiet:
            print(f"auxiliary heads: {width} column(s) between token and tag, with "
                  f"{', '.join(str(len(v)) for v in values)} values", file=sys.stderr)

    def _build_model(self) -> torch.nn.Module:
        build = MODELS[MODEL_OF_TASK[self.config.task]][1]
        if self.config.task in ("classify", "tag"):
            return build(self.model_config, len(self.vocab), len(self.labels))
        if self.config.task == "lm":
            return build(self.model_config, len(self.vocab))
        return build(self.model_config)

    def _constrain_iob2(self, examples: list) -> None:
        """A CRF tagger whose tags are IOB2 (names B-X, I-X, O) and whose training tags all follow it learns and
        decodes only paths IOB2 allows: no I-X after O, at the start, or after another type. The constraint is
        kept in the model's buffers, so a saved model keeps it."""
        from textrnn.corpus import iob2_break
        from textrnn.models.crf import CRF
        from textrnn.tasks.tag import is_iob

        crfs = [module for module in self.model.modules() if isinstance(module, CRF)]
        if not crfs or not is_iob(self.labels.itos):
            return
        if any(e.tags and iob2_break(e.tags) is not None for e in examples):
            return
        for crf in crfs:
            crf.constrain_iob2(self.labels.itos)

    def _check_iob2_held(self, examples: list) -> None:
        """A tagger whose CRF is held to IOB2 paths (see ``_constrain_iob2``; a saved model keeps it) cannot learn
        tags that break IOB2: such a gold path scores as forbidden. Raise DataError naming the first one (its line
        where the example came from a file), with the fix."""
        from textrnn.corpus import check_iob2
        from textrnn.models.crf import CRF

        if not any(isinstance(m, CRF) and not bool(m.allowed_transitions.all()) for m in self.model.modules()):
            return
        for n, example in enumerate(examples, 1):
            if example.tags:
                line = example.meta.get("line") if example.meta else None
                try:
                    check_iob2(example.tags, f"train example {n}" + (f" (line {line})" if line is not None else ""))
                except DataError as error:
                    raise DataError(f"{error}; this tagger's CRF allows only IOB2 paths") from None

    def _word_embedding(self) -> torch.nn.Embedding:
        """The model's word embedding (an ensemble's first member's)."""
        return self._word_embeddings()[0]

    def _word_embeddings(self) -> list[torch.nn.Embedding]:
        """Every word embedding of the model: one, or one per member of an ensemble."""
        found = [module for module in self.model.modules()
                 if isinstance(module, torch.nn.Embedding) and module.num_embeddings == len(self.vocab)]
        if not found:
            raise ConfigError("word2vec needs a learned word embedding in the model")
        return found

    def _extra_token_lists(self) -> list[list[str]]:
        """The tokens of the extra unlabelled texts (``word2vec_extra``), cleaned and normalised as train's."""
        with collector_paused():
            return [self.normalize_tokens(self.tokenizer.tokenize(self._clean_text(self.config, t)))
                    for t in self.config.word2vec_extra]

    def _init_word2vec(self, token_lists: list[list[str]], extra: list[list[str]], quiet: bool) -> None:
        from textrnn.embeddings import align_vectors, word2vec_vectors

        settings = self.model_config.embedding
        if not quiet:
            print(f"word2vec: training {settings.dim}-d vectors on {len(token_lists) + len(extra):,} texts",
                  file=sys.stderr)
        vectors = word2vec_vectors(token_lists, settings, extra_token_lists=extra or None, seed=self.config.train.seed)
        matrix, report = align_vectors(self.vocab, vectors, settings.dim, seed=self.config.train.seed)
        with torch.no_grad():
            for embedding in self._word_embeddings():
                embedding.weight.copy_(matrix)
        self.word2vec_report = report
        if not quiet:
            print(f"word2vec coverage: {report.get('vocab_coverage', 0):.1%} of the vocabulary, "
                  f"{report.get('token_coverage', 0):.1%} of tokens", file=sys.stderr)

    # ----- text -> ids ----------------------------------------------------------------------------------------
    @staticmethod
    def _clean_text(config: PipelineConfig, text: str) -> str:
        if config.encode.strip_html:
            text = html.unescape(_HTML_BREAK.sub(" ", text))
        return text

    def example_tokens(self, example) -> list[str]:
        if example.tokens is not None:
            return list(example.tokens)
        return self.tokenizer.tokenize(self._clean_text(self.config, example.text or ""))

    def normalize_tokens(self, tokens: list[str]) -> list[str]:
        """Tagger word ids follow the tokenizer's ``lower`` even for pre-tokenized (CoNLL) words, while the
        characters and casing features keep the words as written."""
        if self.config.task == "tag" and self.config.tokenizer.lower:
            return [t.lower() for t in tokens]
        return tokens

    def text_ids(self, text: str) -> list[int]:
        return self.vocab.encode(self.tokenizer.tokenize(self._clean_text(self.config, text or "")))

    def start_id(self) -> int:
        start = self.config.lm.start
        return self.vocab.stoi.get(start, EOS_ID) if start else EOS_ID

    # ----- training and evaluation -----------------------------------------------------------------------------
    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    def to(self, device: str | torch.device) -> Pipeline:
        device = resolve_device(device) if isinstance(device, str) else device
        self.model.to(device)
        if self.context is not None:
            self.context.to(device)
        return self

    def encode(self, examples, with_labels: bool = True, where: str = ""):
        with collector_paused():
            return task_module(self.config.task).encode(self, list(examples), with_labels=with_labels, where=where)

    def fit(self, train=None, valid=None, *, corpus=None, unlabelled: Iterable[str] | None = None,
            run_dir: str | Path | None = None, resume: bool = False, quiet: bool = False, **train_settings) -> Any:
        """Train on ``train`` examples (or ``corpus.train``), validating on ``valid`` (or ``corpus.valid``).

        ``unlabelled``: texts without labels (a tagger's: sentences) for virtual adversarial training
        (``train.virtual_adversarial``; by default the extra texts word2vec was given). ``train_settings`` override
        TrainConfig fields (``epochs=3``, ``lr=1e-3``...). Returns the History.
        """
        if train_settings:
            self.config.train = from_dict(TrainConfig, {**to_dict(self.config.train), **train_settings}, "train")
        if train is None:
            train = corpus.train
        if valid is None:
            valid = corpus.valid if corpus is not None else train
        from textrnn import distributed
        from textrnn.train import set_threads

        settings = self.config.train
        rank, world = distributed.setup()
        device = settings.device
        if world > 1 and torch.cuda.is_available() and device in ("auto", "cuda"):
            device = f"cuda:{torch.cuda.current_device()}"
        set_threads(settings.threads)
        self.to(device)
        module = task_module(self.config.task)
        if self.config.task == "tag":
            train = list(train)
            self._check_iob2_held(train)
        train_encoded = self.encode(train, where="train")
        valid_encoded = self.encode(valid, where="valid")
        extra = {}
        if settings.virtual_adversarial and self.config.task in ("classify", "tag"):
            from textrnn.corpus import Example

            texts = self.config.word2vec_extra if unlabelled is None else list(unlabelled)
            extra["unlabelled"] = self.encode([Example(text=t) for t in texts if t and t.strip()], with_labels=False)
        loop = module.loop(self, train_encoded, valid_encoded, settings, **extra)
        self.history = fit(distributed.wrap(self.model), loop, settings, run_dir=run_dir, resume=resume,
                           quiet=quiet or rank > 0)
        return self.history

    def pretrain(self, texts: Iterable, run_dir: str | Path | None = None, resume: bool = False,
                 quiet: bool = False, **settings) -> dict:
        """Pretrain a new classifier's or tagger's encoder (word embedding, [convolution | character and casing
        features], recurrent layer) as a two-way language model on unlabelled ``texts`` before ``fit``
        (textrnn/pretrain.py). ``texts``: strings (a tagger cuts them into sentences) or Examples (a tagger's own
        train sentences, with their tokens). ``settings``: PretrainConfig fields (``minutes=8`` ...). Returns a
        report (steps, words read, the last loss)."""
        from textrnn.pretrain import PretrainConfig, pretrain_encoder

        if self.config.task not in ("classify", "tag"):
            raise PipelineError(f"'pretrain' is for classify and tag pipelines, but this one is a {self.config.task} "
                                "pipeline")
        config = from_dict(PretrainConfig, settings, "pretrain")
        return pretrain_encoder(self, list(texts), config, run_dir=run_dir, resume=resume, quiet=quiet)

    def evaluate(self, examples, where: str = "") -> dict:
        """The task's metrics (DESIGN.md's JSON names) on labelled examples."""
        examples = list(examples)
        if not examples:
            raise DataError(f"{where or 'evaluation data'}: no examples to evaluate")
        return task_module(self.config.task).evaluate(self, self.encode(examples, where=where))

    # ----- inference ---------------------------------------------------------------------------------------------
    def _require(self, task: str, command: str) -> None:
        if self.config.task != task:
            raise PipelineError(f"'{command}' needs a {task} pipeline, but this one is a {self.config.task} "
                                f"pipeline; use: " + {"classify": "predict", "tag": "tag", "lm": "generate, score or complete",
                                                      "regress": "evaluate"}[self.config.task])

    def predict(self, texts: Iterable[str], top: int = 1, batch_size: int = 256) -> list[dict]:
        """Labels with probabilities: ``[{"text", "label", "probability", "top": [{"label", "probability"}]}]``."""
        from textrnn.corpus import Example
        from textrnn.tasks import classify

        self._require("classify", "predict")
        texts = list(texts)
        encoded = classify.encode(self, [Example(text=t) for t in texts], with_labels=False)
        encoded.ids = [ids[:PREDICT_MAX_TOKENS] for ids in encoded.ids]
        probs = classify.probabilities(self, encoded, batch_size=batch_size)
        results = []
        for text, row in zip(texts, probs, strict=True):
            order = row.argsort()[::-1][: max(1, top)]
            ranked = [{"label": self.labels.itos[i], "probability": float(row[i])} for i in order]
            results.append({"text": text, "label": ranked[0]["label"], "probability": ranked[0]["probability"],
                            "top": ranked})
        return results

    def written_spans(self, text: str) -> list[tuple[str, int, int]]:
        """A plain text's words as a tagger reads them, with their character offsets (start, end): the words as
        written, for the characters and casing features, even where the tokenizer lower-cases (normalize_tokens
        lower-cases the word ids as in training)."""
        if isinstance(self.tokenizer, WordTokenizer):
            return self.tokenizer.spans(text)
        pieces, at = [], 0
        for token in self.tokenizer.tokenize(text):
            start = text.find(token, at) if token.strip() else at
            start = at if start < 0 else start
            pieces.append((token, start, start + len(token)))
            at = start + len(token)
        return pieces

    def tag(self, texts: Iterable[str]) -> list[dict]:
        """Tokens, tags and entity spans with character offsets for plain texts."""
        from textrnn.corpus import Example
        from textrnn.tasks import tag

        self._require("tag", "tag")
        texts = list(texts)
        spans = [self.written_spans(text)[:PREDICT_MAX_TOKENS] for text in texts]
        examples = [Example(tokens=[t for t, _, _ in s]) for s in spans]
        encoded = tag.encode(self, examples, with_labels=False)
        paths, _ = tag.decode(self, encoded)
        results = []
        for text, s, path in zip(texts, spans, paths, strict=True):
            tags = self.labels.decode(path)
            results.append({"tokens": [t for t, _, _ in s], "tags": tags, "entities": entities(text, s, tags)})
        return results

    def generate(self, prompt: str = "", max_tokens: int = 100, temperature: float = 1.0, top_k: int = 0,
                 top_p: float = 1.0, beam: int = 1, seed: int | None = None) -> str:
        """The continuation of ``prompt`` (not including it)."""
        from textrnn.generate import GenerationConfig, generate

        self._require("lm", "generate")
        settings = GenerationConfig(max_tokens=max_tokens, temperature=temperature, top_k=top_k, top_p=top_p,
                                    beam=beam, seed=seed, stop_at_eos=self.config.lm.eos_per_example)
        return generate(self.model, self.tokenizer, self.vocab, prompt, settings, start_id=self.start_id())

    def score(self, sentences: Iterable[str]) -> list[dict]:
        """Log-probability, perplexity, per-token log-probabilities and unknown tokens, in the input order."""
        from textrnn.generate import score

        self._require("lm", "score")
        return score(self.model, self.tokenizer, self.vocab, list(sentences), start_id=self.start_id(),
                     add_eos=self.config.lm.eos_per_example)

    def complete(self, text: str, candidates: list[str] | None = None, top: int = 3) -> dict:
        """Fill the one blank (``___``) in ``text``: rank ``candidates`` or propose the ``top`` fills."""
        from textrnn.generate import complete

        self._require("lm", "complete")
        return complete(self.model, self.tokenizer, self.vocab, text, candidates=candidates, top=top,
                        start_id=self.start_id())

    # ----- saving and loading --------------------------------------------------------------------------------------
    def save(self, run_dir: str | Path, metrics: dict | None = None) -> Path:
        """Write the pipeline files into ``run_dir`` all or nothing: a save cut off at any point leaves either the
        previous pipeline or the new one, never a mix (``fileio.save_together``); ``config.json`` lands last."""
        from textrnn.distributed import is_main

        run_dir = Path(run_dir)
        if not is_main():
            return run_dir
        clean_temporaries(run_dir)
        save_together(run_dir, lambda staging: self._write_files(staging, metrics), SAVED_FILES.__contains__)
        return run_dir

    def _write_files(self, folder: Path, metrics: dict | None) -> list[str]:
        files: list[str] = ["model.safetensors"]
        if self.vocab is not None:
            self.vocab.save(folder / "vocab.json")
            files.append("vocab.json")
        if self.labels is not None:
            self.labels.save(folder / "labels.json")
            files.append("labels.json")
        if self.char_vocab is not None:
            self.char_vocab.save(folder / "chars.json")
            files.append("chars.json")
        if isinstance(self.tokenizer, SentencePieceTokenizer):
            self.tokenizer.save_model(folder / "spm.model")
            files.append("spm.model")
        if self.context is not None:
            files += self.context.write(folder)
        model = self.model.module if hasattr(self.model, "module") else self.model
        atomic_write(folder / "model.safetensors", lambda tmp: _write_weights(model, tmp))
        config = to_dict(self.config)
        config.pop("word2vec_extra", None)
        document = {
            "format_version": FORMAT_VERSION, "textrnn_version": __version__,
            "tokenizer_config": self.tokenizer.config() if self.tokenizer is not None else None,
            "vocab_size": len(self.vocab) if self.vocab is not None else None,
            "files": {name: _sha256(folder / name) for name in files},
            **config,
        }
        extra = []
        if metrics is not None:
            atomic_write_json(folder / "metrics.json", metrics)
            extra.append("metrics.json")
        atomic_write_json(folder / "config.json", document)
        return files + extra + ["config.json"]

    @classmethod
    def load(cls, run_dir: str | Path, device: str = "cpu") -> Pipeline:
        """Load a saved pipeline, checking every file; never runs code from the files."""
        from safetensors import SafetensorError
        from safetensors.torch import load_file

        run_dir = Path(run_dir)
        if not run_dir.is_dir():
            raise PipelineError(f"{run_dir}: no such run directory; train one with 'textrnn run RECIPE --out {run_dir}'")
        # a save cut off while moving its files in is read as it committed, and never finished here: a reader
        # writes nothing (the next save, or 'textrnn repair', finishes it)
        where = {name: run_dir / name for name in SAVED_FILES} | committed_files(run_dir, SAVED_FILES.__contains__)
        path = where["config.json"]
        if not path.exists():
            raise PipelineError(f"{path}: missing; {run_dir} is not a saved textrnn pipeline (or its save never finished)")
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            raise PipelineError(f"{path}: not valid JSON ({error}); the file is corrupted") from None
        if not isinstance(document, dict):
            raise PipelineError(f"{path}: must hold a JSON object")
        version = document.pop("format_version", None)
        if version != FORMAT_VERSION:
            raise PipelineError(f"{path}: format_version {version!r} is not supported (this textrnn reads "
                                f"{FORMAT_VERSION}); retrain or use the textrnn version that saved it "
                                f"({document.get('textrnn_version', 'unknown')})")
        document.pop("textrnn_version", None)
        tokenizer_config = document.pop("tokenizer_config", None)
        vocab_size = document.pop("vocab_size", None)
        files = document.pop("files", None)
        if not isinstance(files, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in files.items()):
            raise PipelineError(f"{path}: 'files' must map file names to sha256 checksums")
        for name, digest in files.items():
            file_path = where[check_name(name, SAVED_FILES.__contains__, path)]
            if not file_path.exists():
                raise PipelineError(f"{file_path}: missing; copy the whole run directory or save the pipeline again")
            if _sha256(file_path) != digest:
                raise PipelineError(f"{file_path}: does not match the checksum in config.json (corrupted, or "
                                    "replaced after saving); save the pipeline again")
        try:
            config = from_dict(PipelineConfig, document, "config")
        except ConfigError as error:
            raise PipelineError(f"{path}: {error}") from None
        if config.task not in MODEL_OF_TASK:
            raise PipelineError(f"{path}: unknown task {config.task!r}")
        vocab = Vocab.load(where["vocab.json"]) if "vocab.json" in files else None
        labels = LabelVocab.load(where["labels.json"]) if "labels.json" in files else None
        char_vocab = Vocab.load(where["chars.json"]) if "chars.json" in files else None
        if vocab is not None and vocab_size != len(vocab):
            raise PipelineError(f"{run_dir / 'vocab.json'}: holds {len(vocab)} tokens but config.json says {vocab_size}")
        if config.task in ("classify", "tag", "lm") and vocab is None:
            raise PipelineError(f"{run_dir}: a {config.task} pipeline needs vocab.json")
        if config.task in ("classify", "tag") and labels is None:
            raise PipelineError(f"{run_dir}: a {config.task} pipeline needs labels.json")
        if tokenizer_config is not None and "lower" not in tokenizer_config:
            # older saves kept sentencepiece's lower-casing only in the pipeline's tokenizer settings
            tokenizer_config = {**tokenizer_config, "lower": bool(config.tokenizer.lower)}
        tokenizer = tokenizer_from_config(tokenizer_config, where["spm.model"]) if tokenizer_config is not None else None
        try:
            pipe = cls(config, tokenizer, vocab, labels, char_vocab)
        except (ConfigError, TypeError, ValueError) as error:
            raise PipelineError(f"{path}: the model settings do not build a model ({error})") from None
        try:
            weights = load_file(str(where["model.safetensors"]))
        except (SafetensorError, OSError, ValueError) as error:
            raise PipelineError(f"{where['model.safetensors']}: not a readable safetensors file ({error})") from None
        _load_weights(pipe.model, weights, where["model.safetensors"], vocab)
        if config.context.hidden_dim > 0:
            pipe.context = ContextFeatures.read(where, config.context)
        pipe.model.eval()
        return pipe.to(device)


def _write_weights(model: torch.nn.Module, path: Path) -> None:
    """Write the weights as safetensors into ``path``. The bytes are made in memory, as for the checkpoint, so a
    full disk fails in Python's write with an OSError that names the cause (safetensors' own file writer raises
    an opaque error). Tied tensors
    (an LM's shared embedding and output matrix) are stored once, under the first of their names, as
    ``safetensors.torch.save_model`` does; loading copies them to every alias."""
    from safetensors.torch import save

    state = model.state_dict()
    kept: dict[tuple, str] = {}
    for name in sorted(state):
        tensor = state[name]
        key = (tensor.data_ptr(), tuple(tensor.shape)) if tensor.numel() else (name,)
        kept.setdefault(key, name)
    path.write_bytes(save({name: state[name].detach().to("cpu").contiguous() for name in kept.values()}))


def _load_weights(model: torch.nn.Module, weights: dict, path: Path, vocab: Vocab | None) -> None:
    """Copy weights into the model, naming any missing, unexpected or wrongly shaped tensor."""
    expected = model.state_dict()
    # Tied weights are stored once (safetensors drops the duplicate name); copy them to every alias.
    for name, tensor in model.state_dict(keep_vars=True).items():
        if name not in weights:
            for other, other_tensor in model.state_dict(keep_vars=True).items():
                if other in weights and other_tensor is tensor:
                    weights[name] = weights[other]
                    break
    missing = sorted(set(expected) - set(weights))
    unexpected = sorted(set(weights) - set(expected))
    if missing or unexpected:
        raise PipelineError(f"{path}: weights do not fit the model (missing {missing[:3]}, unexpected {unexpected[:3]}); "
                            "the file belongs to another model or is corrupted")
    for name, tensor in expected.items():
        if tuple(weights[name].shape) != tuple(tensor.shape):
            hint = ""
            if vocab is not None and tensor.dim() >= 1 and tensor.shape[0] == len(vocab):
                hint = f": the vocabulary has {len(vocab)} tokens but the weights expect {weights[name].shape[0]}"
            raise PipelineError(f"{path}: tensor {name!r} has shape {tuple(weights[name].shape)}, the model needs "
                                f"{tuple(tensor.shape)}{hint}")
    model.load_state_dict(weights, strict=True)


def entities(text: str, spans: list[tuple[str, int, int]], tags: list[str]) -> list[dict]:
    """Entity spans from IOB2 tags: ``[{"text", "type", "start", "end"}]`` with character offsets into ``text``."""
    found, current = [], None
    for (_token, start, end), tag in zip(spans, tags, strict=True):
        if tag.startswith("B-") or (tag.startswith("I-") and (current is None or current["type"] != tag[2:])):
            if current:
                found.append(current)
            current = {"type": tag[2:], "start": start, "end": end}
        elif tag.startswith("I-") and current is not None:
            current["end"] = end
        else:
            if current:
                found.append(current)
            current = None
    if current:
        found.append(current)
    for entity in found:
        entity["text"] = text[entity["start"]:entity["end"]]
    return [{"text": e["text"], "type": e["type"], "start": e["start"], "end": e["end"]} for e in found]


def repair(run_dir: str | Path) -> bool:
    """Finish a save that was cut off while moving its files in, as the next save would (``textrnn repair``); True
    when there was one. Loading never does this: a reader writes nothing. Raises PipelineError for a commit file
    that names anything but the run's own files."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise PipelineError(f"{run_dir}: no such run directory")
    clean_temporaries(run_dir)
    return finish_saving(run_dir, SAVED_FILES.__contains__)


def load(run_dir: str | Path, device: str = "cpu") -> Pipeline:
    """Load a saved pipeline (``textrnn.load("runs/reuters")``)."""
    return Pipeline.load(run_dir, device=device)

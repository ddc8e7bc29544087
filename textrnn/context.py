"""Contextual character features for a tagger: two character language models, one reading each sentence left to
right and one right to left, give each word the states they hold around it (Akbik et al. 2018, "Contextual string
embeddings for sequence labeling").

A word's feature is the forward model's state after the word's last character and the backward model's state after
it has read, from the right, the word's first character: each has seen the word's characters and all of the
sentence on one side of it, with the case and spelling that a lower-cased word vector loses. Both models are
pretrained on cased text we have (the tagger's own train sentences and, with ``context.text``, other corpora's raw
text, e.g. ``reuters:raw_text``), then frozen: the tagger learns from their features, computed once per sentence.

A sentence is read as its words joined by single spaces, after the start token, so other text is first cut into
words by the same word tokenizer and joined the same way. Each model is a character LM pipeline of its own
(``task = "lm"``, character tokens), trained with the ordinary training loop; the tagger's pipeline saves its
weights and characters as flat files (``context_forward.safetensors``, ``context_forward.json`` and the backward
pair) and names them in ``config.json`` with their checksums.
"""
from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

from textrnn.errors import ConfigError
from textrnn.vocab import EOS_ID, PAD_ID, Vocab

DIRECTIONS = ("forward", "backward")


@dataclass
class ContextConfig:
    hidden_dim: int = 0              # >0: contextual character features, this wide per direction (2x in all); 0: off
    num_layers: int = 1
    char_dim: int = 32
    text: str = ""                   # more cased text for the two LMs, named as data.extra names it: "reuters:raw_text"
    minutes: float = 4.0             # training budget of each direction's LM (0: no budget, `epochs` passes)
    epochs: int = 4
    batch_size: int = 64
    bptt: int = 100
    lr: float = 0.002
    valid_share: float = 0.01        # the last share of the LM text, held out to report the LMs' loss
    dropout: float = 0.3             # on the features, in the tagger, while it trains


def sentence_text(tokens: Sequence[str]) -> str:
    """How a sentence is read: its words joined by single spaces."""
    return " ".join(tokens)


def word_positions(tokens: Sequence[str]) -> tuple[list[int], list[int]]:
    """The output steps holding each word's feature in the forward and the backward model's reading of
    ``sentence_text(tokens)`` (step 0 is the start token, so the text's character i is read at step i + 1)."""
    length = len(sentence_text(tokens))
    ends, starts, at = [], [], 0
    for token in tokens:
        ends.append(at + len(token))              # after the word's last character (text index at + len - 1)
        starts.append(length - at)                # the reversed text reads the word's first character last
        at += len(token) + 1
    return ends, starts


class ContextFeatures:
    """The two frozen character LMs and how to read sentences with them; ``features(token_lists)``."""

    def __init__(self, config: ContextConfig, models: dict[str, torch.nn.Module], vocabs: dict[str, Vocab]):
        self.config = config
        self.models = models
        self.vocabs = vocabs
        for model in models.values():
            model.eval()
            for parameter in model.parameters():
                parameter.requires_grad_(False)

    @property
    def dim(self) -> int:
        return 2 * self.config.hidden_dim

    def to(self, device: torch.device | str) -> ContextFeatures:
        for model in self.models.values():
            model.to(device)
        return self

    # ----- building ---------------------------------------------------------------------------------------------
    @staticmethod
    def lm_settings(config: ContextConfig) -> dict:
        """The character LM's model settings (``LMConfig``) that a context configuration asks for."""
        return {"embedding": {"kind": "learned", "dim": config.char_dim}, "cell": "lstm",
                "hidden_dim": config.hidden_dim, "num_layers": config.num_layers}

    @classmethod
    def pretrain(cls, config: ContextConfig, sentences: list[list[str]], extra_texts: Sequence[str], train,
                 run_dir: str | Path | None = None, resume: bool = False, quiet: bool = False) -> ContextFeatures:
        """Train the forward and the backward LM on the train ``sentences`` (words as written) and the
        ``extra_texts`` (raw text, cut into words here), each within ``config.minutes``.

        ``train`` is the tagger's TrainConfig: its device, seed and mixed-precision settings are used. With
        ``run_dir``, each LM checkpoints into ``run_dir/context-forward`` (``-backward``) and is saved there when
        trained; with ``resume``, a saved LM is loaded rather than trained again, so a resumed tagger reads the
        very features it was trained with.
        """
        from textrnn.corpus import Example
        from textrnn.pipeline import Pipeline
        from textrnn.tokenize import WordTokenizer

        if config.hidden_dim < 1:
            raise ConfigError("context.hidden_dim must be positive to pretrain contextual character features")
        words = WordTokenizer(lower=False)
        texts = [sentence_text(s) for s in sentences if s]
        texts += [sentence_text(words.tokenize(t)) for t in extra_texts if t and t.strip()]
        if len(texts) < 2:
            raise ConfigError("contextual character features need at least two sentences to train their LMs on")
        held = max(1, int(len(texts) * config.valid_share))
        models, vocabs = {}, {}
        for direction in DIRECTIONS:
            folder = Path(run_dir) / f"context-{direction}" if run_dir is not None else None
            if resume and folder is not None and (folder / "config.json").exists():
                pipe = Pipeline.load(folder)
                if not quiet:
                    print(f"context: the {direction} LM is loaded from {folder}", file=sys.stderr)
            else:
                ordered = texts if direction == "forward" else [t[::-1] for t in texts]
                examples = [Example(text=t) for t in ordered]
                settings = {"device": train.device, "seed": train.seed, "amp_cpu": train.amp_cpu,
                            "threads": train.threads, "epochs": config.epochs, "batch_size": config.batch_size,
                            "lr": config.lr, "max_minutes": config.minutes, "schedule": "cosine", "monitor": "loss"}
                pipe = Pipeline.for_task("lm", train=examples[:-held], tokenizer={"kind": "char"},
                                         model=cls.lm_settings(config), lm={"bptt": config.bptt},
                                         train_config=settings, meta={"context": direction}, quiet=True)
                if not quiet:
                    chars = sum(len(t) for t in ordered)
                    budget = f"up to {config.minutes:g} minutes" if config.minutes > 0 else f"{config.epochs} passes"
                    print(f"context: training the {direction} character LM ({config.hidden_dim} units) on "
                          f"{len(examples):,} texts, {chars:,} characters, for {budget}", file=sys.stderr)
                pipe.fit(examples[:-held], examples[-held:], run_dir=folder, resume=resume, quiet=quiet)
                if folder is not None:
                    pipe.save(folder, {"valid_loss": pipe.history.epochs[-1].get("valid_loss")
                                       if pipe.history and pipe.history.epochs else None})
            models[direction], vocabs[direction] = pipe.model, pipe.vocab
        return cls(config, models, vocabs)

    # ----- features ---------------------------------------------------------------------------------------------
    @torch.inference_mode()
    def features(self, token_lists: Sequence[Sequence[str]], batch_size: int = 64) -> list[torch.Tensor]:
        """One (words, 2 * hidden_dim) float16 tensor per sentence, on the CPU: each word's forward and backward
        states. Sentences are read in batches of similar length; an empty sentence gets a (0, dim) tensor."""
        out: list[torch.Tensor] = [torch.zeros(len(t), self.dim, dtype=torch.float16) for t in token_lists]
        every_text = [sentence_text(t) for t in token_lists]
        order = sorted((i for i, t in enumerate(token_lists) if t), key=lambda i: len(every_text[i]))
        for at in range(0, len(order), batch_size):
            chunk = order[at:at + batch_size]
            texts = [every_text[i] for i in chunk]
            positions = [word_positions(token_lists[i]) for i in chunk]
            rows = torch.tensor([b for b, i in enumerate(chunk) for _ in token_lists[i]])
            halves = []
            for direction, side in zip(DIRECTIONS, (0, 1), strict=True):
                read = texts if direction == "forward" else [t[::-1] for t in texts]
                states = self._states(direction, read)                                     # (B, L + 1, H)
                steps = torch.tensor([s for p in positions for s in p[side]])
                halves.append(states[rows.to(states.device), steps.to(states.device)])     # (words, H)
            words = torch.cat(halves, -1).to("cpu", torch.float16)                        # one copy per batch
            for i, part in zip(chunk, words.split([len(token_lists[i]) for i in chunk]), strict=True):
                out[i] = part
        return out

    def _states(self, direction: str, texts: list[str]) -> torch.Tensor:
        """The LM's outputs (B, L + 1, H) over the start token and each text's characters (padding after)."""
        model, vocab = self.models[direction], self.vocabs[direction]
        device = next(model.parameters()).device
        rows = [[EOS_ID, *vocab.encode(list(t))] for t in texts]
        width = max(len(r) for r in rows)
        ids = torch.full((len(rows), width), PAD_ID, dtype=torch.long)
        for b, row in enumerate(rows):
            ids[b, :len(row)] = torch.tensor(row)
        lengths = torch.tensor([len(r) for r in rows])
        outputs, _, _ = model.rnn(model.embedding(ids.to(device)), lengths)
        return outputs.float()

    # ----- saving -----------------------------------------------------------------------------------------------
    def write(self, folder: Path) -> list[str]:
        """Write each direction's weights and characters into ``folder``; returns the file names."""
        from textrnn.fileio import atomic_write
        from textrnn.pipeline import _write_weights

        names = []
        for direction in DIRECTIONS:
            weights, chars = f"context_{direction}.safetensors", f"context_{direction}.json"
            atomic_write(folder / weights, lambda tmp, d=direction: _write_weights(self.models[d], tmp))
            self.vocabs[direction].save(folder / chars)
            names += [weights, chars]
        return names

    @classmethod
    def read(cls, files: dict[str, Path], config: ContextConfig) -> ContextFeatures:
        """The features saved by ``write``, read from ``files`` (where each saved file is; their checksums checked
        by the pipeline's load)."""
        from safetensors import SafetensorError
        from safetensors.torch import load_file

        from textrnn.config import from_dict
        from textrnn.errors import PipelineError
        from textrnn.models.lm import LanguageModel, LMConfig
        from textrnn.pipeline import _load_weights

        models, vocabs = {}, {}
        for direction in DIRECTIONS:
            weights, chars = files[f"context_{direction}.safetensors"], files[f"context_{direction}.json"]
            for path in (weights, chars):
                if not path.exists():
                    raise PipelineError(f"{path}: missing; the pipeline's context features need it (copy the whole "
                                        "run directory)")
            vocab = Vocab.load(chars)
            model = LanguageModel(from_dict(LMConfig, cls.lm_settings(config), "context"), len(vocab))
            try:
                state = load_file(str(weights))
            except (SafetensorError, OSError, ValueError) as error:
                raise PipelineError(f"{weights}: not a readable safetensors file ({error})") from None
            _load_weights(model, state, weights, vocab)
            models[direction], vocabs[direction] = model, vocab
        return cls(config, models, vocabs)

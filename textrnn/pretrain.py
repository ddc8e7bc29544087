"""Pretraining a classifier's or tagger's encoder as a language model on unlabelled text (Dai and Le 2015; Howard and
Ruder 2018; for taggers, Peters et al. 2017 pretrain a separate LM, here the tagger's own layers learn it).

Before the model learns its labels, its word embedding, convolution or character and casing features, and its
recurrent layer learn to predict words of the train texts and of unlabelled ones (IMDB's 50,000 reviews; for the
CoNLL tagger, the Reuters newswires as written): the forward direction the first word to the right of what it has
read, the backward direction the first word to the left. What a text says next is much of what it means, so the
layers start the supervised epochs already reading such text; the labels then have less to teach. The output
layer is the word embedding itself (tied) behind a small projection per direction, and the softmax over the
vocabulary is sampled: each step scores its targets against ``negatives`` words drawn from the unigram
distribution to the 3/4 power, with the log-uniform correction of sampled softmax (Jean et al. 2015), so a step
costs a fraction of a full softmax's. ``<unk>`` is never a target: it is no word to learn. The projections are
thrown away afterwards. An ensemble's members each learn against their own word embedding.

With a convolution in front, a step of the recurrent layer has seen more than its own words: kernel k ("same"
padding: l words to the left, r to the right) and pooling p make step s see words p*s - l to p*s + p - 1 + r. So the
forward target is word p*s + p + r and the backward one p*s - l - 1, the nearest words that step has not seen
(``targets``; a test checks that changing a target word leaves its step's state unchanged). A tagger's step s
reads word s alone (its characters and casing too): the targets are words s + 1 and s - 1.

A tagger reads sentences: its train sentences as they are, and a running text cut into sentences with its words
as written, so the character and casing features see capitals that a lower-casing tokenizer takes from the word ids.

It runs ``epochs`` passes over the texts in shuffled batches of similar length, through the training loop that every
task uses (``train.fit``, without validation); its checkpoint lives in ``RUN/pretrain/``, so an interrupted run
resumes it and a finished one is not run again.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from textrnn.corpus import Example
from textrnn.encode import Batch, bucket_batches, pad
from textrnn.errors import ConfigError
from textrnn.models.classifier import Classifier
from textrnn.models.ensemble import members_of
from textrnn.models.tagger import Tagger
from textrnn.tasks import classify, tag
from textrnn.tokenize import split_sentences
from textrnn.train import TaskLoop, TrainConfig, fit, set_threads
from textrnn.vocab import SPECIALS

FOLDER = "pretrain"


@dataclass
class PretrainConfig:
    epochs: int = 0             # >0: pretrain the encoder as a language model for this many passes first (0: off)
    batch_size: int = 64
    max_len: int = 400          # each text's (a tagger's: sentence's) first words read (reviews beyond it add little
                                # per second spent)
    negatives: int = 1024       # words sampled per step for the sampled softmax
    lr: float = 0.002


def targets(steps: int, pool: int, left: int, right: int) -> tuple[torch.Tensor, torch.Tensor]:
    """For each of ``steps`` recurrent steps, the word the forward direction predicts and the one the backward
    direction predicts (positions in the text; out of range at the ends), given a convolution seeing ``left`` and
    ``right`` words around each position and a pooling of ``pool`` (1, 0, 0 without a convolution)."""
    s = torch.arange(steps)
    return pool * s + pool + right, pool * s - left - 1


def _sampled_loss(hidden: torch.Tensor, wanted: torch.Tensor, table: torch.Tensor, sampled: torch.Tensor,
                  log_q: torch.Tensor) -> torch.Tensor:
    """Sampled softmax: each row's target against the shared sampled words, scores corrected by log(K q)."""
    correction = math.log(sampled.numel())
    positive = (hidden * table[wanted]).sum(-1, keepdim=True) - log_q[wanted].unsqueeze(-1) - correction
    negative = hidden @ table[sampled].t() - log_q[sampled].unsqueeze(0) - correction
    negative = negative.masked_fill(sampled.view(1, -1) == wanted.view(-1, 1), float("-inf"))  # accidental hits
    logits = torch.cat([positive, negative], 1).float()
    return F.cross_entropy(logits, torch.zeros(len(wanted), dtype=torch.long, device=logits.device))


@dataclass
class Texts:
    """The pretraining's texts: their word ids, the words as read (a tagger's), and a batch maker."""

    ids: list[list[int]]
    batch: Callable[[list[int]], Batch]
    tokens: list[list[str]] | None = None


def classifier_texts(pipe, items: list, max_len: int) -> Texts:
    """Texts as a classifier reads them: each text's first ``max_len`` word ids."""
    examples = [i if isinstance(i, Example) else Example(text=i) for i in items]
    ids = [row[:max_len] for row in classify.encode(pipe, [e for e in examples if e.text], with_labels=False).ids]

    def batch(index: list[int]) -> Batch:
        padded, lengths = pad([ids[i] for i in index])
        return Batch(ids=padded, lengths=lengths, index=index)

    return Texts(ids, batch)


def tagger_texts(pipe, items: list, max_len: int) -> Texts:
    """Sentences as a tagger reads them: its train examples as they are, a running text cut into sentences with
    its words as written; batches carry their characters and casing."""
    examples = []
    for item in items:
        if isinstance(item, Example) and item.tokens is not None:
            examples.append(Example(tokens=list(item.tokens[:max_len])))
            continue
        for sentence in split_sentences(pipe.clean(item.text if isinstance(item, Example) else item)):
            words = tag.words(pipe.tokenizer, False, Example(text=sentence))
            if words:
                examples.append(Example(tokens=words[:max_len]))
    encoded = tag.encode(pipe, examples, with_labels=False)
    return Texts(encoded.ids, lambda index: tag.make_batch(pipe, encoded, index), encoded.tokens)


def _states(member, batch: Batch) -> tuple[torch.Tensor, torch.Tensor]:
    """A member's recurrent outputs (B, S, D) for ``batch`` and each row's steps (B,)."""
    if isinstance(member, Classifier):
        outputs, _, steps = member.states(batch.ids, batch.lengths)
        return outputs, steps
    return member.states(batch.ids, batch.lengths, batch.chars, batch.casing), batch.lengths


class _Pretraining(nn.Module):
    """What the pretraining trains: the model (its encoder gets the gradients) and the projection heads."""

    def __init__(self, model: nn.Module, heads: nn.ModuleList):
        super().__init__()
        self.model, self.heads = model, heads


def pretrain_encoder(pipe, items: list, config: PretrainConfig, run_dir: str | Path | None = None,
                     resume: bool = False, quiet: bool = False) -> dict:
    """Pretrain the encoder of ``pipe``'s classifier or tagger (each member's, for an ensemble) on ``items``:
    texts, or examples (a tagger's come with their tokens); see the module's docstring. Returns a report."""
    members = members_of(pipe.model)
    if not all(isinstance(m, Classifier | Tagger) for m in members):
        raise ConfigError("pretrain: a language-model pretraining of the encoder is for classifiers and taggers; "
                          "set pretrain.epochs = 0")
    if config.epochs <= 0 or config.batch_size < 1 or config.max_len < 2 or config.negatives < 1:
        raise ConfigError(f"pretrain: epochs, batch_size, negatives must be positive and max_len at least 2, got "
                          f"{config.epochs}, {config.batch_size}, {config.negatives}, {config.max_len}")
    first = members[0]
    directions = 2 if first.rnn.bidirectional else 1
    if directions == 2 and first.rnn.num_layers > 1:
        raise ConfigError("pretrain: in stacked bidirectional layers each direction reads the other's outputs, so "
                          "a word's state would have seen the word it predicts; pretrain with model.num_layers=1 "
                          "(or bidirectional=false), or set pretrain.epochs=0")
    conv = getattr(first, "conv", None)
    left, right = conv.pad if conv is not None else (0, 0)
    pool = conv.pool_size if conv is not None else 1
    set_threads(pipe.config.train.threads)
    device = pipe.to(pipe.config.train.device).device
    texts = (classifier_texts if isinstance(first, Classifier) else tagger_texts)(pipe, items, config.max_len)
    ids, make_batch = texts.ids, texts.batch
    shortest = pool + right + 1          # the first step's forward target is word pool + right
    keep = [i for i, row in enumerate(ids) if len(row) >= shortest]
    if not keep:
        raise ConfigError(f"pretrain: no text of {shortest} words or more to pretrain on")
    counts = np.bincount(np.concatenate([np.asarray(ids[i], dtype=np.int64) for i in keep]), minlength=len(pipe.vocab))
    counts[: len(SPECIALS)] = 0          # padding, <unk>, <bos>, <eos> are neither drawn as negatives nor predicted
    weights = torch.tensor(counts, dtype=torch.float64).pow(0.75)
    if float(weights.sum()) <= 0:
        raise ConfigError("pretrain: the texts hold no word of the vocabulary")
    q = (weights / weights.sum()).to(device)
    log_q = q.clamp(min=1e-12).log().float()
    hidden = first.rnn.output_dim // directions
    tables = pipe.word_embeddings()
    # per member, a projection per direction onto the word-vector space; scores are dot products with the member's
    # own (tied) word embedding
    heads = nn.ModuleList(nn.ModuleList(nn.Linear(hidden, tables[0].weight.size(1)) for _ in range(directions))
                          for _ in members).to(device)
    lengths = [len(ids[i]) for i in keep]
    settings = pipe.config.train

    def step(model, batch: Batch, carry):
        sampled = torch.multinomial(q, config.negatives, replacement=True)
        # a batch whose targets are all specials still gives a loss with a graph (zero), so every step is a step
        loss = heads[0][0].weight.sum() * 0.0
        for member, member_heads, table in zip(members, heads, tables, strict=True):
            outputs, steps = _states(member, batch)                              # (B, S, directions * hidden)
            forward_at, backward_at = targets(outputs.size(1), pool, left, right)
            real = torch.arange(outputs.size(1)).view(1, -1) < steps.view(-1, 1)   # (B, S), CPU
            for d, at in enumerate((forward_at, backward_at)[:directions]):
                inside = real & (at.view(1, -1) >= 0) & (at.view(1, -1) < batch.lengths.view(-1, 1))
                words = batch.ids.gather(1, at.clamp(0, batch.ids.size(1) - 1).to(device).view(1, -1)
                                         .expand(batch.ids.size(0), -1))
                wanted = inside.to(device) & (words >= len(SPECIALS))              # <unk> is no word to predict
                if bool(wanted.any()):
                    states = outputs[..., d * hidden:(d + 1) * hidden][wanted]
                    loss = loss + _sampled_loss(member_heads[d](states), words[wanted], table.weight, sampled,
                                                log_q) / (directions * len(members))
        return loss, None

    def batches(epoch: int) -> list[Batch]:
        return [make_batch([keep[i] for i in index])
                for index in bucket_batches(lengths, config.batch_size, True, settings.seed * 1000 + epoch)]

    loop_config = TrainConfig(epochs=config.epochs, batch_size=config.batch_size, lr=config.lr,
                              clip_norm=settings.clip_norm, seed=settings.seed, device=settings.device,
                              amp=settings.amp, amp_cpu=settings.amp_cpu, threads=settings.threads,
                              restore_best=False)
    folder = Path(run_dir) / FOLDER if run_dir is not None else None
    history = fit(_Pretraining(pipe.model, heads), TaskLoop(batches=batches, step=step, evaluate=None), loop_config,
                  run_dir=folder, resume=resume, quiet=quiet)
    words_read = sum(lengths) * len(history.epochs)
    return {"epochs": len(history.epochs), "texts": len(keep), "words": words_read,
            "minutes": round(history.seconds / 60, 2),
            "loss": round(history.epochs[-1]["train_loss"], 4) if history.epochs else None}

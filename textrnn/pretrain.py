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

It runs for ``minutes`` (a clock budget, as training's ``max_minutes``), over the texts in shuffled batches of
similar length. With a run directory the pretrained weights are kept as ``pretrained.safetensors``, and a resumed
run loads them instead of pretraining again.
"""
from __future__ import annotations

import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from textrnn.errors import ConfigError, PipelineError
from textrnn.vocab import SPECIALS

WEIGHTS = "pretrained.safetensors"


@dataclass
class PretrainConfig:
    minutes: float = 0.0        # >0: pretrain the encoder as a language model for this long first (0: off)
    batch_size: int = 64
    max_len: int = 400          # each text's (a tagger's: sentence's) first words read (reviews beyond it add little
                                # per second spent)
    negatives: int = 1024       # words sampled per step for the sampled softmax
    lr: float = 0.002
    report_every: int = 200     # a progress line every this many steps


def targets(steps: int, pool: int, left: int, right: int) -> tuple[torch.Tensor, torch.Tensor]:
    """For each of ``steps`` recurrent steps, the word the forward direction predicts and the one the backward
    direction predicts (positions in the text; out of range at the ends), given a convolution seeing ``left`` and
    ``right`` words around each position and a pooling of ``pool`` (1, 0, 0 without a convolution)."""
    s = torch.arange(steps)
    return pool * s + pool + right, pool * s - left - 1


def _sampled_loss(hidden: torch.Tensor, wanted: torch.Tensor, table: torch.Tensor, sampled: torch.Tensor,
                  log_q: torch.Tensor) -> torch.Tensor:
    """Sampled softmax: each row's target against the shared sampled words, scores corrected by log(K q)."""
    k = sampled.numel()
    correction = math.log(k)
    positive = (hidden * table[wanted]).sum(-1, keepdim=True) - log_q[wanted].unsqueeze(-1) - correction
    negative = hidden @ table[sampled].t() - log_q[sampled].unsqueeze(0) - correction
    negative = negative.masked_fill(sampled.view(1, -1) == wanted.view(-1, 1), float("-inf"))  # accidental hits
    logits = torch.cat([positive, negative], 1).float()
    return F.cross_entropy(logits, torch.zeros(len(wanted), dtype=torch.long, device=logits.device))


class _ClassifierText:
    """Texts as a classifier reads them: word ids, each text's first ``max_len`` words."""

    def __init__(self, pipe, items: list, max_len: int):
        from textrnn.corpus import Example
        from textrnn.tasks import classify

        examples = [i if isinstance(i, Example) else Example(text=i) for i in items]
        examples = [e for e in examples if e.text]
        self.ids = [row[:max_len] for row in classify.encode(pipe, examples, with_labels=False).ids]

    def select(self, keep: list[int]) -> None:
        self.ids = [self.ids[i] for i in keep]

    def batch(self, index: list[int], device) -> tuple[torch.Tensor, torch.Tensor, dict]:
        from textrnn.encode import pad

        ids, lengths = pad([self.ids[i] for i in index])
        return ids.to(device), lengths, {}

    @staticmethod
    def states(member, ids: torch.Tensor, lengths: torch.Tensor, inputs: dict) -> tuple[torch.Tensor, torch.Tensor]:
        outputs, _, steps = member.states(ids, lengths)
        return outputs, steps

    @staticmethod
    def encoder(member) -> list[nn.Parameter]:
        return [*member.embedding.parameters(), *(member.conv.parameters() if member.conv is not None else []),
                *member.rnn.parameters()]


class _TaggerText:
    """Sentences as a tagger reads them: word ids with each word's characters and casing as written. A tagger's
    train examples come as they are; a running text is cut into sentences (``split_sentences``) and its words
    kept as written, so the characters and casing features see the capitals a lower-casing tokenizer drops."""

    def __init__(self, pipe, items: list, max_len: int):
        from textrnn.corpus import Example
        from textrnn.tasks import tag
        from textrnn.tokenize import split_sentences

        self.pipe = pipe
        examples = []
        for item in items:
            if isinstance(item, Example) and item.tokens is not None:
                examples.append(Example(tokens=list(item.tokens[:max_len])))
                continue
            text = item.text if isinstance(item, Example) else item
            for sentence in split_sentences(pipe._clean_text(pipe.config, text or "")):   # encode.strip_html
                words = [w for w, _, _ in pipe.written_spans(sentence)]
                if words:
                    examples.append(Example(tokens=words[:max_len]))
        self.encoded = tag.encode(pipe, examples, with_labels=False)
        self.ids = self.encoded.ids

    def select(self, keep: list[int]) -> None:
        from textrnn.tasks.tag import Encoded

        e = self.encoded
        self.encoded = Encoded([e.tokens[i] for i in keep], [e.ids[i] for i in keep], None,
                               context=None if e.context is None else [e.context[i] for i in keep])
        self.ids = self.encoded.ids

    def batch(self, index: list[int], device) -> tuple[torch.Tensor, torch.Tensor, dict]:
        from textrnn.tasks import tag

        batch = tag.make_batch(self.pipe, self.encoded, self.encoded.rows(), index).to(device)
        return batch.ids, batch.lengths, {"chars": batch.chars, "casing": batch.casing, "context": batch.context}

    @staticmethod
    def states(member, ids: torch.Tensor, lengths: torch.Tensor, inputs: dict) -> tuple[torch.Tensor, torch.Tensor]:
        return member.states(ids, lengths, **inputs), lengths

    @staticmethod
    def encoder(member) -> list[nn.Parameter]:
        parts = [member.embedding, member.chars, member.casing, member.rnn]
        return [p for part in parts if part is not None for p in part.parameters()]


def pretrain_encoder(pipe, items: list, config: PretrainConfig, run_dir: str | Path | None = None,
                     resume: bool = False, quiet: bool = False) -> dict:
    """Pretrain the encoder of ``pipe``'s classifier or tagger (each member's, for an ensemble) on ``items``:
    texts, or examples (a tagger's come with their tokens); see the module's docstring. Returns a report."""
    from textrnn.encode import bucket_batches
    from textrnn.models.classifier import Classifier
    from textrnn.models.ensemble import members_of
    from textrnn.models.tagger import Tagger
    from textrnn.train import autocast_dtype, set_threads

    model = pipe.model
    members = members_of(model)
    if not all(isinstance(m, Classifier | Tagger) for m in members):
        raise ConfigError("pretrain: a language-model pretraining of the encoder is for classifiers and taggers; "
                          "set pretrain.minutes = 0")
    if config.minutes <= 0 or config.batch_size < 1 or config.max_len < 2 or config.negatives < 1:
        raise ConfigError(f"pretrain: minutes, batch_size, negatives must be positive and max_len at least 2, got "
                          f"{config.minutes}, {config.batch_size}, {config.negatives}, {config.max_len}")
    saved = Path(run_dir) / WEIGHTS if run_dir is not None else None
    if resume and saved is not None and saved.exists():
        _load(model, saved)
        if not quiet:
            print(f"pretrain: loaded the pretrained encoder from {saved}", file=sys.stderr)
        return {"loaded": str(saved)}
    first = members[0]
    directions = 2 if first.rnn.bidirectional else 1
    if directions == 2 and first.rnn.num_layers > 1:
        raise ConfigError("pretrain: in stacked bidirectional layers each direction reads the other's outputs, so "
                          "a word's state would have seen the word it predicts; pretrain with model.num_layers=1 "
                          "(or bidirectional=false), or set pretrain.minutes=0")
    conv = getattr(first, "conv", None)
    left, right = conv.pad if conv is not None else (0, 0)
    pool = conv.pool_size if conv is not None else 1
    settings = pipe.config.train
    set_threads(settings.threads)
    device = pipe.device
    torch.manual_seed(settings.seed)
    text = (_ClassifierText if isinstance(first, Classifier) else _TaggerText)(pipe, items, config.max_len)
    shortest = pool + right + 1          # the first step's forward target is word pool + right
    text.select([i for i, row in enumerate(text.ids) if len(row) >= shortest])
    if not text.ids:
        raise ConfigError(f"pretrain: no text of {shortest} words or more to pretrain on")
    counts = np.bincount(np.concatenate([np.asarray(r, dtype=np.int64) for r in text.ids]), minlength=len(pipe.vocab))
    counts[: len(SPECIALS)] = 0          # padding, <unk>, <bos>, <eos> are neither drawn as negatives nor predicted
    weights = torch.tensor(counts, dtype=torch.float64).pow(0.75)
    if float(weights.sum()) <= 0:
        raise ConfigError("pretrain: the texts hold no word of the vocabulary")
    q = (weights / weights.sum()).to(device)
    log_q = q.clamp(min=1e-12).log().float()
    hidden = first.rnn.output_dim // directions
    # per member, a projection per direction onto the word-vector space; scores are dot products with the member's
    # own (tied) word embedding
    tables = pipe._word_embeddings()
    project = nn.ModuleList(nn.ModuleList(nn.Linear(hidden, tables[0].weight.size(1)) for _ in range(directions))
                            for _ in members).to(device)
    parameters = [p for m in members for p in text.encoder(m)] + list(project.parameters())
    optimizer = torch.optim.Adam(parameters, lr=config.lr)
    amp_dtype = autocast_dtype(device, settings)
    scaler = torch.amp.GradScaler("cuda", enabled=amp_dtype == torch.float16)
    lengths_all = [len(r) for r in text.ids]
    model.train()
    began = time.perf_counter()
    budget = config.minutes * 60
    step = tokens = passes = 0
    recent: list[float] = []
    while time.perf_counter() - began < budget:
        for index in bucket_batches(lengths_all, config.batch_size, True, settings.seed * 1000 + passes):
            if time.perf_counter() - began >= budget:
                break
            batch, lengths, inputs = text.batch(index, device)
            with torch.autocast(device.type, dtype=amp_dtype, enabled=amp_dtype is not None):
                sampled = torch.multinomial(q, config.negatives, replacement=True)
                loss = torch.zeros((), device=device)
                for member, heads, table in zip(members, project, tables, strict=True):
                    outputs, steps_lengths = text.states(member, batch, lengths, inputs)    # (B, S, directions * hidden)
                    forward_at, backward_at = targets(outputs.size(1), pool, left, right)
                    real = torch.arange(outputs.size(1)).view(1, -1) < steps_lengths.view(-1, 1)   # (B, S), CPU
                    for d, at in enumerate((forward_at, backward_at)[:directions]):
                        inside = real & (at.view(1, -1) >= 0) & (at.view(1, -1) < lengths.view(-1, 1))
                        words = batch.gather(1, at.clamp(0, batch.size(1) - 1).to(device).view(1, -1)
                                             .expand(batch.size(0), -1))
                        keep = inside.to(device) & (words >= len(SPECIALS))               # <unk> is no word to predict
                        if not bool(keep.any()):
                            continue
                        states = outputs[..., d * hidden:(d + 1) * hidden][keep]
                        loss = loss + _sampled_loss(heads[d](states), words[keep], table.weight, sampled,
                                                    log_q) / (directions * len(members))
            if not loss.requires_grad:   # no known word of this batch had a target
                continue
            optimizer.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.unscale_(optimizer)
            if settings.clip_norm > 0:
                torch.nn.utils.clip_grad_norm_(parameters, settings.clip_norm)
            scaler.step(optimizer)
            scaler.update()
            step += 1
            tokens += int(lengths.sum())
            recent.append(float(loss.detach()))
            if not quiet and step % config.report_every == 0:
                spent = time.perf_counter() - began
                print(f"pretrain: step {step}  loss {np.mean(recent[-config.report_every:]):.3f}  "
                      f"{tokens / spent:,.0f} tok/s  {spent / 60:.1f} of {config.minutes:g} min", file=sys.stderr)
        passes += 1
    report = {"minutes": round((time.perf_counter() - began) / 60, 2), "steps": step, "tokens": tokens,
              "texts": len(text.ids), "passes": round(tokens / max(1, sum(lengths_all)), 2),
              "loss": round(float(np.mean(recent[-config.report_every:])), 4) if recent else None}
    if not quiet:
        print(f"pretrain: {step} steps over {tokens:,} words ({report['passes']} passes over {len(text.ids):,} texts) "
              f"in {report['minutes']} min, sampled-softmax loss {report['loss']}", file=sys.stderr)
    if saved is not None:
        _save(model, saved)
    return report


def _save(model: nn.Module, path: Path) -> None:
    from textrnn.fileio import atomic_write
    from textrnn.pipeline import _write_weights

    atomic_write(path, lambda tmp: _write_weights(model, tmp))


def _load(model: nn.Module, path: Path) -> None:
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    from textrnn.pipeline import _load_weights

    try:
        state = load_file(str(path))
    except (SafetensorError, OSError) as error:
        raise PipelineError(f"{path}: not a readable safetensors file ({error}); delete it to pretrain again") from None
    try:
        _load_weights(model, state, path, None)
    except PipelineError as error:
        raise PipelineError(f"{error}; delete it to pretrain again") from None

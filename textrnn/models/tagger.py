"""Many-to-many, aligned: one tag per token (named entities; the 'hello' next-character drill).

word embedding [+ character features (CNN or bi-LSTM over each word's characters)] [+ a casing embedding]
-> Recurrent (bidirectional by default) -> Dense(num_tags) emissions -> softmax, or a CRF (Lample et al. 2016, Ma and Hovy 2016). The loss is
masked: padding never counts.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from textrnn.embeddings import EmbeddingConfig, build_embedding
from textrnn.encode import mask as length_mask
from textrnn.errors import ConfigError
from textrnn.layers import Dropout
from textrnn.models.classifier import full_lengths
from textrnn.models.crf import CRF
from textrnn.models.ensemble import Ensemble, one_or_ensemble
from textrnn.models.recurrent import Recurrent
from textrnn.textual import NUM_CASINGS

CHAR_ENCODERS = ("cnn", "lstm")


@dataclass
class TaggerConfig:
    embedding: EmbeddingConfig = field(default_factory=EmbeddingConfig)
    cell: str = "lstm"
    hidden_dim: int = 128
    num_layers: int = 1
    bidirectional: bool = True
    dropout: float = 0.0             # between layers and before the emissions
    char_dim: int = 0                # >0: character features from `chars` (B, T, W) ids (char vocab, 0 = pad)
    char_encoder: str = "cnn"        # "cnn" (char_hidden filters, max over the word) | "lstm" (bi-LSTM, 2 * char_hidden)
    char_hidden: int = 50
    char_vocab_size: int = 0
    char_kernel: int = 3
    casing_dim: int = 0              # >0: an embedding of textual.casing_class(token), from `casing` (B, T)
    crf: bool = False
    packed: bool = False
    members: int = 1                 # >1: an ensemble of that many taggers trained side by side (TaggerEnsemble)
    aux_weight: float = 0.0          # >0: auxiliary heads learn the CoNLL file's columns between token and tag
                                     # (CoNLL-2003: part of speech and chunk), each weighted so in the loss;
                                     # tagging uses the main head alone, so plain text needs no such columns
    aux_labels: list[list[str]] | None = None   # each such column's values, found in the train split by the pipeline


class CharEncoder(nn.Module):
    """Characters (B, T, W) -> one vector per word (B, T, dim); a word with no characters (padding) gets zeros.

    "cnn": a convolution over the characters, max over the word (``dim = hidden``); "lstm": a bi-LSTM whose final
    states are concatenated (``dim = 2 * hidden``). Characters are left-aligned; id 0 is padding.
    """

    def __init__(self, kind: str, vocab_size: int, char_dim: int, hidden: int, kernel: int):
        super().__init__()
        if kind not in CHAR_ENCODERS:
            raise ConfigError(f"model.char_encoder must be one of {', '.join(CHAR_ENCODERS)}, got {kind!r}")
        if vocab_size < 2:
            raise ConfigError("model.char_vocab_size must be set (the size of the character vocabulary) when char_dim > 0")
        self.kind = kind
        self.embedding = nn.Embedding(vocab_size, char_dim, padding_idx=0)
        if kind == "cnn":
            self.conv = nn.Conv1d(char_dim, hidden, kernel)
            self.pad = ((kernel - 1) // 2, kernel - 1 - (kernel - 1) // 2)  # "same": one output per character
            self.dim = hidden
        else:
            self.rnn = Recurrent("lstm", char_dim, hidden, bidirectional=True)
            self.dim = 2 * hidden

    def forward(self, chars: torch.Tensor) -> torch.Tensor:
        batch, steps, width = chars.shape
        flat = chars.reshape(batch * steps, width)
        lengths = (flat != 0).sum(1)                                           # (N,)
        present = lengths > 0
        out = self.embedding.weight.new_zeros(batch * steps, self.dim)
        if bool(present.any()):
            words, lengths = flat[present], lengths[present]
            x = self.embedding(words)                                          # (n, W, c)
            if self.kind == "cnn":
                keep = (words != 0).unsqueeze(-1)
                h = self.conv(F.pad(x.masked_fill(~keep, 0.0).transpose(1, 2), self.pad)).transpose(1, 2)  # (n, W, hidden)
                encoded = h.masked_fill(~keep, float("-inf")).max(1).values
            else:
                _, encoded, _ = self.rnn(x, lengths)                           # (n, 2 * hidden)
            out = out.index_put((present.nonzero().squeeze(1),), encoded.to(out.dtype))
        return out.view(batch, steps, self.dim)


class Tagger(nn.Module):
    """A sequence tagger; ``forward(ids, lengths, targets=None, chars=None, casing=None) -> (emissions, loss)``."""

    def __init__(self, config: TaggerConfig, vocab_size: int, num_tags: int):
        super().__init__()
        self.config = config
        # The word embedding is registered first: the pipeline finds it as the first embedding of the vocab's size.
        self.embedding = build_embedding(config.embedding, vocab_size)
        width = self.embedding.dim
        self.chars = None
        if config.char_dim > 0:
            self.chars = CharEncoder(config.char_encoder, config.char_vocab_size, config.char_dim,
                                     config.char_hidden, config.char_kernel)
            width += self.chars.dim
        self.casing = None
        if config.casing_dim > 0:
            self.casing = nn.Embedding(NUM_CASINGS, config.casing_dim, padding_idx=0)
            width += config.casing_dim
        self.rnn = Recurrent(config.cell, width, config.hidden_dim, config.num_layers, config.bidirectional,
                             config.dropout, packed=config.packed)
        self.dropout = Dropout(config.dropout)
        self.output = nn.Linear(self.rnn.output_dim, num_tags)
        self.crf = CRF(num_tags) if config.crf else None
        if config.aux_weight < 0:
            raise ConfigError(f"model.aux_weight must be 0 (off) or more, got {config.aux_weight}")
        self.aux = None
        if config.aux_weight > 0 and config.aux_labels:
            self.aux = nn.ModuleList(nn.Linear(self.rnn.output_dim, len(values)) for values in config.aux_labels)

    def emissions(self, ids: torch.Tensor, lengths: torch.Tensor, chars: torch.Tensor | None = None,
                  casing: torch.Tensor | None = None) -> torch.Tensor:
        """Per-token tag scores (B, T, C)."""
        return self.output(self.features(ids, lengths, chars, casing))

    def features(self, ids: torch.Tensor, lengths: torch.Tensor, chars: torch.Tensor | None = None,
                 casing: torch.Tensor | None = None) -> torch.Tensor:
        """The recurrent layer's outputs after dropout (B, T, D): what the heads read."""
        return self.dropout(self.states(ids, lengths, chars, casing))

    def states(self, ids: torch.Tensor, lengths: torch.Tensor, chars: torch.Tensor | None = None,
               casing: torch.Tensor | None = None) -> torch.Tensor:
        """The recurrent layer's outputs (B, T, D), before the dropout: what pretraining predicts words from."""
        parts = [self.embedding(ids)]                                          # (B, T, E)
        if self.chars is not None:
            if chars is None:
                raise ValueError("this tagger uses character features: pass chars (B, T, W) character ids")
            parts.append(self.chars(chars))                                    # (B, T, char features)
        if self.casing is not None:
            if casing is None:
                raise ValueError("this tagger uses casing features: pass casing (B, T) ids from textual.casing_class")
            parts.append(self.casing(casing))                                  # (B, T, casing_dim)
        return self.rnn(torch.cat(parts, -1), lengths)[0]                     # (B, T, D)

    def forward(self, ids: torch.Tensor, lengths: torch.Tensor | None, targets: torch.Tensor | None = None,
                chars: torch.Tensor | None = None, casing: torch.Tensor | None = None,
                aux_targets: torch.Tensor | None = None
                ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Emissions (B, T, C) and, with targets (B, T), the loss: the mean cross-entropy over real tokens, or
        with a CRF the mean negative log-likelihood per sentence. With ``aux_targets`` (B, T, K) too (each
        column's value index, -1 where a sentence has none) and auxiliary heads: plus ``aux_weight`` times each
        head's mean cross-entropy over the tokens that have a value."""
        lengths = full_lengths(ids, lengths).clamp(min=1)
        features = self.features(ids, lengths, chars, casing)
        logits = self.output(features)
        loss = None
        if targets is not None:
            keep = length_mask(lengths.to(ids.device), ids.size(1))                # (B, T)
            if self.crf is not None:
                loss = self.crf(logits, targets, keep)
            else:
                loss = F.cross_entropy(logits[keep].float(), targets[keep].long())
            if self.aux is not None and aux_targets is not None:
                flat = features.flatten(0, 1)                                      # (B * T, D); padding's targets are -1
                for k, head in enumerate(self.aux):
                    wanted = aux_targets[..., k].masked_fill(~keep, -1).flatten().long()
                    if bool((wanted >= 0).any()):
                        loss = loss + self.config.aux_weight * F.cross_entropy(head(flat).float(), wanted,
                                                                               ignore_index=-1)
        return logits, loss

    @torch.no_grad()
    def decode(self, ids: torch.Tensor, lengths: torch.Tensor | None, chars: torch.Tensor | None = None,
               casing: torch.Tensor | None = None) -> list[list[int]]:
        """The best tag ids per row (argmax, or Viterbi with a CRF), each list as long as its row."""
        return decode_together([self], ids, lengths, chars, casing)


class TaggerEnsemble(Ensemble):
    """Taggers trained side by side (``model.members``); decoding combines them (see :func:`decode_together`)."""

    @torch.no_grad()
    def decode(self, ids: torch.Tensor, lengths: torch.Tensor | None, chars: torch.Tensor | None = None,
               casing: torch.Tensor | None = None) -> list[list[int]]:
        return decode_together(list(self.members), ids, lengths, chars, casing)


@torch.no_grad()
def decode_together(taggers: list[Tagger], ids: torch.Tensor, lengths: torch.Tensor | None,
                    chars: torch.Tensor | None = None, casing: torch.Tensor | None = None) -> list[list[int]]:
    """The best tag ids per row for one tagger or several of one configuration, each list as long as its row.

    Without a CRF: the argmax of the taggers' mean probability per token. With one: Viterbi over the taggers'
    mean emissions and mean transition, start and end scores (the mean of their log-potentials).
    """
    given = full_lengths(ids, lengths)
    lengths = given.clamp(min=1)
    emissions = torch.stack([t.emissions(ids, lengths, chars, casing).float()
                             for t in taggers])                                                 # (N, B, T, C)
    if taggers[0].crf is not None:
        scores = [torch.stack(parts).mean(0) for parts in zip(*(t.crf.scores() for t in taggers), strict=True)]
        paths = taggers[0].crf.viterbi(emissions.mean(0), length_mask(lengths.to(ids.device), ids.size(1)),
                                       scores=tuple(scores))
    else:
        paths = torch.softmax(emissions, -1).mean(0).argmax(-1).cpu().tolist()
    return [path[:length] for path, length in zip(paths, given.tolist(), strict=True)]   # an empty row gets no tags


def build_tagger(config: TaggerConfig, vocab_size: int, num_tags: int) -> nn.Module:
    """A Tagger, or a TaggerEnsemble of ``config.members`` of them."""
    return one_or_ensemble(lambda: Tagger(config, vocab_size, num_tags), config.members, TaggerEnsemble)

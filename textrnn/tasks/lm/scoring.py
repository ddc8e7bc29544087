"""Scoring sentences with a language model: log-probability, perplexity and per-token figures, and ranking."""
from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F

from textrnn.encode import pad
from textrnn.tasks.lm.sampling import evaluating
from textrnn.vocab import EOS, EOS_ID, UNK_ID, Vocab

# Logit values (rows x steps x vocabulary) computed in one scoring batch: 8M float32 values are 32 MB.
SCORE_CELLS = 1 << 23


def _sequence_logprobs(model, sequences: list[list[int]], vocab_size: int, device) -> list[list[float]]:
    """For each id sequence, the log-probability of every id after the first given the ids before it.

    Sequences are sorted by length and batched (right-padded, then masked) so that one batch's logits stay under
    SCORE_CELLS values; a sequence longer than that alone is scored in windows with the state carried.
    """
    out: list[list[float]] = [[] for _ in sequences]
    width = max(1, SCORE_CELLS // vocab_size)
    long = [i for i, s in enumerate(sequences) if len(s) - 1 > width]
    for i in long:
        out[i] = _windowed_logprobs(model, sequences[i], width, device)
    order = sorted((i for i, s in enumerate(sequences) if 2 <= len(s) <= width + 1), key=lambda i: len(sequences[i]))
    start = 0
    while start < len(order):
        end = start + 1
        while end < len(order) and (end + 1 - start) * (len(sequences[order[end]]) - 1) * vocab_size <= SCORE_CELLS:
            end += 1
        batch = order[start:end]
        inputs, lengths = pad([sequences[i][:-1] for i in batch])
        targets, _ = pad([sequences[i][1:] for i in batch])
        logits, _, _ = model(inputs.to(device), lengths, None)                       # (B, T, V)
        logprobs = F.log_softmax(logits.float(), dim=-1)
        picked = logprobs.gather(-1, targets.to(device)[..., None]).squeeze(-1)     # (B, T)
        for i, row, length in zip(batch, picked.tolist(), lengths.tolist(), strict=True):
            out[i] = row[:length]
        start = end
    return out


def _windowed_logprobs(model, sequence: list[int], width: int, device) -> list[float]:
    """The log-probability of every id after the first of one long sequence, ``width`` ids at a time."""
    ids = torch.tensor(sequence, device=device)
    out, state = [], None
    for start in range(0, len(sequence) - 1, width):
        inputs = ids[start:min(start + width, len(sequence) - 1)][None]                 # (1, w)
        logits, _, state = model(inputs, None, None, state=state)                       # (1, w, V)
        targets = ids[start + 1:start + 1 + inputs.size(1)]
        out += F.log_softmax(logits[0].float(), dim=-1).gather(-1, targets[:, None]).squeeze(-1).tolist()
    return out


@torch.inference_mode()
def score(model, tokenizer, vocab: Vocab, sentences: Sequence[str], start_id: int | None = EOS_ID,
          add_eos: bool = True) -> list[dict]:
    """Score each sentence under the language model, in the input order.

    Each result is ``{"text", "logprob", "perplexity", "tokens", "unknown"}``: ``logprob`` is the total natural-log
    probability of the predicted tokens (the sentence's tokens, plus ``<eos>`` with ``add_eos``) after ``start_id``;
    ``perplexity`` is exp of the mean negative log-probability per predicted token (1.0 when nothing is predicted);
    ``tokens`` lists ``{"token", "logprob"}`` per predicted token; ``unknown`` the tokens the vocabulary maps to
    ``<unk>`` (they are scored as ``<unk>``). With ``start_id=None`` the first token is context, not predicted.
    Sentences are scored in padded batches.
    """
    if isinstance(sentences, str):
        raise TypeError("score takes a list of sentences; wrap a single sentence in a list")
    sentences = list(sentences)
    sequences, names, unknown = [], [], []
    for text in sentences:
        tokens = tokenizer.tokenize(text)
        ids = [vocab.stoi.get(token, UNK_ID) for token in tokens]
        context = [] if start_id is None else [int(start_id)]
        sequences.append(context + ids + ([EOS_ID] if add_eos else []))
        predicted = list(tokens) + ([EOS] if add_eos else [])
        names.append(predicted if start_id is not None else predicted[1:])
        unknown.append(vocab.unknown(tokens))
    with evaluating(model) as device:
        logprobs = _sequence_logprobs(model, sequences, len(vocab), device)
    results = []
    for text, tokens, values, missing in zip(sentences, names, logprobs, unknown, strict=True):
        total = sum(values)
        mean_nll = -total / len(values) if values else 0.0
        per_token = [{"token": t, "logprob": v} for t, v in zip(tokens, values, strict=True)]
        results.append({"text": text, "logprob": total, "perplexity": math.exp(min(mean_nll, 700.0)),
                        "tokens": per_token, "unknown": missing})
    return results


def rank(results: Sequence[dict], by: str = "logprob") -> list[dict]:
    """Score results best first (a new list; ties keep their order).

    ``by="logprob"`` (the default) ranks by total log-probability: the probability of the whole sentence, which is
    what choosing among alternatives for the same slot needs, and which favours shorter sentences when lengths
    differ. ``by="perplexity"`` ranks by the per-token figure (lower first), which compares sentences of different
    lengths; every result carries both.
    """
    if by == "logprob":
        return sorted(results, key=lambda r: -r["logprob"])
    if by == "perplexity":
        return sorted(results, key=lambda r: r["perplexity"])
    raise ValueError(f"rank by 'logprob' or 'perplexity', got {by!r}")


"""Greedy and beam search for an encoder-decoder (``models.seq2seq.Seq2Seq``), batched over sentences.

Both take a batch of sources (ids (B, S), lengths (B,)) and give one ``Translation`` per sentence: its ids (no
<bos>/<eos>), its log-probability (the <eos> included), the score it was ranked by and its attention weights.

* A hypothesis holds at most ``max_length = floor(max_len_a * source_length + max_len_b)`` tokens before its <eos>:
  at that length only <eos> may follow (its own probability counted), so every search ends.
* <pad> and <bos> are never generated; an empty source (length 0) translates to an empty sentence.
* Beam search ranks finished hypotheses by ``logprob / lp(n)`` with GNMT's length penalty
  ``lp(n) = ((5 + n) / 6) ** alpha`` over the n tokens generated (<eos> included); ``alpha = 0`` ranks by the
  log-probability itself, which favours short output.
* Each step a sentence's beam expands to its ``2 * beam_size`` best continuations; those ending in <eos> among the
  first ``beam_size`` are finished, and the best ``beam_size`` others continue. A sentence's search stops when it
  holds ``beam_size`` finished hypotheses, or when no live hypothesis can still beat its best finished one (a live
  score can only fall, and the penalty is at most that of ``max_length + 1`` tokens), or at ``max_length``. With
  a beam wide enough to keep every hypothesis this is exhaustive search (tested against brute-force enumeration).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from textrnn.vocab import BOS_ID, EOS_ID, PAD_ID


@dataclass
class Translation:
    """One sentence's output: ``ids`` (no <bos>/<eos>), ``logprob`` (the natural log-probability of ids + <eos>),
    ``score`` (what the search ranked it by), ``attention`` (len(ids) + 1, source length) float32: each generated
    token's weights over the source's real tokens, the <eos> last."""

    ids: list[int]
    logprob: float
    score: float
    attention: np.ndarray


def max_lengths(src_lengths: torch.Tensor, max_len_a: float, max_len_b: float) -> list[int]:
    """The longest output per sentence, ``floor(max_len_a * length + max_len_b)`` tokens before <eos>, at least 1
    (0 for an empty source). Raises ValueError for a negative ``max_len_a`` or ``max_len_b``."""
    if max_len_a < 0 or max_len_b < 0:
        raise ValueError(f"max_len_a and max_len_b must not be negative, got {max_len_a} and {max_len_b}")
    return [0 if int(n) == 0 else max(1, math.floor(max_len_a * int(n) + max_len_b)) for n in src_lengths.tolist()]


def length_penalty(length: int, alpha: float) -> float:
    """GNMT's ``((5 + length) / 6) ** alpha`` (Wu et al. 2016); 1 for ``alpha = 0``."""
    return ((5.0 + length) / 6.0) ** alpha


def _empty() -> Translation:
    """The translation of an empty source: no tokens, no attention."""
    return Translation([], 0.0, 0.0, np.zeros((0, 0), dtype=np.float32))


def _forbid(log_probs: torch.Tensor, at_limit: torch.Tensor) -> torch.Tensor:
    """Never <pad> or <bos>; only <eos> in the rows ``at_limit`` (bool, one per row) that reached their length."""
    log_probs = log_probs.clone()
    log_probs[:, PAD_ID] = float("-inf")
    log_probs[:, BOS_ID] = float("-inf")
    eos = log_probs[:, EOS_ID].clone()
    log_probs[at_limit] = float("-inf")
    log_probs[:, EOS_ID] = eos
    return log_probs


class _Evaluating:
    """Puts a model in eval mode without gradients for a block, and back as it was after it."""

    def __init__(self, model: torch.nn.Module):
        self.model, self.was_training = model, model.training
        self.no_grad = torch.no_grad()

    def __enter__(self):
        self.model.eval()
        self.no_grad.__enter__()

    def __exit__(self, *exc):
        self.no_grad.__exit__(*exc)
        self.model.train(self.was_training)


def greedy(model, src_ids: torch.Tensor, src_lengths: torch.Tensor, max_len_a: float = 1.5,
           max_len_b: float = 5.0) -> list[Translation]:
    """The most probable next token at each step, for every sentence of the batch at once (see the module
    docstring for lengths and special tokens). ``score`` is the log-probability."""
    limits = max_lengths(src_lengths, max_len_a, max_len_b)
    batch, width = src_ids.size(0), src_ids.size(1)
    with _Evaluating(model):
        memory, state = model.encode(src_ids, src_lengths)
        tokens = torch.full((batch,), BOS_ID, dtype=torch.long, device=src_ids.device)
        limit = torch.tensor(limits, device=src_ids.device)
        done = limit == 0
        logprob = torch.zeros(batch, dtype=torch.float64)
        chosen, attentions = [], []
        for step in range(max(limits, default=0) + 1):
            if bool(done.all()):
                break
            log_probs, state, weights = model.decode_step(tokens, memory, state)
            log_probs = _forbid(log_probs, step >= limit)
            best, tokens = log_probs.max(-1)
            logprob += torch.where(done, 0.0, best.double()).cpu()
            chosen.append(torch.where(done, PAD_ID, tokens).cpu())
            attentions.append(weights.float().cpu())
            done = done | (tokens == EOS_ID)
    out = []
    picked = torch.stack(chosen, 1).numpy() if chosen else np.zeros((batch, 0), dtype=np.int64)
    weights = torch.stack(attentions, 1).numpy() if attentions else np.zeros((batch, 0, width), dtype=np.float32)
    for row, length in enumerate(src_lengths.tolist()):
        if limits[row] == 0:
            out.append(_empty())
            continue
        ids = picked[row].tolist()
        end = ids.index(EOS_ID)
        out.append(Translation(ids[:end], float(logprob[row]), float(logprob[row]), weights[row, :end + 1, :length]))
    return out


def beam_search(model, src_ids: torch.Tensor, src_lengths: torch.Tensor, beam_size: int = 5, alpha: float = 0.6,
                max_len_a: float = 1.5, max_len_b: float = 5.0) -> list[Translation]:
    """The best hypothesis of a beam of ``beam_size`` per sentence, all sentences of the batch in one search (see
    the module docstring for the ranking, lengths and when a sentence's search stops). ``beam_size = 1`` is
    greedy search. Raises ValueError for a beam size below 1 or a negative ``alpha``."""
    if beam_size < 1:
        raise ValueError(f"beam_size must be at least 1, got {beam_size}")
    if alpha < 0:
        raise ValueError(f"alpha must not be negative, got {alpha}")
    limits = max_lengths(src_lengths, max_len_a, max_len_b)
    batch, k = src_ids.size(0), beam_size
    device = src_ids.device
    with _Evaluating(model):
        memory, state = model.encode(src_ids, src_lengths)
        rows = torch.arange(batch, device=device).repeat_interleave(k)                # (B*K,) sentence of each row
        memory, state = memory.select(rows), state.select(rows)
        scores = torch.full((batch, k), float("-inf"), device=device)
        scores[:, 0] = 0.0                                                            # one live hypothesis at first
        tokens = torch.full((batch * k,), BOS_ID, dtype=torch.long, device=device)
        limit = torch.tensor(limits, device=device)
        done = [n == 0 for n in limits]
        finished: list[list[tuple[float, float, int, int]]] = [[] for _ in range(batch)]   # (score, logprob, step, slot)
        parents, chosen, attentions = [], [], []
        for step in range(max(limits, default=0) + 1):
            if all(done):
                break
            log_probs, state, weights = model.decode_step(tokens, memory, state)     # (B*K, V)
            attentions.append(weights.float().cpu().view(batch, k, -1))
            vocab = log_probs.size(-1)
            log_probs = _forbid(log_probs, (step >= limit).repeat_interleave(k))
            # fp32 suffices to rank (a sum of 100 log-probabilities keeps about 5 significant digits)
            candidates = (scores.unsqueeze(-1) + log_probs.view(batch, k, vocab)).view(batch, -1)
            top, index = candidates.topk(min(2 * k, k * vocab), -1)                   # (B, 2K)
            slot, token = index // vocab, index % vocab
            scores, tokens, parent = _advance(top, slot, token, k, step, finished, done, limits, alpha)
            parents.append(parent.cpu())
            chosen.append(tokens.cpu())
            scores = scores.to(device, torch.float32)
            state = state.select((torch.arange(batch, device=device).unsqueeze(1) * k + parent.to(device)).view(-1))
            tokens = tokens.to(device).view(-1)
    return [_best(finished[b], parents, chosen, attentions, b, length) if limits[b] else _empty()
            for b, length in enumerate(src_lengths.tolist())]


def _advance(top: torch.Tensor, slot: torch.Tensor, token: torch.Tensor, k: int, step: int,
             finished: list[list], done: list[bool], limits: list[int], alpha: float):
    """One step's bookkeeping on the CPU: finish the <eos> candidates among each sentence's first ``k``, keep the
    best ``k`` others alive (scores (B, K), tokens (B, K), parent slots (B, K)) and mark finished sentences done."""
    batch = top.size(0)
    top, slot, token = top.tolist(), slot.tolist(), token.tolist()     # Python numbers: fast to walk one by one
    scores = [[float("-inf")] * k for _ in range(batch)]
    tokens = [[EOS_ID] * k for _ in range(batch)]
    parent = [[0] * k for _ in range(batch)]
    penalty = length_penalty(step + 1, alpha)
    for b in range(batch):
        if done[b]:
            continue
        alive = 0
        for rank, score in enumerate(top[b]):
            if score == float("-inf"):
                break
            if token[b][rank] == EOS_ID:
                if rank < k:
                    finished[b].append((score / penalty, score, step, slot[b][rank]))
            elif alive < k:
                scores[b][alive], tokens[b][alive], parent[b][alive] = score, token[b][rank], slot[b][rank]
                alive += 1
        best = max((f[0] for f in finished[b]), default=float("-inf"))
        bound = scores[b][0] / length_penalty(limits[b] + 1, alpha) if alive else float("-inf")
        done[b] = len(finished[b]) >= k or alive == 0 or bound <= best
    return (torch.tensor(scores, dtype=torch.float64), torch.tensor(tokens, dtype=torch.long),
            torch.tensor(parent, dtype=torch.long))


def _best(finished: list[tuple[float, float, int, int]], parents: list[torch.Tensor], chosen: list[torch.Tensor],
          attentions: list[torch.Tensor], b: int, length: int) -> Translation:
    """The best finished hypothesis of sentence ``b``, its tokens and attention traced back through the steps."""
    score, logprob, step, slot = max(finished, key=lambda f: f[0])
    ids, weights = [], [attentions[step][b, slot]]
    for s in range(step - 1, -1, -1):          # the hypothesis in ``slot`` at step s + 1 came from step s's choices
        ids.append(int(chosen[s][b, slot]))
        slot = int(parents[s][b, slot])
        weights.append(attentions[s][b, slot])
    return Translation(ids[::-1], logprob, score, torch.stack(weights[::-1])[:, :length].numpy())

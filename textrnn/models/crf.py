"""A linear-chain conditional random field over tag sequences: the log-likelihood by the forward algorithm (log
space, vectorised over the batch, masked) and the best path by Viterbi. Tested against brute-force enumeration.

Scores: ``start[y_0] + sum_t emissions[t, y_t] + sum_t transitions[y_{t-1}, y_t] + end[y_{L-1}]``.
Optional IOB2 constraints (:meth:`CRF.constrain_iob2`) are kept in buffers, so a saved model keeps them.
"""
from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

FORBIDDEN = -1e4   # a large finite penalty rather than -inf: no NaN when a gold path breaks a constraint


class CRF(nn.Module):
    """Transition scores ``transitions[from, to]`` plus start and end scores for ``num_tags`` tags."""

    def __init__(self, num_tags: int):
        super().__init__()
        if num_tags < 1:
            raise ValueError(f"a CRF needs at least one tag, got {num_tags}")
        self.num_tags = num_tags
        self.transitions = nn.Parameter(torch.empty(num_tags, num_tags).uniform_(-0.1, 0.1))
        self.start = nn.Parameter(torch.empty(num_tags).uniform_(-0.1, 0.1))
        self.end = nn.Parameter(torch.empty(num_tags).uniform_(-0.1, 0.1))
        self.register_buffer("allowed_transitions", torch.ones(num_tags, num_tags, dtype=torch.bool))
        self.register_buffer("allowed_start", torch.ones(num_tags, dtype=torch.bool))

    def constrain_iob2(self, tag_names: Sequence[str]) -> None:
        """Forbid the transitions IOB2 never holds: start -> I-X, O -> I-X and B-X/I-X -> I-Y with X != Y."""
        if len(tag_names) != self.num_tags:
            raise ValueError(f"{len(tag_names)} tag names for a CRF over {self.num_tags} tags")
        allowed = torch.ones(self.num_tags, self.num_tags, dtype=torch.bool)
        start = torch.ones(self.num_tags, dtype=torch.bool)
        for j, to in enumerate(tag_names):
            if not to.startswith("I-"):
                continue
            start[j] = False
            for i, source in enumerate(tag_names):
                allowed[i, j] = source[:2] in ("B-", "I-") and source[2:] == to[2:]
        self.allowed_transitions.copy_(allowed)
        self.allowed_start.copy_(start)

    def scores(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        transitions = self.transitions.masked_fill(~self.allowed_transitions, FORBIDDEN)
        return transitions, self.start.masked_fill(~self.allowed_start, FORBIDDEN), self.end

    def log_likelihood(self, emissions: torch.Tensor, tags: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """log p(tags | emissions) per row: emissions (B, T, C), tags (B, T), mask (B, T) bool -> (B,).

        ``mask`` marks real positions; every row needs at least its first position real. Padded tags are ignored.
        """
        emissions = emissions.float()
        return self._path_score(emissions, tags, mask) - self._log_partition(emissions, mask)

    def forward(self, emissions: torch.Tensor, tags: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """The mean negative log-likelihood over the batch (the training loss)."""
        return -self.log_likelihood(emissions, tags, mask).mean()

    def _path_score(self, emissions: torch.Tensor, tags: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        transitions, start, end = self.scores()
        tags = tags.long()
        emitted = emissions.gather(2, tags.unsqueeze(-1)).squeeze(-1)             # (B, T)
        steps = transitions[tags[:, :-1], tags[:, 1:]] + emitted[:, 1:]           # (B, T - 1)
        score = start[tags[:, 0]] + emitted[:, 0] + torch.where(mask[:, 1:], steps, 0.0).sum(1)
        last = mask.long().sum(1).clamp(min=1) - 1                                # (B,)
        return score + end[tags.gather(1, last.unsqueeze(1)).squeeze(1)]

    def _log_partition(self, emissions: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        transitions, start, end = self.scores()
        alpha = start + emissions[:, 0]                                           # (B, C)
        for t in range(1, emissions.size(1)):
            # alpha[b, j] = logsumexp_i alpha[b, i] + transitions[i, j] + emissions[b, t, j]
            step = torch.logsumexp(alpha.unsqueeze(2) + transitions, dim=1) + emissions[:, t]
            alpha = torch.where(mask[:, t].unsqueeze(1), step, alpha)
        return torch.logsumexp(alpha + end, dim=1)

    @torch.no_grad()
    def viterbi(self, emissions: torch.Tensor, mask: torch.Tensor,
                scores: tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None = None) -> list[list[int]]:
        """The best tag path per row, each as long as the row's real positions: emissions (B, T, C), mask (B, T).

        ``scores``: (transitions, start, end) to use instead of this CRF's own (an ensemble's mean)."""
        transitions, start, end = scores if scores is not None else self.scores()
        emissions = emissions.float()
        batch, steps, tags = emissions.shape
        score = start + emissions[:, 0]                                           # (B, C)
        stay = torch.arange(tags, device=emissions.device).expand(batch, tags)
        pointers = []
        for t in range(1, steps):
            best, previous = (score.unsqueeze(2) + transitions).max(dim=1)        # (B, C) each
            keep = mask[:, t].unsqueeze(1)
            score = torch.where(keep, best + emissions[:, t], score)
            pointers.append(torch.where(keep, previous, stay))                    # padded steps point to themselves
        tag = (score + end).argmax(1)                                             # (B,)
        path = [tag]
        for previous in reversed(pointers):
            tag = previous.gather(1, tag.unsqueeze(1)).squeeze(1)
            path.append(tag)
        path = torch.stack(path[::-1], 1).cpu()                                   # (B, T)
        lengths = mask.long().sum(1).clamp(min=1).cpu()
        return [row[:length].tolist() for row, length in zip(path, lengths.tolist(), strict=True)]

    def extra_repr(self) -> str:
        return f"num_tags={self.num_tags}"

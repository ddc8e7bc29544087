"""Next token: language models trained on one long stream with truncated backpropagation through time.

Line corpora (sentences, reviews) become ``tokens + [<eos>]`` per line, so ``<eos>`` is also the context a new
sentence starts from; a single running text (tiny Shakespeare) is one stream of characters.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from textrnn.encode import Batch, count_lm_windows, lm_streams, lm_windows
from textrnn.train import TaskLoop, TrainConfig
from textrnn.vocab import EOS_ID

EVAL_ROWS = 10


@dataclass
class Encoded:
    ids: np.ndarray      # one stream of ids
    characters: int      # characters of text behind the stream (for per-character figures)

    def __len__(self) -> int:
        return len(self.ids)


def encode(pipe, examples, with_labels: bool = True, where: str = "") -> Encoded:
    eos = pipe.config.lm.eos_per_example
    parts, characters = [], 0
    for example in examples:
        text = example.text or ""
        ids = pipe.text_ids(text)
        parts.append(np.asarray(ids + [EOS_ID] if eos else ids, dtype=np.int64))
        characters += len(text) + (1 if eos else 0)
    stream = np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)
    return Encoded(stream, characters)


def loop(pipe, train: Encoded, valid: Encoded, config: TrainConfig) -> TaskLoop:
    bptt = pipe.config.lm.bptt

    def batches(epoch: int) -> list[Batch]:
        # A different start each epoch moves the window boundaries, so no token is always the first of a window.
        offset = (config.seed * 7919 + epoch * 31) % bptt if epoch else 0
        streams = lm_streams(train.ids[offset:], config.batch_size)
        return [Batch(ids=x, targets=y, lengths=None) for x, y in lm_windows(streams, bptt)]

    def step(model, batch, carry):
        core = model.module if hasattr(model, "module") else model
        state = core.detach_state(carry) if carry is not None else None
        _, loss, state = model(batch.ids, None, batch.targets, state=state)
        return loss, state

    return TaskLoop(batches=batches, step=step, evaluate=lambda model: evaluate(pipe, valid, model=model))


@torch.inference_mode()
def evaluate(pipe, encoded: Encoded, model=None) -> dict:
    """Loss in nats per token over the whole stream, perplexity, and per-character figures."""
    model = model or pipe.model
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    rows = max(1, min(EVAL_ROWS, len(encoded.ids) // (pipe.config.lm.bptt + 1)))
    streams = lm_streams(encoded.ids, rows)
    state, total, count = None, 0.0, 0
    for x, y in lm_windows(streams, pipe.config.lm.bptt):
        x, y = x.to(device), y.to(device)
        logits, _, state = model(x, None, None, state=state)
        nll = torch.nn.functional.cross_entropy(logits.float().reshape(-1, logits.size(-1)), y.reshape(-1),
                                                reduction="sum", ignore_index=0)
        total += float(nll)
        count += int((y != 0).sum())
    model.train(was_training)
    loss = total / max(1, count)
    # The stream is cut to rows * width tokens; scale the characters to the part that was scored.
    scored_share = count / max(1, len(encoded.ids))
    nll_per_char = total / max(1.0, encoded.characters * scored_share)
    metrics = {"task": "lm", "n": count, "loss": loss, "perplexity": math.exp(min(loss, 50.0)),
               "nll_per_char": nll_per_char, "bits_per_char": nll_per_char / math.log(2)}
    return metrics


def windows_per_epoch(encoded: Encoded, batch_size: int, bptt: int) -> int:
    return count_lm_windows(lm_streams(encoded.ids, batch_size), bptt)

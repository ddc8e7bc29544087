"""Sampling from a language model: greedy, temperature, top-k and top-p sampling, and beam search.

Every function here takes a model with the language-model contract
``model(ids (B, T), lengths=None, targets=None, state=None) -> (logits (B, T, V), loss or None, state)`` and
``model.init_state(batch_size, device)``; the state is a tensor or a tuple of tensors. A prompt is fed once and its
state carried, one model step per new token. A text starts from a context id ``start_id``: ``<eos>`` for sentence
corpora, whose training lines are ``tokens + [<eos>]``, so the model has learned what follows an end of sentence.
"""
from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence

import torch
import torch.nn.functional as F

from textrnn.errors import TextrnnError
from textrnn.textual import GenerationConfig, needs_space
from textrnn.vocab import BOS_ID, EOS_ID, PAD_ID, UNK_ID, Vocab

NEVER_EMITTED = (PAD_ID, UNK_ID, BOS_ID)
NEG_INF = float("-inf")
FEED_TOKENS = 1024   # a context is fed this many steps at a time: (B, 1024, V) logits at most, not (B, T, V)


# ----- model plumbing ---------------------------------------------------------------------------------------------
def model_device(model) -> torch.device:
    """The device of the model's first parameter (CPU for a model without parameters)."""
    for tensor in model.parameters():
        return tensor.device
    return torch.device("cpu")


@contextlib.contextmanager
def evaluating(model) -> Iterator[torch.device]:
    """Dropout off while inferring; the model's training flag is restored afterwards."""
    was_training = model.training
    model.eval()
    try:
        yield model_device(model)
    finally:
        model.train(was_training)


def last_logits(model, ids: torch.Tensor, state):
    """Feed ids (B, T) after ``state``; the logits (B, V) for the next token (float32) and the new state. A long
    context is fed FEED_TOKENS steps at a time with the state carried, so its logits never all exist at once."""
    for start in range(0, ids.size(1), FEED_TOKENS):
        logits, _, state = model(ids[:, start:start + FEED_TOKENS], None, None, state=state)   # (B, <=FEED, V)
    return logits[:, -1].float(), state


def _leaves(state) -> list[torch.Tensor]:
    if state is None:
        return []
    if isinstance(state, torch.Tensor):
        return [state]
    return [leaf for part in state for leaf in _leaves(part)]


def batch_dims(model, state, device) -> list[int]:
    """Which dimension of each state tensor is the batch: read from ``init_state(1)`` against ``init_state(2)``,
    else the ``nn.RNN`` layout (layers, B, H) for 3-d tensors and dimension 0 otherwise."""
    leaves = _leaves(state)
    init = getattr(model, "init_state", None)
    if callable(init):
        one, two = _leaves(init(1, device)), _leaves(init(2, device))
        if len(one) == len(two) == len(leaves):
            dims = []
            for a, b in zip(one, two, strict=True):
                differ = [d for d in range(a.dim()) if a.shape[d] != b.shape[d]]
                if len(differ) != 1:
                    break
                dims.append(differ[0])
            else:
                return dims
    return [1 if leaf.dim() == 3 else 0 for leaf in leaves]


def select(state, dims: list[int], rows: torch.Tensor):
    """The state of the given batch rows (rows may repeat: one prompt state becomes several beams)."""
    order = iter(dims)

    def walk(part):
        if part is None:
            return None
        if isinstance(part, torch.Tensor):
            return part.index_select(next(order), rows)
        items = [walk(item) for item in part]
        return type(part)(*items) if hasattr(part, "_fields") else type(part)(items)

    return walk(state)


def _banned(vocab_size: int, device, stop_at_eos: bool) -> torch.Tensor:
    """A (V,) mask of the ids never emitted: pad, unk, bos, and eos too when generation does not stop there."""
    banned = torch.zeros(vocab_size, dtype=torch.bool, device=device)
    banned[list(NEVER_EMITTED)] = True
    if not stop_at_eos:
        banned[EOS_ID] = True
    if bool(banned.all()):
        raise TextrnnError("the vocabulary holds only special tokens: there is nothing to generate")
    return banned


# ----- generation -------------------------------------------------------------------------------------------------
def _choose(logits: torch.Tensor, config: GenerationConfig, generator: torch.Generator) -> int:
    """One next id from masked logits (V,): argmax, or a sample after temperature, top-k and top-p."""
    if config.temperature == 0:
        return int(logits.argmax())
    logits = logits / config.temperature
    if 0 < config.top_k < logits.numel():
        kth = torch.topk(logits, config.top_k).values[-1]
        logits = logits.masked_fill(logits < kth, NEG_INF)
    if config.top_p < 1.0:
        ordered, order = logits.sort(descending=True)
        probs = ordered.softmax(-1)
        above = probs.cumsum(-1) - probs            # the mass of the tokens ranked above each one
        logits = logits.index_fill(0, order[above >= config.top_p], NEG_INF)
    return int(torch.multinomial(logits.softmax(-1), 1, generator=generator))


def _sample(model, context: list[int], config: GenerationConfig, device) -> list[int]:
    generator = torch.Generator(device=device)
    if config.seed is None:
        generator.seed()
    else:
        generator.manual_seed(config.seed)
    logits, state = last_logits(model, torch.tensor([context], device=device), None)   # (1, V)
    banned = _banned(logits.size(-1), device, config.stop_at_eos)
    out: list[int] = []
    while True:
        token = _choose(logits[0].masked_fill(banned, NEG_INF), config, generator)
        if token == EOS_ID:   # reachable only with stop_at_eos: otherwise <eos> is banned
            return out
        out.append(token)
        if len(out) >= config.max_tokens:
            return out
        logits, state = last_logits(model, torch.tensor([[token]], device=device), state)


def _beam_search(model, context: list[int], config: GenerationConfig, device) -> list[int]:
    width = config.beam

    def normalised(total: float, length: int) -> float:
        return total / max(1, length)

    logits, state = last_logits(model, torch.tensor([context], device=device), None)   # (1, V)
    vocab_size = logits.size(-1)
    banned = _banned(vocab_size, device, config.stop_at_eos)
    dims = batch_dims(model, state, device)
    beams: list[list[int]] = [[]]
    scores = torch.zeros(1, dtype=torch.float64, device=device)
    finished: list[tuple[float, list[int]]] = []    # (normalised score, ids without the final <eos>)
    ran_out = True                                  # stopped by max_tokens (the live beams are candidates)
    for step in range(config.max_tokens):
        logprobs = F.log_softmax(logits, dim=-1).masked_fill(banned, NEG_INF)   # (k, V), the model's own values
        totals, index = (scores[:, None] + logprobs).view(-1).topk(min(2 * width, len(beams) * vocab_size))
        rows, tokens, kept = [], [], []
        for total, flat in zip(totals.tolist(), index.tolist(), strict=True):
            if total == NEG_INF:
                break
            row, token = divmod(flat, vocab_size)
            if token == EOS_ID:
                finished.append((normalised(total, len(beams[row]) + 1), beams[row]))
                continue
            rows.append(row)
            tokens.append(token)
            kept.append(total)
            if len(rows) == width:
                break
        if not rows:
            ran_out = False
            break
        beams = [beams[row] + [token] for row, token in zip(rows, tokens, strict=True)]
        scores = torch.tensor(kept, dtype=torch.float64, device=device)
        if len(finished) >= width:
            # Stop when the best live beam, scored now, is below the width-th best finished text (a heuristic: a
            # longer text could still climb, as in Hugging Face's default beam search).
            kth_best = sorted((f[0] for f in finished), reverse=True)[width - 1]
            if normalised(kept[0], len(beams[0])) < kth_best:
                ran_out = False
                break
        if step + 1 == config.max_tokens:
            break
        state = select(state, dims, torch.tensor(rows, device=device))
        logits, state = last_logits(model, torch.tensor(tokens, device=device)[:, None], state)
    candidates = list(finished)
    if ran_out:
        candidates += [(normalised(s, len(b)), b) for s, b in zip(scores.tolist(), beams, strict=True)]
    if not candidates:
        return []
    return max(candidates, key=lambda c: c[0])[1]


@torch.inference_mode()
def generate_ids(model, prompt_ids: Sequence[int], config: GenerationConfig | None = None,
                 start_id: int | None = EOS_ID) -> list[int]:
    """The ids that continue ``[start_id] + prompt_ids`` (without them, and without a final ``<eos>``).

    The context is fed once and the recurrent state carried, one model step per new id. ``start_id=None`` feeds
    the prompt alone (it must then not be empty). Raises TextrnnError when there is nothing to continue.
    """
    config = config or GenerationConfig()
    context = ([] if start_id is None else [int(start_id)]) + [int(i) for i in prompt_ids]
    if not context:
        raise TextrnnError("nothing to continue: give a prompt, or a start_id to generate from scratch")
    if config.max_tokens == 0:
        return []
    with evaluating(model) as device:
        if config.beam > 1:
            return _beam_search(model, context, config, device)
        return _sample(model, context, config, device)


def generate(model, tokenizer, vocab: Vocab, prompt: str = "", config: GenerationConfig | None = None,
             start_id: int | None = EOS_ID) -> str:
    """The text that continues ``prompt`` (not including it): ``prompt + generate(...)`` reads as one text.

    The new tokens are joined by ``tokenizer.detokenize`` (characters with nothing, words with spaces); for word and
    sentencepiece tokenizers the continuation starts with a space where the tokenizer would put one after the
    prompt. Unknown prompt tokens are fed as ``<unk>``. See GenerationConfig for the decoding settings.
    """
    tokens = tokenizer.tokenize(prompt or "")
    ids = [vocab.stoi.get(token, UNK_ID) for token in tokens]
    new_tokens = vocab.decode(generate_ids(model, ids, config, start_id))
    text = tokenizer.detokenize(new_tokens)
    return (" " if needs_space(prompt or "", new_tokens, tokenizer) else "") + text


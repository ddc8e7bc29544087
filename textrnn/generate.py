"""Language-model inference: sampling (temperature, top-k, top-p), beam search, sentence scoring and ranking, and
filling one blank (``___``) in a sentence.

Every function here takes a model with the language-model contract
``model(ids (B, T), lengths=None, targets=None, state=None) -> (logits (B, T, V), loss or None, state)`` and
``model.init_state(batch_size, device)``; the state is a tensor or a tuple of tensors. A prompt is fed once and its
state carried, one model step per new token. A text starts from a context id ``start_id``: ``<eos>`` for sentence
corpora, whose training lines are ``tokens + [<eos>]``, so the model has learned what follows an end of sentence.
"""
from __future__ import annotations

import contextlib
import math
import re
import unicodedata
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from textrnn.encode import pad
from textrnn.errors import ConfigError, TextrnnError
from textrnn.tokenize import WordTokenizer
from textrnn.vocab import BOS_ID, EOS, EOS_ID, PAD_ID, SPECIALS, UNK_ID, Vocab

NEVER_EMITTED = (PAD_ID, UNK_ID, BOS_ID)
BLANK_RE = re.compile(r"_{3,}")
# Logit values (rows x steps x vocabulary) computed in one scoring batch: 8M float32 values are 32 MB.
SCORE_CELLS = 1 << 23
# A fill is at most this many tokens unless told otherwise; characters need more of them for a word or two.
FILL_TOKENS = {"char": 24}
DEFAULT_FILL_TOKENS = 8
# A proposed fill must be followed by a new word, punctuation or <eos> with at least this probability.
MIN_END_PROBABILITY = 0.05
NEG_INF = float("-inf")


@dataclass
class GenerationConfig:
    """How to continue a text.

    ``temperature`` <= 0 is greedy decoding. ``top_k`` > 0 samples among the k likeliest tokens only; ``top_p`` < 1
    samples from the smallest set of tokens whose probability reaches p (nucleus sampling). ``beam`` > 1 runs beam
    search, which is deterministic (temperature, top-k and top-p are then unused) and picks the finished text with
    the best ``logprob / length ** length_penalty`` (1.0: mean log-probability per token, so long texts are not
    punished for being long; 0: total log-probability). ``seed`` makes sampling repeatable. With ``stop_at_eos``
    generation ends at ``<eos>``; without it ``<eos>`` is never emitted (a running text such as a play has no
    sentence ends). ``<pad>``, ``<unk>`` and ``<bos>`` are never emitted. Raises ConfigError for a bad value.
    """

    max_tokens: int = 100
    temperature: float = 1.0
    top_k: int = 0
    top_p: float = 1.0
    beam: int = 1
    seed: int | None = None
    stop_at_eos: bool = True
    length_penalty: float = 1.0

    def __post_init__(self):
        def integer(value) -> bool:
            return isinstance(value, int) and not isinstance(value, bool)

        def number(value) -> bool:
            return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)

        problems = {
            "max_tokens": integer(self.max_tokens) and self.max_tokens >= 0,
            "temperature": number(self.temperature),
            "top_k": integer(self.top_k) and self.top_k >= 0,
            "top_p": number(self.top_p) and 0 < self.top_p <= 1,
            "beam": integer(self.beam) and self.beam >= 1,
            "seed": self.seed is None or integer(self.seed),
            "length_penalty": number(self.length_penalty) and self.length_penalty >= 0,
        }
        wanted = {"max_tokens": "an integer >= 0", "temperature": "a number (0 or less = greedy)",
                  "top_k": "an integer >= 0 (0 = no limit)", "top_p": "a number in (0, 1]",
                  "beam": "an integer >= 1", "seed": "an integer or None", "length_penalty": "a number >= 0"}
        for key, ok in problems.items():
            if not ok:
                raise ConfigError(f"generation setting {key} must be {wanted[key]}, got {getattr(self, key)!r}")


# ----- model plumbing ---------------------------------------------------------------------------------------------
def _device(model) -> torch.device:
    """The device of the model's first parameter (CPU for a model without parameters)."""
    for tensor in model.parameters():
        return tensor.device
    return torch.device("cpu")


@contextlib.contextmanager
def _evaluating(model) -> Iterator[torch.device]:
    """Dropout off while inferring; the model's training flag is restored afterwards."""
    was_training = model.training
    model.eval()
    try:
        yield _device(model)
    finally:
        model.train(was_training)


def _last_logits(model, ids: torch.Tensor, state):
    """Feed ids (B, T) after ``state``; the logits (B, V) for the next token (float32) and the new state."""
    logits, _, state = model(ids, None, None, state=state)   # (B, T, V)
    return logits[:, -1].float(), state


def _leaves(state) -> list[torch.Tensor]:
    if state is None:
        return []
    if isinstance(state, torch.Tensor):
        return [state]
    return [leaf for part in state for leaf in _leaves(part)]


def _batch_dims(model, state, device) -> list[int]:
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


def _select(state, dims: list[int], rows: torch.Tensor):
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
    if config.temperature <= 0:
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
    logits, state = _last_logits(model, torch.tensor([context], device=device), None)   # (1, V)
    banned = _banned(logits.size(-1), device, config.stop_at_eos)
    out: list[int] = []
    while True:
        token = _choose(logits[0].masked_fill(banned, NEG_INF), config, generator)
        if token == EOS_ID:   # reachable only with stop_at_eos: otherwise <eos> is banned
            return out
        out.append(token)
        if len(out) >= config.max_tokens:
            return out
        logits, state = _last_logits(model, torch.tensor([[token]], device=device), state)


def _beam_search(model, context: list[int], config: GenerationConfig, device) -> list[int]:
    width = config.beam

    def normalised(total: float, length: int) -> float:
        return total / max(1, length) ** config.length_penalty

    logits, state = _last_logits(model, torch.tensor([context], device=device), None)   # (1, V)
    vocab_size = logits.size(-1)
    banned = _banned(vocab_size, device, config.stop_at_eos)
    dims = _batch_dims(model, state, device)
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
            # Stop when the best live beam, scored now, is below the width-th best finished text (a heuristic when
            # length_penalty > 0: a longer text could still climb, as in Hugging Face's default beam search).
            kth_best = sorted((f[0] for f in finished), reverse=True)[width - 1]
            if normalised(kept[0], len(beams[0])) < kth_best:
                ran_out = False
                break
        if step + 1 == config.max_tokens:
            break
        state = _select(state, dims, torch.tensor(rows, device=device))
        logits, state = _last_logits(model, torch.tensor(tokens, device=device)[:, None], state)
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
    with _evaluating(model) as device:
        if config.beam > 1:
            return _beam_search(model, context, config, device)
        return _sample(model, context, config, device)


def _needs_space(left: str, new_tokens: Sequence[str], tokenizer) -> bool:
    """Whether ``left`` and the text of ``new_tokens`` must be joined with a space, as the tokenizer would write."""
    if not left or left[-1].isspace() or not new_tokens:
        return False
    kind = getattr(tokenizer, "kind", "word")
    if kind == "char":
        return False
    if kind == "sentencepiece":
        return new_tokens[0].startswith("▁")   # decoding drops the leading space of the first piece
    left_tokens = tokenizer.tokenize(left)
    if not left_tokens:
        return False
    a, b = left_tokens[-1], new_tokens[0]
    return tokenizer.detokenize([a, b]) != a + b


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
    return (" " if _needs_space(prompt or "", new_tokens, tokenizer) else "") + text


# ----- scoring ----------------------------------------------------------------------------------------------------
def _sequence_logprobs(model, sequences: list[list[int]], vocab_size: int, device) -> list[list[float]]:
    """For each id sequence, the log-probability of every id after the first given the ids before it.

    Sequences are sorted by length and batched (right-padded, then masked) so that one batch's logits stay under
    SCORE_CELLS values.
    """
    out: list[list[float]] = [[] for _ in sequences]
    order = sorted((i for i, s in enumerate(sequences) if len(s) >= 2), key=lambda i: len(sequences[i]))
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
    with _evaluating(model) as device:
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


# ----- blanks -----------------------------------------------------------------------------------------------------
def parse_blank(text: str) -> tuple[str, str]:
    """Split a sentence on its one blank, written as three or more underscores: ``(before, after)``.

    A run of underscores is one blank however long it is; ``__`` is not a blank. Raises TextrnnError when the
    text has no blank or several.
    """
    if not isinstance(text, str):
        raise TypeError(f"parse_blank takes a string, got {type(text).__name__}")
    blanks = list(BLANK_RE.finditer(text))
    shown = repr(text if len(text) <= 80 else text[:77] + "...")
    if not blanks:
        raise TextrnnError(f"no blank in {shown}: write the missing part as ___ (three or more underscores)")
    if len(blanks) > 1:
        raise TextrnnError(f"{len(blanks)} blanks in {shown}: write exactly one ___ to fill")
    blank = blanks[0]
    return text[: blank.start()], text[blank.end():]


def word_start(token: str, tokenizer) -> bool:
    """Whether ``token`` opens a new word: every token of a word tokenizer; a sentencepiece piece beginning with
    ``▁``; for characters, whitespace (the space before a word opens it, as sentencepiece's ``▁`` does)."""
    kind = getattr(tokenizer, "kind", "word")
    if kind == "char":
        return token.isspace()
    if kind == "sentencepiece":
        return token.startswith("▁")
    return True


def _is_punctuation(token: str, kind: str) -> bool:
    text = token.lstrip("▁") if kind == "sentencepiece" else token
    return bool(text) and all(unicodedata.category(c).startswith("P") for c in text)


@dataclass
class _FillRules:
    """(V,) masks over the vocabulary for proposing fills."""

    first: torch.Tensor      # may open a fill
    inside: torch.Tensor     # may continue a fill
    boundary: torch.Tensor   # may follow a finished fill: a new word, punctuation, <eos>
    space: torch.Tensor      # whitespace inside a character fill (never two in a row)


def _fill_rules(vocab: Vocab, tokenizer, before: str, device) -> _FillRules:
    kind = getattr(tokenizer, "kind", "word")
    glued = bool(before) and not before[-1].isspace()   # the blank touches the word before it
    first, inside, boundary, space = [], [], [], []
    for i, token in enumerate(vocab.itos):
        special = i < len(SPECIALS)
        punctuation = _is_punctuation(token, kind)
        starts = word_start(token, tokenizer)
        if kind == "char":
            blank = token.isspace()
            ok = not special and not punctuation and (not blank or token == " ")
            first.append(ok and not blank)
            inside.append(ok)
            boundary.append(i == EOS_ID or (not special and (punctuation or blank)))
            space.append(blank)
        else:
            ok = not special and not punctuation
            first.append(ok and (starts or glued))
            inside.append(ok)
            boundary.append(i == EOS_ID or (not special and (punctuation or starts)) or i == UNK_ID)
            space.append(False)

    def mask(values: list[bool]) -> torch.Tensor:
        return torch.tensor(values, dtype=torch.bool, device=device)

    return _FillRules(mask(first), mask(inside), mask(boundary), mask(space))


def _readable(fill: str) -> bool:
    """A fill worth proposing: not empty, no space at either end, and no half of a character (sentencepiece byte
    pieces decode an incomplete UTF-8 sequence to U+FFFD) nor control characters."""
    return (bool(fill) and fill == fill.strip() and "\ufffd" not in fill
            and not any(unicodedata.category(c) == "Cc" for c in fill))


def _propose(model, tokenizer, vocab: Vocab, before: str, start_id: int | None, max_fill_tokens: int,
             width: int, device) -> list[tuple[float, float, str, list[str]]]:
    """Fills proposed by beam search after ``before``, best first: ``(approximate logprob, end logprob, text,
    tokens)``, where the end log-probability is that of a new word, punctuation or ``<eos>`` following the fill
    and the approximate logprob includes it. A fill is one or more whole words without punctuation. The caller
    rescores the proposals as whole sentences.
    """
    rules = _fill_rules(vocab, tokenizer, before, device)
    context = ([] if start_id is None else [int(start_id)])
    context += [vocab.stoi.get(t, UNK_ID) for t in tokenizer.tokenize(before)]
    if not context:
        raise TextrnnError("the blank opens the text and there is no start_id: nothing to predict the fill from")
    logits, state = _last_logits(model, torch.tensor([context], device=device), None)   # (1, V)
    vocab_size = logits.size(-1)
    if vocab_size != len(vocab):
        raise TextrnnError(f"the model predicts {vocab_size} tokens but the vocabulary has {len(vocab)}")
    dims = _batch_dims(model, state, device)
    beams: list[list[int]] = [[]]
    scores = torch.zeros(1, dtype=torch.float64, device=device)
    proposals: dict[str, tuple[float, float, str, list[str]]] = {}
    for step in range(max_fill_tokens + 1):
        logprobs = F.log_softmax(logits, dim=-1)                                        # (k, V)
        if step > 0:
            ends = torch.logsumexp(logprobs.masked_fill(~rules.boundary, NEG_INF), dim=-1)   # (k,)
            for ids, total, end in zip(beams, scores.tolist(), ends.tolist(), strict=True):
                tokens = vocab.decode(ids)
                text = tokenizer.detokenize(tokens)
                if _readable(text) and (text not in proposals or proposals[text][0] < total + end):
                    proposals[text] = (total + end, end, text, tokens)
        if step == max_fill_tokens:
            break
        allowed = (rules.first if step == 0 else rules.inside)[None, :].expand(len(beams), -1)
        if step > 0 and bool(rules.space.any()):
            after_space = rules.space[torch.tensor([b[-1] for b in beams], device=device)]
            allowed = allowed & ~(after_space[:, None] & rules.space[None, :])
        totals, index = (scores[:, None] + logprobs.masked_fill(~allowed, NEG_INF)).view(-1).topk(
            min(width, len(beams) * vocab_size))
        alive = totals > NEG_INF
        if not bool(alive.any()):
            break
        totals, index = totals[alive], index[alive]
        rows, tokens = index // vocab_size, index % vocab_size
        beams = [beams[r] + [t] for r, t in zip(rows.tolist(), tokens.tolist(), strict=True)]
        scores = totals
        state = _select(state, dims, rows)
        logits, state = _last_logits(model, tokens[:, None], state)
    return sorted(proposals.values(), key=lambda p: -p[0])


_WORDS = WordTokenizer(lower=True)


def _runs_into(fill: str, after_words: list[str]) -> bool:
    """Whether a fill of several words goes on, after its first word, with the words that follow the blank, so that
    the sentence would say them twice ("net ___ of $ N million" filled with "loss of" or "loss of $ N million or N
    cents"). A fill that is nothing but those words ("I think ___ that it works" filled with "that") is left for the
    scoring to judge."""
    words = _WORDS.tokenize(fill)
    for i in range(1, len(words)):
        k = min(len(after_words), len(words) - i)
        if k and words[i:i + k] == after_words[:k]:
            return True
    return False


def _softmax(values: list[float]) -> list[float]:
    if not values:
        return []
    top = max(values)
    if top == NEG_INF:
        return [1.0 / len(values)] * len(values)
    weights = [math.exp(v - top) for v in values]
    total = sum(weights)
    return [w / total for w in weights]


@torch.inference_mode()
def complete(model, tokenizer, vocab: Vocab, text: str, candidates: Sequence[str] | None = None, top: int = 3,
             start_id: int | None = EOS_ID, max_fill_tokens: int | None = None, beam: int = 8,
             add_eos: bool = True) -> dict:
    """Fill the one blank (``___``) in ``text``: ``{"text", "fills": [{"fill", "sentence", "logprob",
    "probability", "unknown"}, ...]}``, best first.

    With ``candidates``, each is put in the blank as written and the WHOLE sentence (before + fill + after, so the
    words after the blank count, and ``<eos>`` with ``add_eos``) is scored; every candidate is returned, and
    ``probability`` is the softmax of the candidates' total log-probabilities. Without candidates the model
    proposes fills: beam search (``beam`` wide) from the text before the blank over up to ``max_fill_tokens``
    tokens (default 8, 24 for character tokenizers), a fill being one or more whole words that never crosses
    punctuation or ``<eos>`` (a new word starts with ``▁`` for sentencepiece and after a space for characters;
    every word token is a word). A blank that ends the sentence (nothing but punctuation after it) thus takes
    fills up to where the model puts punctuation or ends the sentence. Proposals after which the model gives a
    word end less than MIN_END_PROBABILITY are dropped as half words, and so are fills of several words that run on
    into the words after the blank ("loss of" for "a net ___ of $ N million"), unless none is left. Each proposal is
    rescored as a whole sentence with the text after the blank; the ``top`` best are returned (fewer when fewer
    are plausible), ``probability`` normalised over all rescored proposals.

    Raises TextrnnError for a text without exactly one blank, or an empty candidate list.
    """
    before, after = parse_blank(text)
    kind = getattr(tokenizer, "kind", "word")
    if candidates is not None:
        fills = list(dict.fromkeys(str(c) for c in candidates))
        if not fills:
            raise TextrnnError("no candidates to rank: give at least one fill, or none to let the model propose")
        sentences = [before + fill + after for fill in fills]
    else:
        if top < 1 or beam < 1:
            raise ConfigError(f"complete needs top >= 1 and beam >= 1, got top={top}, beam={beam}")
        limit = max_fill_tokens if max_fill_tokens is not None else FILL_TOKENS.get(kind, DEFAULT_FILL_TOKENS)
        if limit < 1:
            raise ConfigError(f"max_fill_tokens must be at least 1, got {limit}")
        with _evaluating(model) as device:
            proposals = _propose(model, tokenizer, vocab, before, start_id, limit, beam, device)
        after_words = _WORDS.tokenize(after)
        proposals = [p for p in proposals if not _runs_into(p[2], after_words)] or proposals[:1]
        # A fill after which the model hardly ever ends a word is most likely half a word ("먹" of "먹었다").
        plausible = [p for p in proposals if p[1] >= math.log(MIN_END_PROBABILITY)] or proposals[:1]
        plausible = plausible[: max(beam, 3 * top)]
        fills = [fill for _, _, fill, _ in plausible]
        sentences = [before + (" " if _needs_space(before, tokens, tokenizer) else "") + fill + after
                     for _, _, fill, tokens in plausible]
    results = score(model, tokenizer, vocab, sentences, start_id=start_id, add_eos=add_eos)
    probabilities = _softmax([r["logprob"] for r in results])
    entries = [{"fill": fill, "sentence": sentence, "logprob": r["logprob"], "probability": p,
                "unknown": r["unknown"]}
               for fill, sentence, r, p in zip(fills, sentences, results, probabilities, strict=True)]
    entries.sort(key=lambda e: -e["logprob"])
    if candidates is None:
        entries = entries[:top]
    return {"text": text, "fills": entries}

"""Next token: language models trained on one long stream with truncated backpropagation through time; they
generate (``sampling.py``), score (``scoring.py``) and fill blanks (``fill.py``).

Line corpora (sentences, reviews) become ``tokens + [<eos>]`` per line, so ``<eos>`` is also the context a new
sentence starts from; a single running text (tiny Shakespeare) is one stream of characters.
"""
from __future__ import annotations

import math
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from textrnn.encode import Batch, lm_streams, lm_windows
from textrnn.errors import ConfigError
from textrnn.models.lm import LanguageModel, LMConfig
from textrnn.models.traceable import GraphSpec, LMStepGraph
from textrnn.tasks.base import Built, Task, build_from_texts, nonempty
from textrnn.tasks.lm.fill import complete as fill_blank
from textrnn.tasks.lm.sampling import NEVER_EMITTED, GenerationConfig
from textrnn.tasks.lm.sampling import generate as sample
from textrnn.tasks.lm.scoring import score as score_sentences
from textrnn.train import TaskLoop, TrainConfig
from textrnn.vocab import EOS_ID

EVAL_ROWS = 10


FILL_SCORES = ("sentence", "pmi")


@dataclass
class LMSettings:
    bptt: int = 70                   # window width of truncated backpropagation through time
    eos_per_example: bool = True     # each line ends with <eos>; False for one running text (tiny Shakespeare)
    start: str = ""                  # the context a new text starts from: "" means <eos>; else a token ("\n")
    mixture: dict = field(default_factory=dict)   # lines of a source (a corpus file's name, or a data.extra part)
                                     # read this many times an epoch (0.3: a seeded 30% of them each epoch; 2: twice);
                                     # a source not named reads once. The lines are shuffled each epoch
    fill_score: str = "sentence"     # how complete ranks given candidates: "sentence" (the whole sentence's
                                     # log-probability) or "pmi" (minus the fill's own log-probability as a text, so a
                                     # frequent word is not preferred for being frequent: Holtzman et al. 2021)


@dataclass
class Encoded:
    ids: np.ndarray      # one stream of ids, the lines in order
    characters: int      # characters of text behind the stream (for per-character figures)
    ends: np.ndarray | None = None      # where each line ends in ``ids`` (for lm.mixture)
    sources: list[str] | None = None    # each line's source (for lm.mixture)

    def __len__(self) -> int:
        return len(self.ids)

    def epoch_stream(self, mixture: dict[str, float], seed: int) -> np.ndarray:
        """The lines of one epoch by the mixture's rates, shuffled with ``seed``, as one stream."""
        rng = np.random.default_rng(seed)
        starts = np.concatenate([[0], self.ends[:-1]])
        rates = np.asarray([float(mixture.get(source, 1.0)) for source in self.sources])
        copies = np.floor(rates).astype(np.int64) + (rng.random(len(rates)) < rates - np.floor(rates))
        lines = rng.permutation(np.repeat(np.arange(len(rates)), copies))
        return np.concatenate([self.ids[starts[i]:self.ends[i]] for i in lines]) if len(lines) else self.ids[:0]


def build(config, examples, corpus, extra_texts: list[str], quiet: bool) -> Built:
    tokenizer, vocab, token_lists, extra_lists = build_from_texts(config, examples, extra_texts)
    return Built({"tokenizer": tokenizer, "vocab": vocab}, token_lists, extra_lists)


def make_model(config: LMConfig, parts: dict) -> torch.nn.Module:
    return LanguageModel(config, len(parts["vocab"]))


def encode(pipe, examples, with_labels: bool = True, where: str = "") -> Encoded:
    eos = pipe.settings.eos_per_example
    parts, characters = [], 0
    for example in examples:
        text = example.text or ""
        ids = pipe.text_ids(text)
        parts.append(np.asarray(ids + [EOS_ID] if eos else ids, dtype=np.int64))
        characters += len(text) + (1 if eos else 0)
    stream = np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)
    if not pipe.settings.mixture:
        return Encoded(stream, characters)
    sources = [str((e.meta or {}).get("source", "")) for e in examples]
    return Encoded(stream, characters, np.cumsum([len(p) for p in parts]), sources)


def loop(pipe, train: Encoded, valid: Encoded | None, config: TrainConfig) -> TaskLoop:
    bptt, mixture = pipe.settings.bptt, pipe.settings.mixture
    if bptt < 1:
        raise ConfigError(f"lm.bptt must be at least 1, got {bptt}")
    if pipe.settings.fill_score not in FILL_SCORES:
        raise ConfigError(f"lm.fill_score must be one of {', '.join(FILL_SCORES)}, got {pipe.settings.fill_score!r}")
    if mixture:
        unknown = sorted(set(mixture) - set(train.sources or ()))
        if unknown or not all(isinstance(r, (int, float)) and r >= 0 for r in mixture.values()):
            raise ConfigError(f"lm.mixture names sources the train lines do not have ({', '.join(unknown)}) or a "
                              f"rate below 0; its sources are {', '.join(sorted(set(train.sources or ())))}")

    def batches(epoch: int) -> list[Batch]:
        ids = train.epoch_stream(mixture, config.seed * 1000 + epoch) if mixture else train.ids
        # A different start each epoch moves the window boundaries, so no token is always the first of a window.
        offset = (config.seed * 7919 + epoch * 31) % bptt if epoch else 0
        streams = lm_streams(ids[offset:], config.batch_size)
        return [Batch(ids=x, targets=y, lengths=None) for x, y in lm_windows(streams, bptt)]

    def step(model, batch, carry):
        state = LanguageModel.detach_state(carry)
        _, loss, state = model(batch.ids, None, batch.targets, state=state)
        return loss, state

    return TaskLoop(batches=batches, step=step,
                    evaluate=None if valid is None else lambda model: evaluate(pipe, valid, model=model))


@torch.inference_mode()
def evaluate(pipe, encoded: Encoded, model=None) -> dict:
    """Loss in nats per token over the whole stream, perplexity, and per-character figures."""
    model = model or pipe.model
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    bptt = pipe.settings.bptt
    rows = max(1, min(EVAL_ROWS, len(encoded.ids) // (bptt + 1)))
    state, total, count = None, 0.0, 0
    for x, y in lm_windows(lm_streams(encoded.ids, rows), bptt):
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
    return {"task": "lm", "n": count, "loss": loss, "perplexity": math.exp(min(loss, 50.0)),
            "nll_per_char": nll_per_char, "bits_per_char": nll_per_char / math.log(2)}


# ----- commands ---------------------------------------------------------------------------------------------------
def generate(pipe, prompt: str = "", max_tokens: int = 100, temperature: float = 1.0, top_k: int = 0,
             top_p: float = 1.0, beam: int = 1, seed: int | None = None) -> str:
    """The continuation of ``prompt`` (not including it); see GenerationConfig for the settings."""
    settings = GenerationConfig(max_tokens=max_tokens, temperature=temperature, top_k=top_k, top_p=top_p,
                                beam=beam, seed=seed, stop_at_eos=pipe.settings.eos_per_example)
    return sample(pipe.model, pipe.tokenizer, pipe.vocab, prompt, settings, start_id=pipe.start_id())


def score(pipe, sentences) -> list[dict]:
    """Log-probability, perplexity, per-token log-probabilities and unknown tokens, in the input order; an empty
    sentence is a DataError (it would score as the end of a text alone)."""
    if isinstance(sentences, str):
        raise TypeError("score takes a list of sentences; wrap a single sentence in a list")
    return score_sentences(pipe.model, pipe.tokenizer, pipe.vocab, nonempty(sentences, "sentence"),
                           start_id=pipe.start_id(), add_eos=pipe.settings.eos_per_example)


def complete(pipe, text: str, candidates: list[str] | None = None, top: int = 3) -> dict:
    """Fill the one blank (``___``) in ``text``: rank ``candidates`` (by ``lm.fill_score``) or propose the ``top``
    fills."""
    return fill_blank(pipe.model, pipe.tokenizer, pipe.vocab, text, candidates=candidates, top=top,
                      start_id=pipe.start_id(), add_eos=pipe.settings.eos_per_example,
                      pmi=pipe.settings.fill_score == "pmi")


def report(pipe, corpus, valid: Encoded, out_dir: Path, samples: list[str], quiet: bool) -> dict:
    """A recipe run's samples: each prompt continued at temperature 0.8, printed and kept in samples.txt."""
    from textrnn.fileio import atomic_write

    # one seed per prompt: with one seed, prompts that end alike ("ROMEO:\n", "First Citizen:\n") draw the same
    # random numbers from near-equal distributions and can print the very same sample
    length = 200 if pipe.config.tokenizer.kind == "char" else 40
    made = [{"prompt": p, "text": generate(pipe, p, max_tokens=length, temperature=0.8, seed=i)}
            for i, p in enumerate(samples or [""])]
    text = "\n\n".join(f"[{s['prompt']}]{s['text']}" for s in made)
    atomic_write(out_dir / "samples.txt", lambda tmp: tmp.write_text(text + "\n", encoding="utf-8"))
    if not quiet:
        for s in made:
            print(f"--- sample ({s['prompt']!r}):\n{s['prompt']}{s['text']}", file=sys.stderr)
    return {"samples": made}


def graph(pipe) -> GraphSpec:
    """One step: ``ids`` (batch, steps) and the state ``h`` [, ``c``] (layers, batch, hidden) -> ``logits`` (batch,
    steps, vocabulary) and the state after the last step (a prompt in one call, then a token per call)."""
    module = LMStepGraph(pipe.model)
    rnn = pipe.model.rnn
    state = ["h", "c"] if module.lstm else ["h"]

    def inputs(rng, batch, steps, width):
        made = {"ids": rng.integers(4, max(5, len(pipe.vocab)), size=(batch, steps)).astype(np.int64)}
        for name in state:
            made[name] = rng.normal(0, 0.5, size=(rnn.num_layers, batch, rnn.hidden_dim)).astype(np.float32)
        return made

    dynamic = {"ids": {0: "batch", 1: "steps"}, **{name: {1: "batch"} for name in state}}
    axes = {"logits": ["batch", "steps", len(pipe.vocab)],
            **{f"{name}_out": [rnn.num_layers, "batch", rnn.hidden_dim] for name in state}}
    settings = {"start_id": pipe.start_id(), "stop_at_eos": pipe.settings.eos_per_example,
                "never_emitted": list(NEVER_EMITTED), "state_layers": rnn.num_layers, "state_dim": rnn.hidden_dim,
                "state": state}
    return GraphSpec(module, ["ids", *state], ["logits", *(f"{n}_out" for n in state)], dynamic, axes, inputs,
                     settings=settings)


TASK = Task(
    name="lm", model_config=LMConfig, build=build, make_model=make_model, encode=encode, loop=loop,
    evaluate=evaluate, settings=LMSettings, commands={"generate": generate, "score": score, "complete": complete},
    files=frozenset({"vocab.json", "spm.model"}), report=report, graph=graph,
    defaults={"model": {"cell": "lstm", "hidden_dim": 256, "num_layers": 2, "dropout": 0.2},
              "vocab": {"min_freq": 2, "max_size": 30000},
              "train": {"epochs": 10, "batch_size": 32, "lr": 0.002, "early_stopping": 2}},
)

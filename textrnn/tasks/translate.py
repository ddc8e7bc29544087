"""Many-to-many 2: a sentence in -> a sentence out (translation), the course's encoder-decoder.

Each side has its tokenizer and vocabulary (one sentencepiece model for both with ``translate.joint``), built from
the train pairs. The model is ``models/seq2seq.py``'s; decoding is ``search.py``'s greedy and beam search; the
figures are sacreBLEU's BLEU (cased, and lower-cased) and chrF on detokenized output, and the perplexity of the
references.
"""
from __future__ import annotations

import math
import sys
from dataclasses import dataclass
from pathlib import Path

import torch

from textrnn.config import from_dict
from textrnn.errors import ConfigError, DataError, ExportError
from textrnn.models.seq2seq import Seq2Seq, Seq2SeqConfig, decoder_inputs
from textrnn.parallel import pair_batches, translation_memory
from textrnn.search import Translation, beam_search, greedy
from textrnn.tasks.base import Built, Task, nonempty
from textrnn.tokenize import SentencePieceTokenizer, build_tokenizer, clean_text
from textrnn.train import TaskLoop, TrainConfig
from textrnn.vocab import Vocab


@dataclass
class TranslateSettings:
    joint: bool = True               # sentencepiece: one model of both languages' text (shared pieces such as names)
    target_seen_only: bool = True    # joint: the target vocabulary holds only the pieces seen in train targets, so
                                     # the output layer skips the source language's
    max_length: int = 0              # train pairs with a side longer than this many tokens are left out; 0 = none
    beam: int = 5                    # translate's default beam (1: greedy)
    alpha: float = 0.6               # GNMT's length penalty in beam search
    max_len_a: float = 1.5           # a translation holds at most a * source length + b tokens
    max_len_b: float = 5.0
    valid_beam: int = 1              # the beam of each epoch's validation BLEU (1: greedy, the cheap one)
    batch_size: int = 128            # sentences decoded together


@dataclass
class Encoded:
    sources: list[list[int]]
    targets: list[list[int]] | None      # None at translation time
    references: list[str] | None = None  # the target sentences as written, for BLEU and chrF

    def __len__(self) -> int:
        return len(self.sources)


# ----- building ---------------------------------------------------------------------------------------------------
def build(config, examples, corpus, extra_texts: list[str], quiet: bool) -> Built:
    if any(e.target is None for e in examples):
        raise DataError("translate: every train example needs a target sentence (Example.target)")
    settings = from_dict(TranslateSettings, config.settings, "translate")
    strip = config.encode.strip_html   # every text as encode reads it (pipe.clean)
    sources = [clean_text(e.text or "", strip) for e in examples]
    targets = [clean_text(e.target, strip) for e in examples]
    kind = config.tokenizer.kind
    joint = kind == "sentencepiece" and settings.joint
    word2vec = (config.model.get("embedding") or {}).get("kind") == "word2vec"
    if word2vec and kind == "sentencepiece" and not joint:
        raise ConfigError("model.embedding.kind = 'word2vec' over two sentencepiece models would give one piece two "
                          "meanings; set translate.joint = true (one model of both languages)")
    if joint:
        shared = build_tokenizer(config.tokenizer, sources + targets)
        target_vocab = (Vocab.build([shared.tokenize(t) for t in targets]) if settings.target_seen_only
                        else shared.vocab())
        parts = {"source_tokenizer": shared, "target_tokenizer": shared, "source_vocab": shared.vocab(),
                 "target_vocab": target_vocab}
    else:
        parts = {}
        for side, texts in (("source", sources), ("target", targets)):
            tokenizer = build_tokenizer(config.tokenizer, texts)
            parts[f"{side}_tokenizer"] = tokenizer
            parts[f"{side}_vocab"] = (tokenizer.vocab() if isinstance(tokenizer, SentencePieceTokenizer) else
                                      Vocab.build([tokenizer.tokenize(t) for t in texts], min_freq=config.vocab.min_freq,
                                                  max_size=config.vocab.max_size))
    if not word2vec:
        return Built(parts)
    # one skip-gram over both sides' tokens and data.extra's monolingual texts of either language (a word or
    # character tokenizer splits every language alike, so the source's splits them)
    source_tokenizer, target_tokenizer = parts["source_tokenizer"], parts["target_tokenizer"]
    token_lists = [source_tokenizer.tokenize(text) for text in sources] + [target_tokenizer.tokenize(t) for t in targets]
    return Built(parts, token_lists, [source_tokenizer.tokenize(clean_text(text, strip)) for text in extra_texts])


def word_tables(pipe) -> list:
    """What word2vec fills: the source embedding by the source vocabulary, the target one (the output layer too,
    when tied) by the target's."""
    return [("source", pipe.parts["source_vocab"], [pipe.model.src_embedding]),
            ("target", pipe.parts["target_vocab"], [pipe.model.tgt_embedding])]


def make_model(config: Seq2SeqConfig, parts: dict) -> torch.nn.Module:
    return Seq2Seq(config, len(parts["source_vocab"]), len(parts["target_vocab"]))


def _ids(pipe, side: str, texts: list[str]) -> list[list[int]]:
    tokenizer, vocab = pipe.parts[f"{side}_tokenizer"], pipe.parts[f"{side}_vocab"]
    return [vocab.encode(tokenizer.tokenize(pipe.clean(text))) for text in texts]


def encode(pipe, examples, with_labels: bool = True, where: str = "") -> Encoded:
    sources = _ids(pipe, "source", [e.text or "" for e in examples])
    if not with_labels:
        return Encoded(sources, None)
    missing = next((e for e in examples if e.target is None), None)
    if missing is not None:
        raise DataError(f"{where or 'data'}:{missing.meta.get('line', '?')}: no target sentence; a translation pair "
                        "needs both sides")
    targets = [e.target for e in examples]
    return Encoded(sources, _ids(pipe, "target", targets), targets)


# ----- training and evaluation ------------------------------------------------------------------------------------
def loop(pipe, train: Encoded, valid: Encoded | None, config: TrainConfig) -> TaskLoop:
    limit = pipe.settings.max_length
    kept = [i for i in range(len(train)) if not limit or max(len(train.sources[i]), len(train.targets[i])) <= limit]
    sources, targets = [train.sources[i] for i in kept], [train.targets[i] for i in kept]

    def step(model, batch, carry):
        _, loss = model(batch.ids, batch.lengths, decoder_inputs(batch.targets), batch.targets)
        return loss, None

    return TaskLoop(batches=lambda epoch: pair_batches(sources, targets, config.batch_size, shuffle=True,
                                                       seed=config.seed * 1000 + epoch),
                    step=step, evaluate=None if valid is None else
                    lambda model: evaluate(pipe, valid, model=model, beam=pipe.settings.valid_beam))


@torch.inference_mode()
def _nll(model, encoded: Encoded, device) -> tuple[float, int]:
    """Summed negative log-likelihood of the references (nats, no smoothing) and their tokens (<eos> included)."""
    total, count = 0.0, 0
    for batch in pair_batches(encoded.sources, encoded.targets, 128, shuffle=False):
        batch = batch.to(device)
        logits, _ = model(batch.ids, batch.lengths, decoder_inputs(batch.targets))
        total += float(torch.nn.functional.cross_entropy(logits.float().flatten(0, 1), batch.targets.flatten(),
                                                         ignore_index=0, reduction="sum"))
        count += int((batch.targets != 0).sum())
    return total, count


def decode(pipe, sources: list[list[int]], beam: int, model=None) -> list[Translation]:
    """The translations of id lists, in order, decoded in batches of similar length."""
    model = model or pipe.model
    device = next(model.parameters()).device
    settings = pipe.settings
    out: list[Translation | None] = [None] * len(sources)
    order = sorted(range(len(sources)), key=lambda i: len(sources[i]))
    for start in range(0, len(order), settings.batch_size):
        chunk = order[start:start + settings.batch_size]
        batch = pair_batches([sources[i] for i in chunk], [[] for _ in chunk], len(chunk), shuffle=False)[0]
        ids = batch.ids.to(device)
        found = (beam_search(model, ids, batch.lengths, beam, settings.alpha, settings.max_len_a, settings.max_len_b)
                 if beam > 1 else greedy(model, ids, batch.lengths, settings.max_len_a, settings.max_len_b))
        for position, translation in zip(batch.index, found, strict=True):
            out[chunk[position]] = translation
    return out


def detokenize(pipe, translation: Translation) -> str:
    return pipe.parts["target_tokenizer"].detokenize(pipe.parts["target_vocab"].decode(translation.ids,
                                                                                       skip_special=True))


def evaluate(pipe, encoded: Encoded, model=None, beam: int | None = None) -> dict:
    """BLEU (cased, and lower-cased) and chrF of the translations (``beam``: the translate default), and the
    perplexity of the references."""
    from textrnn.metrics import translation_report

    model = model or pipe.model
    was_training = model.training
    model.eval()
    total, count = _nll(model, encoded, next(model.parameters()).device)
    found = decode(pipe, encoded.sources, pipe.settings.beam if beam is None else beam, model)
    model.train(was_training)
    loss = total / max(1, count)
    hypotheses = [detokenize(pipe, t) for t in found]
    return {"task": "translate", "n": len(encoded), "loss": loss, "perplexity": math.exp(min(loss, 50.0)),
            **translation_report(hypotheses, encoded.references)}


# ----- inference --------------------------------------------------------------------------------------------------
def translate(pipe, texts, beam: int | None = None, attention: bool = False) -> list[dict]:
    """Translations of ``texts``: ``[{"source", "translation", "logprob"}]`` (``beam``: the run's default; 1 is
    greedy), with ``attention`` also the weights (one row per output token and <eos>) and both sides' tokens. An
    empty text translates to an empty sentence."""
    beam = pipe.settings.beam if beam is None else beam
    if beam < 1:
        raise ConfigError(f"translate needs beam >= 1, got {beam}")
    texts = list(texts)
    sources = _ids(pipe, "source", texts)
    results = []
    for text, ids, found in zip(texts, sources, decode(pipe, sources, beam), strict=True):
        result = {"source": text, "translation": detokenize(pipe, found), "logprob": found.logprob}
        if attention:
            result["source_tokens"] = pipe.parts["source_vocab"].decode(ids)
            result["target_tokens"] = pipe.parts["target_vocab"].decode(found.ids) + ["<eos>"]
            result["attention"] = found.attention.tolist()
        results.append(result)
    return results


def report(pipe, corpus, valid: Encoded, out_dir: Path, samples: list[str], quiet: bool) -> dict:
    """A recipe run's attention heat map (the first sample, or validation sentence), a few translations, and the
    translation-memory baseline on the validation pairs."""
    from textrnn.plots import plot_attention

    texts = samples or [pipe.parts["source_tokenizer"].detokenize(pipe.parts["source_vocab"].decode(s))
                        for s in valid.sources[:3]]
    shown = translate(pipe, nonempty(texts), attention=True)
    first = shown[0]
    if first["target_tokens"] and first["source_tokens"]:
        plot_attention(first["attention"], first["source_tokens"], first["target_tokens"], out_dir / "attention.png",
                       title=first["source"][:60])
    if not quiet:
        for s in shown:
            print(f"  {s['source']}\n    -> {s['translation']}", file=sys.stderr)
    return {"samples": [{"source": s["source"], "translation": s["translation"]} for s in shown],
            "baseline": {"what": "translation memory (the nearest train source by character n-grams)", "n": len(valid),
                         **baseline(corpus.train, corpus.valid)}}


def baseline(train_examples, valid_examples) -> dict:
    """The translation-memory baseline on the validation pairs: each source gets the target of the train pair whose
    source is nearest by character n-grams (``parallel.translation_memory``)."""
    from textrnn.metrics import translation_report

    guesses = translation_memory([e.text for e in valid_examples], [e.text for e in train_examples],
                                 [e.target for e in train_examples])
    return translation_report(guesses, [e.target for e in valid_examples])


def evaluate_file(pipe, path: Path, target: Path | None = None) -> dict:
    """The metrics on a file of pairs: two aligned line files (``path`` the source, ``target``), or a TSV of source
    and target columns."""
    from textrnn.corpus import read_line_pairs, read_tsv_pairs

    examples = read_line_pairs(path, target) if target is not None else read_tsv_pairs(path)
    return pipe.evaluate(examples, where=str(path))


def graph(pipe):
    """Refused: the searches run a decoder step at a time in PyTorch, which an exported graph does not hold."""
    raise ExportError("cannot export a translate run: its greedy and beam searches run one decoder step at a time "
                      "over the encoder's memory in PyTorch, which the export has no graph for; serve it with "
                      "'textrnn serve' instead")


TASK = Task(
    name="translate", model_config=Seq2SeqConfig, build=build, make_model=make_model, encode=encode, loop=loop,
    evaluate=evaluate, settings=TranslateSettings, commands={"translate": translate}, report=report,
    evaluate_file=evaluate_file, graph=graph, word_tables=word_tables,
    files=frozenset({"source_vocab.json", "target_vocab.json", "source_spm.model", "target_spm.model"}),
    defaults={"tokenizer": {"kind": "sentencepiece", "vocab_size": 8000},
              "model": {"cell": "gru", "hidden_dim": 256, "src_embed_dim": 256, "tgt_embed_dim": 256},
              "train": {"epochs": 10, "batch_size": 64, "lr": 0.001, "schedule": "cosine", "monitor": "bleu"}},
)

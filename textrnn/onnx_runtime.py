"""A run exported by ``textrnn export`` (``textrnn.export``), run with numpy and onnxruntime alone: no torch import.

    from textrnn import onnx_runtime
    model = onnx_runtime.load("exports/reuters")
    model.predict(["crude oil prices rose"], top=3)        # classify: DESIGN.md's predict objects
    model.tag(["Teddy Roosevelt visited Paris"])           # tag: tokens, tags, entities with character offsets
    model.generate("the market", max_tokens=30, seed=1)    # lm: the continuation, as Pipeline.generate
    model.regress(windows)                                 # regress: the model's predictions for (N, T, F) inputs

Text becomes ids exactly as in the pipeline (the same tokenizer, vocabulary and ``textrnn.textual`` steps, the parts
read by ``runfiles.read_parts``), so the answers are the pipeline's up to float rounding (the export was checked to
1e-4). Greedy generation (``temperature=0``) gives the pipeline's text; sampling draws from the same distribution
with numpy's generator, so a seed repeats its own text but not torch's; beam search is the pipeline's only. A CRF
tagger's Viterbi runs here in numpy over the scores in ``export.json``.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np

from textrnn.errors import ConfigError, PipelineError, TextrnnError
from textrnn.export import EXPORT_FORMAT_VERSION, GRAPH, MANIFEST
from textrnn.runfiles import read_parts
from textrnn.tasks.base import nonempty
from textrnn.textual import (
    TAG_WINDOW,
    GenerationConfig,
    casing_ids,
    char_ids,
    entities,
    needs_space,
    normalize,
    pad_ids,
    truncate,
    windows,
    written_spans,
)
from textrnn.tokenize import clean_text
from textrnn.vocab import EOS_ID, UNK_ID


def _read_json(path: Path):
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise PipelineError(f"{path}: missing; {path.parent} is not a textrnn export (make one with 'textrnn "
                            "export RUN --format onnx --out DIR')") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise PipelineError(f"{path}: not valid JSON ({error}); export the run again") from None


def viterbi(scores: np.ndarray, lengths: np.ndarray, transitions: np.ndarray, start: np.ndarray,
            end: np.ndarray) -> list[list[int]]:
    """The best tag path per row (``CRF.viterbi``): emissions (B, T, C), lengths (B,) >= 1."""
    batch, steps, tags = scores.shape
    score = start[None, :] + scores[:, 0]                                     # (B, C)
    stay = np.broadcast_to(np.arange(tags), (batch, tags))
    pointers = []
    for t in range(1, steps):
        total = score[:, :, None] + transitions[None]                         # (B, from, to)
        best, previous = total.max(1), total.argmax(1)
        keep = (t < lengths)[:, None]
        score = np.where(keep, best + scores[:, t], score)
        pointers.append(np.where(keep, previous, stay))                       # padded steps point to themselves
    tag = (score + end[None, :]).argmax(1)
    path = [tag]
    rows = np.arange(batch)
    for previous in reversed(pointers):
        tag = previous[rows, tag]
        path.append(tag)
    path = np.stack(path[::-1], 1)                                            # (B, T)
    return [row[:length].tolist() for row, length in zip(path, lengths.tolist(), strict=True)]


class OnnxPipeline:
    """An exported run: its graph in an onnxruntime session, its config.json (``config``) and its parts."""

    def __init__(self, folder: Path, manifest: dict, config: dict, session, parts: dict):
        self.folder, self.manifest, self.config, self.session, self.parts = folder, manifest, config, session, parts
        self.task = manifest["task"]
        self.settings = manifest.get("settings", {})
        self.input_names = list(manifest["inputs"])
        self.output_names = list(manifest["outputs"])

    @property
    def tokenizer(self):
        return self.parts.get("tokenizer")

    @property
    def vocab(self):
        return self.parts.get("vocab")

    @property
    def labels(self):
        return self.parts.get("labels")

    def _require(self, task: str, method: str) -> None:
        if self.task != task:
            raise PipelineError(f"'{method}' needs an exported {task} run, but {self.folder} holds a {self.task} run")

    def _ids(self, text: str) -> list[int]:
        strip = bool(self.config.get("encode", {}).get("strip_html"))
        return self.vocab.encode(self.tokenizer.tokenize(clean_text(text or "", strip)))

    # ----- classify -----------------------------------------------------------------------------------------------
    def predict(self, texts, top: int = 1, batch_size: int = 256) -> list[dict]:
        """Labels with probabilities, as ``Pipeline.predict``: ``[{"text", "label", "probability", "top"}]``.
        Raises ConfigError for ``top`` or ``batch_size`` below 1, DataError for an empty text."""
        self._require("classify", "predict")
        if top < 1 or batch_size < 1:
            raise ConfigError(f"predict needs top >= 1 and batch_size >= 1, got top={top}, batch_size={batch_size}")
        texts = nonempty(texts)
        encode = self.config.get("encode", {})
        rows = [truncate(self._ids(t), encode.get("max_len"), encode.get("truncate", "head"))
                [: self.settings["predict_max_tokens"]] for t in texts]
        probabilities = np.zeros((len(texts), len(self.labels)), dtype=np.float32)
        order = sorted(range(len(rows)), key=lambda i: len(rows[i]))
        for at in range(0, len(order), batch_size):
            index = order[at:at + batch_size]
            ids, lengths = pad_ids([rows[i] for i in index])
            probabilities[index] = self.session.run(["probabilities"], {"ids": ids, "lengths": lengths})[0]
        results = []
        for text, row in zip(texts, probabilities, strict=True):
            ranked = [{"label": self.labels.itos[i], "probability": float(row[i])} for i in row.argsort()[::-1][:top]]
            results.append({"text": text, "label": ranked[0]["label"], "probability": ranked[0]["probability"],
                            "top": ranked})
        return results

    # ----- tag ------------------------------------------------------------------------------------------------------
    def tag(self, texts, batch_size: int = 64) -> list[dict]:
        """Tokens, tags and entity spans with character offsets, as ``Pipeline.tag`` (a long text in windows of at
        most TAG_WINDOW words). Raises DataError for an empty text, ConfigError for ``batch_size`` below 1."""
        self._require("tag", "tag")
        if batch_size < 1:
            raise ConfigError(f"tag needs batch_size >= 1, got {batch_size}")
        texts = nonempty(texts)
        spans = [written_spans(self.tokenizer, text) for text in texts]
        words = [[w for w, _, _ in s] for s in spans]
        pieces = [(n, a, b) for n, row in enumerate(words) for a, b in windows(row, TAG_WINDOW)]
        paths: list[list[int]] = [[] for _ in pieces]
        order = sorted(range(len(pieces)), key=lambda i: pieces[i][2] - pieces[i][1])
        for at in range(0, len(order), batch_size):
            index = order[at:at + batch_size]
            rows = [words[pieces[i][0]][pieces[i][1]:pieces[i][2]] for i in index]
            for i, path in zip(index, self._decode(rows), strict=True):
                paths[i] = path
        tags: list[list[str]] = [[] for _ in texts]
        for (n, _, _), path in zip(pieces, paths, strict=True):
            tags[n] += self.labels.decode(path)
        return [{"tokens": row, "tags": t, "entities": entities(text, s, t)}
                for text, s, row, t in zip(texts, spans, words, tags, strict=True)]

    def _decode(self, rows: list[list[str]]) -> list[list[int]]:
        """The tag ids of one batch of word lists, each list as long as its row."""
        padded, lengths = pad_ids([self.vocab.encode(normalize(self.tokenizer, row)) for row in rows])
        feed = {"ids": padded, "lengths": lengths}
        if "chars" in self.input_names:
            feed["chars"] = char_ids(rows, padded.shape[1], self.parts["chars"])
        if "casing" in self.input_names:
            feed["casing"] = casing_ids(rows, padded.shape[1])
        scores = self.session.run(["scores"], feed)[0]                          # (B, T, C)
        crf = self.manifest.get("crf")
        if crf:
            paths = viterbi(scores, np.maximum(lengths, 1), np.asarray(crf["transitions"], dtype=np.float32),
                            np.asarray(crf["start"], dtype=np.float32), np.asarray(crf["end"], dtype=np.float32))
        else:
            paths = scores.argmax(-1).tolist()
        return [path[:length] for path, length in zip(paths, lengths.tolist(), strict=True)]

    # ----- lm -------------------------------------------------------------------------------------------------------
    def generate(self, prompt: str = "", max_tokens: int = 100, temperature: float = 1.0, top_k: int = 0,
                 top_p: float = 1.0, seed: int | None = None) -> str:
        """The continuation of ``prompt`` (not including it), as ``Pipeline.generate`` without beam search.

        ``temperature`` 0 is greedy; ``top_k`` > 0 and ``top_p`` < 1 restrict sampling as there; ``seed`` makes
        sampling repeatable. Raises ConfigError for a setting out of range (``GenerationConfig``'s checks)."""
        self._require("lm", "generate")
        config = GenerationConfig(max_tokens=max_tokens, temperature=temperature, top_k=top_k, top_p=top_p,
                                  seed=seed, stop_at_eos=self.settings["stop_at_eos"])
        tokens = self.tokenizer.tokenize(prompt or "")
        context = [self.settings["start_id"]] + [self.vocab.stoi.get(t, UNK_ID) for t in tokens]
        if config.max_tokens == 0:
            return ""
        rng = np.random.default_rng(config.seed)
        state = {name: np.zeros((self.settings["state_layers"], 1, self.settings["state_dim"]), dtype=np.float32)
                 for name in self.settings["state"]}
        banned = np.zeros(len(self.vocab), dtype=bool)
        banned[self.settings["never_emitted"]] = True
        if not config.stop_at_eos:
            banned[EOS_ID] = True
        if banned.all():
            raise TextrnnError("the vocabulary holds only special tokens: there is nothing to generate")
        logits, state = self._step(np.asarray([context], dtype=np.int64), state)
        out: list[int] = []
        while True:
            token = _choose(np.where(banned, -np.inf, logits), config, rng)
            if token == EOS_ID:
                break
            out.append(token)
            if len(out) >= config.max_tokens:
                break
            logits, state = self._step(np.asarray([[token]], dtype=np.int64), state)
        new_tokens = self.vocab.decode(out)
        return (" " if needs_space(prompt or "", new_tokens, self.tokenizer) else "") + \
            self.tokenizer.detokenize(new_tokens)

    def _step(self, ids: np.ndarray, state: dict) -> tuple[np.ndarray, dict]:
        """Feed ids (1, T) after ``state``: the next token's logits (V,) float64 and the new state."""
        names = self.settings["state"]
        outputs = self.session.run(["logits", *(f"{n}_out" for n in names)], {"ids": ids, **state})
        return outputs[0][0, -1].astype(np.float64), dict(zip(names, outputs[1:], strict=True))

    # ----- regress --------------------------------------------------------------------------------------------------
    def regress(self, inputs, batch_size: int = 1024) -> np.ndarray:
        """The regressor's predictions for numeric inputs (N, T, F), in the model's own (scaled) units."""
        self._require("regress", "regress")
        inputs = np.asarray(inputs, dtype=np.float32)
        if inputs.ndim != 3:
            raise TextrnnError(f"regress takes (sequences, steps, features) numbers, got shape {inputs.shape}")
        parts = [self.session.run(["predictions"], {"inputs": inputs[at:at + batch_size]})[0]
                 for at in range(0, len(inputs), batch_size)]
        return np.concatenate(parts) if parts else np.zeros((0,), dtype=np.float32)


def _choose(logits: np.ndarray, config: GenerationConfig, rng: np.random.Generator) -> int:
    """One next id from masked logits (V,), as ``tasks.lm.sampling._choose``: argmax, or a sample after
    temperature, top-k and top-p."""
    if config.temperature == 0:
        return int(logits.argmax())
    logits = logits / config.temperature
    if 0 < config.top_k < logits.size:
        kth = np.partition(logits, logits.size - config.top_k)[logits.size - config.top_k]
        logits = np.where(logits < kth, -np.inf, logits)
    if config.top_p < 1.0:
        order = np.argsort(-logits, kind="stable")
        probabilities = _softmax(logits[order])
        above = np.cumsum(probabilities) - probabilities      # the mass of the tokens ranked above each one
        logits = logits.copy()
        logits[order[above >= config.top_p]] = -np.inf
    return int(rng.choice(logits.size, p=_softmax(logits)))


def _softmax(logits: np.ndarray) -> np.ndarray:
    weights = np.exp(logits - logits.max())
    return weights / weights.sum()


def load(folder: str | Path, threads: int = 0) -> OnnxPipeline:
    """Open an export folder, checking its format version and every file's checksum. ``threads``: onnxruntime's
    intra-op threads (0: its default). Raises PipelineError for a missing, altered or foreign folder, and a
    TextrnnError naming the package when onnxruntime is not installed."""
    try:
        import onnxruntime
    except ModuleNotFoundError:
        raise TextrnnError('running an exported model needs onnxruntime: pip install "textrnn[export]"') from None
    folder = Path(folder)
    manifest = _read_json(folder / MANIFEST)
    if not isinstance(manifest, dict) or manifest.get("format_version") != EXPORT_FORMAT_VERSION:
        found = manifest.get("format_version") if isinstance(manifest, dict) else None
        raise PipelineError(f"{folder / MANIFEST}: export format {found!r} is not the one this textrnn reads "
                            f"({EXPORT_FORMAT_VERSION}); export the run again")
    files = manifest.get("files", {})
    for name, digest in files.items():
        path = folder / Path(name).name
        if not path.is_file():
            raise PipelineError(f"{path}: missing; copy the whole export folder")
        if hashlib.sha256(path.read_bytes()).hexdigest() != digest:
            raise PipelineError(f"{path}: does not match the checksum in {MANIFEST}; export the run again")
    config = _read_json(folder / "config.json")
    exported = frozenset(Path(name).name for name in files)
    parts = read_parts(config.get("parts"), config.get("files") or {}, {name: folder / name for name in exported},
                       folder / "config.json", exported)
    options = onnxruntime.SessionOptions()
    options.log_severity_level = 3          # errors only: onnxruntime warns about shapes it re-infers
    if threads:
        options.intra_op_num_threads = threads
    session = onnxruntime.InferenceSession(str(folder / GRAPH), options, providers=["CPUExecutionProvider"])
    return OnnxPipeline(folder, manifest, config, session, parts)

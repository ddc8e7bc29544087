"""Streaming corpora bigger than memory: read, tokenize and encode a file a chunk at a time.

``TokenStream`` is a ``torch.utils.data.IterableDataset`` over a JSON-lines or text file (plain or ``.gz``) read
with ``datasets.load_dataset(..., streaming=True)``, which parses the file in small Arrow batches; only one chunk
of examples is ever held as Python objects, so memory stays bounded whatever the file's size.

    stream = TokenStream("big.jsonl.gz", tokenizer, vocab, chunk_size=256)
    for ids_chunk in DataLoader(stream, batch_size=None):   # each item: a list of up to 256 id lists
        ...
"""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

from torch.utils.data import IterableDataset, get_worker_info

from textrnn.corpus import detect_format
from textrnn.errors import ConfigError, DataError

READ_BYTES = 256 << 10  # bytes datasets parses at a time; its 10 MiB default holds ~8x that as Python objects


class _Tokenizer(Protocol):
    def tokenize(self, text: str) -> list[str]: ...


class _Vocab(Protocol):
    def encode(self, tokens: list[str]) -> list[int]: ...


class TokenStream(IterableDataset):
    """Id lists of a JSON-lines or text file, yielded ``chunk_size`` examples at a time.

    ``path``: a ``.jsonl`` / ``.txt`` file, optionally ``.gz`` (``format`` overrides the extension: ``"jsonl"`` or
    ``"lines"``); ``tokenizer`` has ``.tokenize(text) -> tokens`` and ``vocab`` has ``.encode(tokens) -> ids``;
    ``text_field`` names the JSON field; ``eos_id``, when given, ends every id list; empty texts are skipped.
    Each item is a ``list[list[int]]``; use ``DataLoader(stream, batch_size=None)``. With several DataLoader
    workers each takes every n-th chunk, so no example is read twice. Iterating raises DataError for a missing
    file, a malformed line or a row without ``text_field``.
    """

    def __init__(self, path: str | Path, tokenizer: _Tokenizer, vocab: _Vocab, text_field: str = "text",
                 chunk_size: int = 256, format: str = "auto", eos_id: int | None = None):
        super().__init__()
        if chunk_size < 1:
            raise ConfigError(f"chunk_size must be at least 1, got {chunk_size}")
        self.path = Path(path)
        self.format = detect_format(self.path, format)
        if self.format not in ("jsonl", "lines"):
            raise ConfigError(f"{self.path}: streaming reads JSON lines or text lines, not {self.format}; "
                              f"convert the file, or read it whole with read_examples")
        self.tokenizer, self.vocab = tokenizer, vocab
        self.text_field, self.chunk_size, self.eos_id = text_field, chunk_size, eos_id

    def texts(self) -> Iterator[str]:
        """The file's texts one by one, streamed (empty texts skipped)."""
        if not self.path.is_file():
            raise DataError(f"{self.path}: no such file; check the path")
        import datasets

        builder, field = ("json", self.text_field) if self.format == "jsonl" else ("text", "text")
        try:
            rows = datasets.load_dataset(builder, data_files=str(self.path), split="train", streaming=True,
                                         chunksize=READ_BYTES)
            seen = 0
            # whole Arrow batches become Python lists at once: far fewer objects than a dict per row
            for batch in rows.iter(batch_size=self.chunk_size):
                size = len(next(iter(batch.values())))
                texts = batch.get(field) or [None] * size
                for i, text in enumerate(texts):
                    if not isinstance(text, str):
                        self._bad_row(seen + i + 1, field, text, {k: v[i] for k, v in batch.items()})
                    if text.strip():
                        yield text
                seen += size
        except DataError:
            raise
        except Exception as error:  # pyarrow and datasets raise many kinds for a malformed file; all mean "unreadable"
            raise DataError(f"{self.path}: cannot be streamed as {self.format} ({type(error).__name__}: {error}); "
                            f"check the file with read_examples, which names the bad line") from None

    def _bad_row(self, n: int, field: str, text: Any, row: dict) -> None:
        if text is None:
            keys = sorted(k for k, value in row.items() if value is not None)
            raise DataError(f"{self.path}: row {n} has no {field!r} field (it has {keys}); "
                            f"name the text field with text_field=")
        raise DataError(f"{self.path}: row {n}: field {field!r} must be a string, got {type(text).__name__}")

    def __iter__(self) -> Iterator[list[list[int]]]:
        worker = get_worker_info()
        shard, shards = (worker.id, worker.num_workers) if worker is not None else (0, 1)
        chunk: list[list[int]] = []
        for n, text in enumerate(self.texts()):
            if (n // self.chunk_size) % shards != shard:  # another worker's chunk: skip the tokenizing too
                continue
            ids = list(self.vocab.encode(self.tokenizer.tokenize(text)))
            if self.eos_id is not None:
                ids.append(self.eos_id)
            chunk.append(ids)
            if len(chunk) == self.chunk_size:
                yield chunk
                chunk = []
        if chunk:
            yield chunk

    def count(self) -> dict[str, Any]:
        """One pass over the file: ``{"examples", "tokens"}`` (e.g. to size an epoch)."""
        examples = tokens = 0
        for chunk in self:
            examples += len(chunk)
            tokens += sum(len(ids) for ids in chunk)
        return {"examples": examples, "tokens": tokens}

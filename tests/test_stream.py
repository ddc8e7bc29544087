"""Streaming a file bigger than we want in memory: every line arrives, tokenized and encoded, in bounded memory."""
from __future__ import annotations

import gzip
import json
import tracemalloc
from pathlib import Path

import pytest
from torch.utils.data import DataLoader

import textrnn.stream as stream_module
from textrnn.errors import ConfigError, DataError
from textrnn.stream import TokenStream

WORDS = ["the", "cat", "sat", "on", "a", "mat", "dog", "ran", "고양이가", "잤다"]
# long words keep the file big but the token count (and the test's time under tracemalloc) small
LONG = ["internationalisation", "counterrevolutionaries", "고양이가햇볕아래에서낮잠을잤다", "electroencephalography",
        "straightforwardness", "Donaudampfschifffahrt", "photosynthesising", "incomprehensibilities"]


class Spaces:
    def tokenize(self, text: str) -> list[str]:
        return text.split()


class Table:
    def __init__(self, words):
        self.ids = {w: i + 4 for i, w in enumerate(words)}

    def encode(self, tokens):
        return [self.ids.get(t, 1) for t in tokens]


def sentence(i: int, words=WORDS, length: int = 40) -> str:
    # the first word names the line, so the order of ids can be checked
    return " ".join(words[(i + k) % len(words)] for k in range(length))


@pytest.fixture(scope="module")
def big_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("stream") / "big.jsonl"
    with open(path, "w", encoding="utf-8") as f:
        for i in range(50_000):
            f.write(json.dumps({"text": sentence(i, LONG, 10), "id": i}, ensure_ascii=False) + "\n")
    return path


def test_streams_every_line_in_bounded_memory(big_file, tmp_path):
    # one small stream first: datasets' lazy imports and caches are not the stream's memory
    warm = tmp_path / "warm.jsonl"
    warm.write_text(json.dumps({"text": "the cat"}) + "\n")
    list(TokenStream(warm, Spaces(), Table(WORDS)))
    stream = TokenStream(big_file, Spaces(), Table(LONG), chunk_size=500)
    tracemalloc.start()
    count = 0
    first = None
    starts = [Table(LONG).ids[word] for word in LONG]
    try:
        for chunk in stream:
            assert len(chunk) <= 500
            first = first or chunk[0]
            for ids in chunk:  # every line, in file order
                assert ids[0] == starts[count % len(LONG)]
                count += 1
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    size = big_file.stat().st_size
    assert count == 50_000
    assert first == Table(LONG).encode(sentence(0, LONG, 10).split())
    # reading the whole file would hold all its texts (more than its size as Python strings); a stream holds a chunk
    assert peak < size * 0.25, f"peak {peak / 1e6:.1f} MB for a {size / 1e6:.1f} MB file"


def test_dataloader_text_lines_gz_with_eos(tmp_path):
    path = tmp_path / "lines.txt.gz"
    path.write_bytes(gzip.compress(("\n".join(sentence(i) for i in range(1000)) + "\n\n").encode()))
    loader = DataLoader(TokenStream(path, Spaces(), Table(WORDS), chunk_size=64, eos_id=3), batch_size=None,
                        num_workers=0)
    chunks = list(loader)
    assert [len(c) for c in chunks] == [64] * 15 + [40]
    assert all(ids[-1] == 3 and len(ids) == 41 for chunk in chunks for ids in chunk)


def test_workers_share_the_chunks_without_overlap(tmp_path, monkeypatch):
    path = tmp_path / "lines.txt"
    path.write_text("\n".join(f"w{i}" for i in range(100)) + "\n")
    words = [f"w{i}" for i in range(100)]
    seen = []
    for worker in range(3):
        monkeypatch.setattr(stream_module, "get_worker_info", lambda w=worker: type("W", (), {"id": w, "num_workers": 3}))
        seen += [ids[0] for chunk in TokenStream(path, Spaces(), Table(words), chunk_size=7) for ids in chunk]
    assert sorted(seen) == list(range(4, 104))


def test_count(tmp_path):
    path = tmp_path / "rows.jsonl"
    path.write_text("\n".join(json.dumps({"body": "the cat sat"}) for _ in range(10)) + "\n")
    assert TokenStream(path, Spaces(), Table(WORDS), text_field="body").count() == {"examples": 10, "tokens": 30}


def test_errors(tmp_path):
    rows = tmp_path / "rows.jsonl"
    rows.write_text(json.dumps({"text": "the cat"}) + "\n" + json.dumps({"review": "no text"}) + "\n")
    with pytest.raises(DataError, match=r"rows\.jsonl: row 2 has no 'text' field \(it has \['review'\]\)"):
        list(TokenStream(rows, Spaces(), Table(WORDS)))
    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"text": "the cat"}\n{"text": \n')
    with pytest.raises(DataError, match=r"broken\.jsonl: cannot be streamed as jsonl"):
        list(TokenStream(broken, Spaces(), Table(WORDS)))
    with pytest.raises(DataError, match=r"gone\.jsonl: no such file"):
        list(TokenStream(tmp_path / "gone.jsonl", Spaces(), Table(WORDS)))
    with pytest.raises(ConfigError, match="streaming reads JSON lines or text lines"):
        TokenStream(tmp_path / "a.csv", Spaces(), Table(WORDS))
    with pytest.raises(ConfigError, match="chunk_size"):
        TokenStream(rows, Spaces(), Table(WORDS), chunk_size=0)

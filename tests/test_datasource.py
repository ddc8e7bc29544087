"""Corpus cards and data resolution: folders, env, cache, downloads from a local HTTP server (never the internet)."""
from __future__ import annotations

import gzip
import hashlib
import http.server
import json
import socket
import threading
from pathlib import Path

import pytest
from conftest import DATA_DIR, data_available

from textrnn import datasource
from textrnn.corpus import load_corpus, read_examples
from textrnn.datasource import (
    download_file,
    find_corpus,
    list_corpora,
    read_card,
    required_files,
    verify_corpus,
)
from textrnn.errors import DataError

NAMES = ["conll2003", "energy", "everyday-en", "imdb", "kor-eng", "korean", "multi30k", "ptb", "reuters", "tinyshakespeare"]
LINES = "the cat sat\nthe dog ran\na bird sang\n"


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    """No test sees the user's data dir or cache, and none may reach the internet."""
    monkeypatch.delenv(datasource.DATA_ENV, raising=False)
    monkeypatch.delenv(datasource.OFFLINE_ENV, raising=False)
    monkeypatch.setenv(datasource.CACHE_ENV, str(tmp_path / "cache"))

    def no_internet(*args, **kwargs):
        raise AssertionError("a test tried to open a URL that is not on 127.0.0.1")

    real = datasource.urllib.request.urlopen
    monkeypatch.setattr(datasource.urllib.request, "urlopen",
                        lambda url, *a, **k: real(url, *a, **k) if "127.0.0.1" in url else no_internet())


@pytest.fixture
def server(tmp_path):
    """A local HTTP server for the files under tmp_path/www; yields its base URL."""
    root = tmp_path / "www"
    root.mkdir()

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, directory=str(root), **kwargs)

        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", root
    httpd.shutdown()
    httpd.server_close()


def write_card(tmp_path: Path, text: str, name: str = "mini") -> Path:
    path = tmp_path / "cards" / f"{name}.toml"
    path.parent.mkdir(exist_ok=True)
    path.write_text(text)
    return path


MINI = '''name = "mini"
task = "lm"
description = "a tiny line corpus"
format = "lines"
valid_fraction = 0.34
[files]
train = "mini.txt.gz"
'''


def mini_folder(root: Path) -> Path:
    folder = root / "mini"
    folder.mkdir(parents=True)
    (folder / "mini.txt.gz").write_bytes(gzip.compress(LINES.encode()))
    return folder


# --------------------------------------------------------------------------------------------------- cards


def test_every_shipped_card_is_complete():
    assert [c["name"] for c in list_corpora()] == NAMES
    for name in NAMES:
        card = read_card(name)
        assert card["description"] and card["license"] and card["citation"]
        for relative in required_files(card) + card["files"].get("test", []):
            assert relative in card["sha256"] or relative == card.get("labels_file"), (name, relative)
        # a card that names each file's licence names every file it reads, and nothing else
        if "licenses" in card:
            assert set(card["licenses"]) == {f for files in card["files"].values() for f in files}, name
            assert all(card["licenses"].values()), name
        for entry in card["download"]:
            assert entry["url"].startswith("https://") and len(entry["sha256"]) == 64
            assert entry["file"] in {f for files in card["files"].values() for f in files}
    assert read_card("imdb")["hf_dataset"] == "stanfordnlp/imdb"
    assert "raw.githubusercontent.com/karpathy/char-rnn" in read_card("tinyshakespeare")["download"][0]["url"]
    assert read_card("conll2003")["files"]["test"] == ["iob2/test.txt.gz"]


def test_unknown_corpus_suggests_the_closest():
    with pytest.raises(DataError, match="unknown corpus 'reuter'; did you mean 'reuters'"):
        read_card("reuter")


def test_card_without_required_key(tmp_path):
    path = write_card(tmp_path, 'name = "x"\ntask = "lm"\n[files]\ntrain = "a.txt"\n')
    with pytest.raises(DataError, match=r"mini\.toml: the card has no 'format' key"):
        read_card(str(path))


def test_card_file_path_loads_end_to_end(tmp_path):
    card = write_card(tmp_path, MINI)
    mini_folder(tmp_path / "data")
    corpus = load_corpus(str(card), data_dir=tmp_path / "data")
    assert corpus.name == "mini" and corpus.valid_is_carved
    assert sorted(e.text for e in corpus.train + corpus.valid) == sorted(LINES.split("\n")[:3])
    assert len(corpus.valid) == 1


# ---------------------------------------------------------------------------------------------- resolution


def test_resolution_order(tmp_path, monkeypatch):
    card = read_card(str(write_card(tmp_path, MINI)))
    explicit = mini_folder(tmp_path / "explicit")
    from_arg = mini_folder(tmp_path / "arg")
    from_env = mini_folder(tmp_path / "env")
    cached = mini_folder(tmp_path / "cache")
    monkeypatch.setenv(datasource.DATA_ENV, str(tmp_path / "env"))
    assert find_corpus(card, path=explicit, data_dir=tmp_path / "arg") == explicit
    assert find_corpus(card, data_dir=tmp_path / "arg") == from_arg
    assert find_corpus(card) == from_env
    monkeypatch.delenv(datasource.DATA_ENV)
    assert find_corpus(card) == cached


def test_fallback_from_a_data_dir_that_lacks_the_corpus_says_so(tmp_path, capsys):
    card = read_card(str(write_card(tmp_path, MINI)))
    cached = mini_folder(tmp_path / "cache")
    (tmp_path / "empty").mkdir()
    assert find_corpus(card, data_dir=tmp_path / "empty") == cached
    assert f"using {cached} ({tmp_path / 'empty' / 'mini'} (data_dir" in capsys.readouterr().err
    assert find_corpus(card) == cached
    assert capsys.readouterr().err == ""  # nothing named was skipped: nothing to say


def test_explicit_path_lacking_files(tmp_path):
    card = read_card(str(write_card(tmp_path, MINI)))
    with pytest.raises(DataError, match=r"nowhere: lacks mini\.txt\.gz of corpus 'mini'"):
        find_corpus(card, path=tmp_path / "nowhere")


def test_not_found_names_every_place_and_the_fix(tmp_path, monkeypatch):
    monkeypatch.setenv(datasource.DATA_ENV, str(tmp_path / "shared"))
    (tmp_path / "cache" / "reuters").mkdir(parents=True)
    with pytest.raises(DataError) as error:
        find_corpus("reuters", data_dir=tmp_path / "mine")
    message = str(error.value)
    for part in (str(tmp_path / "mine" / "reuters"), str(tmp_path / "shared" / "reuters"),
                 str(tmp_path / "cache" / "reuters") + " (cache: lacks train.jsonl.gz, topics.json)",
                 "no public source", "set TEXTRNN_DATA_DIR=", "--data-dir",
                 "download the files listed on", str(tmp_path / "cache" / "reuters") + "/"):
        assert part in message, part


def test_offline_disables_downloads(monkeypatch):
    monkeypatch.setenv(datasource.OFFLINE_ENV, "1")
    with pytest.raises(DataError, match="download \\(disabled by TEXTRNN_OFFLINE=1\\)"):
        find_corpus("tinyshakespeare")


# ------------------------------------------------------------------------------------------------ downloads


def url_card(tmp_path: Path, url: str, sha256: str) -> dict:
    text = MINI + f'[[download]]\nurl = "{url}"\nsha256 = "{sha256}"\nfile = "mini.txt.gz"\n'
    return read_card(str(write_card(tmp_path, text)))


def test_download_plain_file_is_checked_and_stored_gzipped(tmp_path, server, capsys):
    base, www = server
    (www / "mini.txt").write_text(LINES)
    card = url_card(tmp_path, f"{base}/mini.txt", hashlib.sha256(LINES.encode()).hexdigest())
    folder = find_corpus(card)
    assert folder == tmp_path / "cache" / "mini"
    stored = folder / "mini.txt.gz"
    assert stored.read_bytes()[:2] == b"\x1f\x8b" and gzip.decompress(stored.read_bytes()).decode() == LINES
    assert "downloading" in capsys.readouterr().err
    assert [e.text for e in read_examples(stored)] == ["the cat sat", "the dog ran", "a bird sang"]
    assert find_corpus(card) == folder  # the second time it is in the cache


def test_download_of_a_gzip_file_is_kept_as_is(tmp_path, server):
    base, www = server
    data = gzip.compress(LINES.encode(), mtime=0)
    (www / "mini.txt.gz").write_bytes(data)
    card = url_card(tmp_path, f"{base}/mini.txt.gz", hashlib.sha256(data).hexdigest())
    assert (find_corpus(card, quiet=True) / "mini.txt.gz").read_bytes() == data


def test_checksum_mismatch_deletes_the_download(tmp_path, server):
    base, www = server
    (www / "mini.txt").write_text(LINES)
    expected = "0" * 64
    card = url_card(tmp_path, f"{base}/mini.txt", expected)
    with pytest.raises(DataError, match=f"checksum mismatch, expected sha256 {expected}, "
                                        f"got {hashlib.sha256(LINES.encode()).hexdigest()}"):
        find_corpus(card, quiet=True)
    assert list((tmp_path / "cache" / "mini").iterdir()) == []


def test_download_failure_names_the_url(tmp_path, server):
    base, _ = server
    with pytest.raises(DataError, match=f"could not download {base}/missing.txt .*TEXTRNN_OFFLINE"):
        download_file(f"{base}/missing.txt", tmp_path / "out" / "x.txt", "0" * 64, quiet=True)
    assert not (tmp_path / "out" / "x.txt.part").exists()


def test_hf_download_writes_the_card_files(tmp_path, monkeypatch):
    import datasets

    labels = datasets.ClassLabel(names=["neg", "pos"])
    features = datasets.Features({"text": datasets.Value("string"), "label": labels})

    def split(n: int, label) -> datasets.Dataset:
        return datasets.Dataset.from_dict({"text": [f"review {i}" for i in range(n)],
                                           "label": [label(i) for i in range(n)]}, features=features)

    fake = datasets.DatasetDict({"train": split(10, lambda i: i % 2), "test": split(4, lambda i: i % 2),
                                 "unsupervised": split(3, lambda i: -1)})
    asked = []
    monkeypatch.setattr(datasource, "_unreachable", lambda url: None)
    monkeypatch.setattr(datasets, "load_dataset", lambda name: asked.append(name) or fake)
    corpus = load_corpus("imdb")
    assert asked == ["stanfordnlp/imdb"]
    assert (len(corpus.train), len(corpus.valid), len(corpus.test)) == (8, 2, 4)
    assert {e.label for e in corpus.train} == {"neg", "pos"}
    unsup = gzip.decompress((tmp_path / "cache" / "imdb" / "unsup.jsonl.gz").read_bytes()).decode()
    assert [json.loads(line) for line in unsup.splitlines()][0] == {"text": "review 0"}


def test_hf_download_of_a_parallel_corpus_writes_its_aligned_line_files(tmp_path, monkeypatch):
    import datasets

    def split(n: int) -> datasets.Dataset:
        return datasets.Dataset.from_dict({"de": [f"satz {i}" for i in range(n)], "en": [f"sentence {i}" for i in range(n)]})

    fake = datasets.DatasetDict({"train": split(12), "validation": split(3), "test": split(2)})
    monkeypatch.setattr(datasource, "_unreachable", lambda url: None)
    monkeypatch.setattr(datasets, "load_dataset", lambda name: fake)
    corpus = load_corpus("multi30k")
    assert (len(corpus.train), len(corpus.valid)) == (12, 3)
    assert (corpus.train[4].text, corpus.train[4].target) == ("satz 4", "sentence 4")
    assert gzip.decompress((tmp_path / "cache" / "multi30k" / "val.en.gz").read_bytes()).decode().splitlines()[2] == \
        "sentence 2"


def test_an_unreachable_hub_fails_at_once_with_every_fix(tmp_path, monkeypatch):
    import datasets

    def refuse(address, timeout):
        raise socket.gaierror("Name or service not known")

    monkeypatch.delenv("HTTPS_PROXY", raising=False)
    monkeypatch.delenv("https_proxy", raising=False)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(datasets, "load_dataset", lambda name: pytest.fail("the hub was asked although unreachable"))
    with pytest.raises(DataError) as error:
        load_corpus("multi30k")
    message = str(error.value)
    for part in ("could not reach https://huggingface.co", "Name or service not known", "bentrevett/multi30k",
                 "set TEXTRNN_DATA_DIR=", str(tmp_path / "cache" / "multi30k") + "/", "TEXTRNN_OFFLINE=1"):
        assert part in message, part


# ------------------------------------------------------------------------------------------------- checksums


def test_verify_corpus_reports_a_changed_file(tmp_path):
    folder = tmp_path / "ptb"
    folder.mkdir()
    (folder / "ptb.train.txt.gz").write_bytes(gzip.compress(b" a b \n"))
    problems = verify_corpus("ptb", folder)
    assert list(problems) == ["ptb.train.txt.gz"] and "the card expects c4c6455d" in problems["ptb.train.txt.gz"]


@pytest.mark.data
@pytest.mark.parametrize("name", NAMES)
def test_real_files_match_the_card_checksums(name):
    if not data_available(name):
        pytest.skip(f"needs the {name} corpus: set TEXTRNN_DATA_DIR to a folder holding {name}/")
    folder = Path(DATA_DIR) / name
    assert verify_corpus(name, folder) == {}
    assert find_corpus(name, data_dir=DATA_DIR) == folder

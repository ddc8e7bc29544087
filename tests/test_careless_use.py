"""What a careless or hostile new user meets through the CLI: folders that already hold something, paths that cannot
work, long and decomposed inputs, files in other formats, options out of range, empty texts, repeatability."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import unicodedata
from pathlib import Path

import pytest
from cli_in_process import cli
from hypothesis import given, settings
from hypothesis import strategies as st

from textrnn.corpus import Example
from textrnn.pipeline import Pipeline
from textrnn.tokenize import WordTokenizer

POSITIVE = ["a wonderful film", "great acting and a fine story", "i loved it"]
NEGATIVE = ["a dull film", "bad acting and a boring story", "i hated it"]


def one_line_error(code: int, err: str, *expected: str) -> None:
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "internal error" not in err and "Traceback" not in err, err
    for part in expected:
        assert part in lines[0], lines[0]


@pytest.fixture
def reviews(tmp_path) -> Path:
    path = tmp_path / "reviews.jsonl"
    rows = [{"text": t, "label": "pos"} for t in POSITIVE] + [{"text": t, "label": "neg"} for t in NEGATIVE]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows * 8), encoding="utf-8")
    return path


def train(reviews: Path, out: Path, *extra: str, capsys, monkeypatch) -> tuple[int, str, str]:
    return cli("train", "classify", "--data", str(reviews), "--out", str(out), "--quiet", "-s", "train.epochs=1",
               "-s", "model.hidden_dim=4", "-s", "model.embedding.dim=4", *extra, capsys=capsys, monkeypatch=monkeypatch)


@pytest.fixture(scope="module")
def classifier(tmp_path_factory) -> Path:
    examples = [Example(text=t, label="pos") for t in POSITIVE] + [Example(text=t, label="neg") for t in NEGATIVE]
    pipe = Pipeline.for_task("classify", train=examples * 4, model={"hidden_dim": 4, "embedding": {"dim": 4}},
                             quiet=True)
    pipe.fit(examples * 4, examples, epochs=1, quiet=True)
    return pipe.save(tmp_path_factory.mktemp("runs") / "classifier")


# ----- 2. --out on a folder that holds something ------------------------------------------------------------------
def test_out_on_a_folder_of_the_users_files_is_refused_and_nothing_there_changes(reviews, tmp_path, capsys,
                                                                                   monkeypatch):
    out = tmp_path / "mine"
    out.mkdir()
    for name in ("config.json", "vocab.json", "metrics.json", "history.json", "notes.txt"):
        (out / name).write_text(f"the user's own {name}\n")
    (out / ".staging").mkdir()
    before = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}
    code, _, err = train(reviews, out, capsys=capsys, monkeypatch=monkeypatch)
    one_line_error(code, err, "is not empty", "--resume", "--overwrite")
    assert {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()} == before and (out / ".staging").is_dir()
    code, _, err = train(reviews, out, "--overwrite", capsys=capsys, monkeypatch=monkeypatch)
    one_line_error(code, err, "not a textrnn run")   # a config.json of the user's is no run of textrnn's
    assert {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()} == before


def test_a_finished_run_is_replaced_only_with_overwrite_and_resumed_only_as_itself(reviews, tmp_path, capsys,
                                                                                   monkeypatch):
    out = tmp_path / "run"
    assert train(reviews, out, capsys=capsys, monkeypatch=monkeypatch)[0] == 0
    model = (out / "model.safetensors").read_bytes()
    code, _, err = train(reviews, out, "-s", "train.seed=1", capsys=capsys, monkeypatch=monkeypatch)
    one_line_error(code, err, "is not empty", "an earlier run")
    assert (out / "model.safetensors").read_bytes() == model
    code, _, err = cli("train", "lm", "--data", str(reviews), "--out", str(out), "--resume", "--quiet",
                       capsys=capsys, monkeypatch=monkeypatch)
    one_line_error(code, err, "not of", "lm")                          # another run's folder is not resumed
    code, _, err = train(reviews, out, "--resume", "--overwrite", capsys=capsys, monkeypatch=monkeypatch)
    one_line_error(code, err, "one of them")
    assert train(reviews, out, "--overwrite", "-s", "train.seed=1", capsys=capsys, monkeypatch=monkeypatch)[0] == 0
    assert (out / "model.safetensors").read_bytes() != model


# ----- 3. --out paths that cannot work ----------------------------------------------------------------------------
def unwritable(tmp_path: Path) -> Path:
    """A folder this process cannot write into: a read-only one of its own, or for root (who writes anywhere
    else) sysfs, which no one can."""
    if os.geteuid() != 0:
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
        return locked
    if not Path("/sys/fs").is_dir():
        pytest.skip("running as root without sysfs: no folder here refuses writes")
    return Path("/sys/fs")


def test_a_read_only_out_folder_fails_before_any_work(reviews, tmp_path, capsys, monkeypatch):
    code, _, err = train(reviews, unwritable(tmp_path) / "run", capsys=capsys, monkeypatch=monkeypatch)
    one_line_error(code, err, "cannot be written", "--out")


@pytest.mark.parametrize("shape", ["a file", "under a file"])
def test_an_out_that_is_or_lies_under_a_file_fails_before_any_work(shape, reviews, tmp_path, capsys, monkeypatch):
    blocker = tmp_path / "blocker"
    blocker.write_text("a file\n")
    out = blocker if shape == "a file" else blocker / "run"
    code, _, err = train(reviews, out, capsys=capsys, monkeypatch=monkeypatch)
    one_line_error(code, err, "--out", "file")
    assert "vocabulary" not in err and blocker.read_text() == "a file\n"


# ----- 4. offsets into the text as given --------------------------------------------------------------------------
def test_entities_of_decomposed_accents_are_cut_from_the_text_as_given(tmp_path):
    text = unicodedata.normalize("NFD", "José Martí visited Paris in 1905")
    spans = WordTokenizer().spans(text)
    assert [w for w, _, _ in spans] == ["José", "Martí", "visited", "Paris", "in", "1905"]
    assert [text[a:b] for _, a, b in spans] == [unicodedata.normalize("NFD", w) for w, _, _ in spans]


MARKS = "\u0301\u0308\u0327\u030a"
LETTERS = "aeiouncAEIOUNC한국어밥을먹"


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(st.sampled_from(list(LETTERS)), st.sampled_from(list(MARKS)), st.sampled_from([" ", ".", ",", "'", "1", "-"])),
                max_size=40), st.sampled_from(["NFC", "NFD", "NFKD", None]))
def test_word_offsets_index_the_text_as_given_in_any_normal_form(chars, form):
    text = "".join(chars)
    text = unicodedata.normalize(form, text) if form else text
    tokenizer = WordTokenizer()
    spans = tokenizer.spans(text)
    assert [w for w, _, _ in spans] == tokenizer.tokenize(text)
    end = 0
    for word, start, stop in spans:
        assert end <= start < stop <= len(text)
        assert unicodedata.normalize("NFC", text[start:stop]) == word
        end = stop


# ----- 5. long input is tagged whole --------------------------------------------------------------------------------
def test_a_text_longer_than_a_window_is_tagged_whole():
    from textrnn.textual import TAG_WINDOW, windows

    sentences = [Example(tokens=["Paris", "is", "big", "."], tags=["B-LOC", "O", "O", "O"]),
                 Example(tokens=["Ada", "wrote", "."], tags=["B-PER", "O", "O"])]
    pipe = Pipeline.for_task("tag", train=sentences * 4, model={"hidden_dim": 4, "embedding": {"dim": 4}}, quiet=True)
    text = " ".join(["Paris is big . Ada wrote ."] * 300)               # 2,100 words
    [result] = pipe.tag([text])
    assert len(result["tokens"]) == len(result["tags"]) == 2100
    cuts = windows(result["tokens"])
    assert len(cuts) > 1 and all(b - a <= TAG_WINDOW for a, b in cuts)
    assert all(result["tokens"][b - 1] == "." for a, b in cuts[:-1])    # cut after a sentence end
    assert [w for a, b in cuts for w in result["tokens"][a:b]] == result["tokens"]


# ----- 6. a long text before a blank is read from its end ------------------------------------------------------------
def test_complete_reads_a_bounded_left_context_however_long_the_text():
    from textrnn.tasks.lm.fill import LEFT_CONTEXT_CHARS

    lines = [Example(text=t) for t in ["i drink coffee every morning", "i drink tea every evening"] * 10]
    pipe = Pipeline.for_task("lm", train=lines, tokenizer="char", model={"hidden_dim": 8, "num_layers": 1,
                                                                         "embedding": {"dim": 8}}, quiet=True)
    widths: list[int] = []
    forward = pipe.model.forward

    def recording(ids, *args, **kwargs):
        widths.append(ids.size(1))
        return forward(ids, *args, **kwargs)

    pipe.model.forward = recording
    long = "i drink coffee every morning . " * 2000 + "i drink ___ every evening"
    result = pipe.complete(long, candidates=["tea", "coffee"])
    assert max(widths) <= LEFT_CONTEXT_CHARS + 100                      # never the whole 60,000 characters at once
    assert {f["fill"] for f in result["fills"]} == {"tea", "coffee"}
    assert all(f["sentence"].startswith("i drink coffee every morning . ") and len(f["sentence"]) > 60000
               for f in result["fills"])                                 # the sentences given back are whole


# ----- 7. predict --file reads files as training does ------------------------------------------------------------
def test_predict_file_reads_a_csv_by_its_column_and_never_classifies_the_header(classifier, tmp_path, capsys,
                                                                                monkeypatch):
    data = tmp_path / "texts.csv"
    data.write_text('id,text,label\n1,a wonderful film,pos\n2,"a dull, boring film",neg\n', encoding="utf-8")
    code, out, err = cli("predict", str(classifier), "--file", str(data), "--json", capsys=capsys,
                         monkeypatch=monkeypatch)
    assert code == 0, err
    texts = [json.loads(line)["text"] for line in out.splitlines()]
    assert texts == ["a wonderful film", "a dull, boring film"]          # no header, no label in the input


def test_predict_file_that_is_not_utf8_names_file_and_line(classifier, tmp_path, capsys, monkeypatch):
    data = tmp_path / "texts.txt"
    data.write_bytes(b"a wonderful film\ncaf\xe9 au lait\n")
    code, _, err = cli("predict", str(classifier), "--file", str(data), capsys=capsys, monkeypatch=monkeypatch)
    one_line_error(code, err, "texts.txt:2", "not UTF-8")
    assert "errors=" not in err


# ----- 8. options out of range and missing input are usage errors ----------------------------------------------------
@pytest.mark.parametrize("args, named", [
    (["predict", "RUN"], "predict needs texts"),
    (["predict", "RUN", "text", "--batch-size", "0"], "--batch-size"),
    (["predict", "RUN", "text", "--top", "0"], "--top"),
    (["generate", "RUN", "x", "--temperature", "-1"], "--temperature"),
    (["tag", "RUN"], "tag needs texts"),
])
def test_usage_errors_are_one_line_naming_the_option(args, named, classifier, capsys, monkeypatch):
    code, _, err = cli(*[str(classifier) if a == "RUN" else a for a in args], capsys=capsys, monkeypatch=monkeypatch)
    one_line_error(code, err, named)


def test_python_callers_get_the_same_range_checks(classifier):
    import textrnn
    from textrnn.errors import ConfigError

    pipe = textrnn.load(classifier)
    with pytest.raises(ConfigError, match="top >= 1"):
        pipe.predict(["a film"], top=0)
    with pytest.raises(ConfigError, match="batch_size >= 1"):
        pipe.predict(["a film"], batch_size=0)


# ----- 9. a refused checkpoint is refused first, without advice to unpickle it --------------------------------------
def test_a_pickled_checkpoint_is_refused_before_any_work_and_never_with_advice_to_unpickle(reviews, tmp_path, capsys,
                                                                                           monkeypatch):
    import pickle

    out = tmp_path / "run"
    assert train(reviews, out, capsys=capsys, monkeypatch=monkeypatch)[0] == 0
    (out / "checkpoint.pt").write_bytes(pickle.dumps({"model": object()}))
    code, _, err = train(reviews, out, "--resume", "-s", "model.embedding.kind=word2vec", capsys=capsys,
                         monkeypatch=monkeypatch)
    one_line_error(code, err, "checkpoint.pt", "delete it")
    assert "weights_only" not in err and "word2vec" not in err


# ----- 10. word2vec runs repeat ---------------------------------------------------------------------------------
def test_two_seeded_word2vec_runs_give_the_same_weights(reviews, tmp_path):
    from safetensors.torch import load_file

    runs = []
    for n, hashing in enumerate(("1", "2")):
        out = tmp_path / f"run{n}"
        env = {**os.environ, "PYTHONHASHSEED": hashing, "OMP_NUM_THREADS": "1"}
        done = subprocess.run([sys.executable, "-m", "textrnn.cli", "train", "classify", "--data", str(reviews),
                               "--out", str(out), "--quiet", "--embedding", "word2vec", "-s", "train.epochs=1",
                               "-s", "model.hidden_dim=4", "-s", "model.embedding.dim=4"],
                              capture_output=True, text=True, env=env, timeout=300)
        assert done.returncode == 0, done.stderr
        runs.append(load_file(str(out / "model.safetensors")))
    assert runs[0].keys() == runs[1].keys()
    assert all(bool((runs[0][k] == runs[1][k]).all()) for k in runs[0])


# ----- 12. the smaller ones ---------------------------------------------------------------------------------------
def test_a_missing_label_column_lists_the_columns(tmp_path, capsys, monkeypatch):
    data = tmp_path / "rows.csv"
    data.write_text("review,stars\na fine film,5\na dull film,1\n" * 4, encoding="utf-8")
    code, _, err = cli("train", "classify", "--data", str(data), "--text-field", "review", "--out",
                       str(tmp_path / "run"), capsys=capsys, monkeypatch=monkeypatch)
    one_line_error(code, err, "no 'label' labels", "'review'", "'stars'", "--label-field")


def test_a_one_line_lm_file_asks_for_a_validation_file(tmp_path, capsys, monkeypatch):
    data = tmp_path / "one.txt"
    data.write_text("just one line of text\n", encoding="utf-8")
    code, _, err = cli("train", "lm", "--data", str(data), "--out", str(tmp_path / "run"), capsys=capsys,
                       monkeypatch=monkeypatch)
    one_line_error(code, err, "--valid FILE")


def test_a_duplicate_vocabulary_entry_is_named(classifier, tmp_path, capsys, monkeypatch):
    import hashlib
    import shutil

    run = tmp_path / "run"
    shutil.copytree(classifier, run)
    vocab = json.loads((run / "vocab.json").read_text()) + ["film"]
    (run / "vocab.json").write_text(json.dumps(vocab))
    config = json.loads((run / "config.json").read_text())
    config["files"]["vocab.json"] = hashlib.sha256((run / "vocab.json").read_bytes()).hexdigest()
    (run / "config.json").write_text(json.dumps(config))
    code, _, err = cli("info", str(run), capsys=capsys, monkeypatch=monkeypatch)
    one_line_error(code, err, "'film' twice")


@pytest.mark.parametrize("command", [["predict", "RUN", ""], ["predict", "RUN", "a film", "   "]])
def test_empty_texts_are_refused_with_where_they_are(command, classifier, capsys, monkeypatch):
    code, _, err = cli(*[str(classifier) if a == "RUN" else a for a in command], capsys=capsys, monkeypatch=monkeypatch)
    one_line_error(code, err, "empty")


def test_an_empty_sentence_is_not_scored(tmp_path, capsys, monkeypatch):
    lines = [Example(text=t) for t in ["the cat sat", "the dog ran"] * 10]
    lm = Pipeline.for_task("lm", train=lines, model={"hidden_dim": 4, "num_layers": 1, "embedding": {"dim": 4}},
                           quiet=True)
    run = lm.save(tmp_path / "lm")
    code, _, err = cli("score", str(run), "the cat sat", "", capsys=capsys, monkeypatch=monkeypatch)
    one_line_error(code, err, "sentence 2", "empty")

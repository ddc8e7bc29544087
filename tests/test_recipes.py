"""Every shipped recipe in its --quick form through the command line, the metrics.json contract of DESIGN.md, and
the saved-run commands (predict, evaluate, info, tag, generate, score, complete) and ``textrnn train`` on them.

The runs go through typer's CliRunner in this process (torch is imported once, not once per run) and are made once
per module: the saved-run tests reuse the recipe tests' runs.
"""
from __future__ import annotations

import csv
import gzip
import json
from pathlib import Path

import pytest
from conftest import NEGATIVE, POSITIVE, data_available, needs_data
from typer.testing import CliRunner

from textrnn.cli import app
from textrnn.recipes import describe, recipe_names

runner = CliRunner()

GENERATED = {"hello", "multiply", "sine"}            # recipes whose data are made in code: no corpus needed
NEEDS = {"complete": ["korean", "imdb", "ptb"]}      # the demo runs on the korean, english (imdb) and ptb LMs
CORPUS_FOLDER = {"conll2003": "conll2003"}           # corpus name -> folder in TEXTRNN_DATA_DIR (the same so far)
BASE_FIELDS = ("recipe", "task", "epochs", "seconds", "seconds_per_epoch", "device", "textrnn_version")
SLOW_QUICK = {"shakespeare"}   # one 1.1M-character stream: its quick form still reads (and trains on) all of it


def invoke(*args: str) -> dict | list:
    """Run the CLI with --json; assert exit 0 and exactly one JSON value on stdout, and return it."""
    result = runner.invoke(app, [*args, "--json"])
    assert result.exit_code == 0, f"{args}: exit {result.exit_code}\n{result.stderr[-2000:]}\n{result.exception!r}"
    lines = [line for line in result.stdout.splitlines() if line.strip()]
    assert len(lines) == 1, f"{args}: stdout must be one JSON line, got {len(lines)}:\n{result.stdout[:2000]}"
    return json.loads(lines[0])


def corpora_of(name: str) -> list[str]:
    if name in GENERATED:
        return []
    if name in NEEDS:
        return NEEDS[name]
    corpus = describe(name)["corpus"]
    return [CORPUS_FOLDER.get(corpus, corpus)]


def recipe_param(name: str):
    marks = []
    for corpus in corpora_of(name):
        marks += [pytest.mark.data, needs_data(corpus)]
    if name in SLOW_QUICK:
        marks.append(pytest.mark.slow)
    return pytest.param(name, marks=marks, id=name)


class QuickRuns:
    """``run NAME --quick --json --out ROOT/NAME``, each recipe once; ``complete`` reuses the korean, english and ptb
    runs."""

    def __init__(self, root: Path):
        self.root = root
        self.printed: dict[str, dict] = {}

    def get(self, name: str) -> tuple[dict, Path]:
        for corpus in corpora_of(name):
            if not data_available(corpus):
                pytest.skip(f"needs the {corpus} corpus: set TEXTRNN_DATA_DIR to a folder holding {corpus}/")
        out = self.root / name
        if name not in self.printed:
            extra = []
            if name == "complete":   # the demo looks for ROOT/korean, ROOT/english and ROOT/ptb, trains them if missing
                extra = [arg for lm in ("korean", "english", "ptb")
                         for arg in ("-s", f"drill.{lm}_run={json.dumps(str(self.root))}")]
            self.printed[name] = invoke("run", name, "--quick", "--out", str(out), *extra)
        return self.printed[name], out


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> QuickRuns:
    return QuickRuns(tmp_path_factory.mktemp("quick-runs"))


# the demo last, so the korean, english and ptb runs are already there for it
RECIPES = sorted(recipe_names(), key=lambda name: name == "complete")


def test_the_recipe_list_is_what_the_tests_cover():
    listed = invoke("list")
    assert [r["name"] for r in listed["recipes"]] == recipe_names()
    assert len(recipe_names()) >= 14
    assert {"hello", "multiply", "sine", "energy", "reuters", "imdb", "ner", "ptb", "shakespeare", "korean",
            "english", "complete", "multi30k", "ko-en"} <= set(recipe_names())


@pytest.mark.parametrize("name", [recipe_param(name) for name in RECIPES])
def test_quick_recipe_writes_the_metrics_contract(runs, name):
    printed, out = runs.get(name)
    saved = json.loads((out / "metrics.json").read_text(encoding="utf-8"))
    assert printed["recipe"] == saved["recipe"] == name
    for key in BASE_FIELDS:
        assert key in saved, f"{name}: metrics.json has no {key!r} (has {sorted(saved)})"
    task = describe(name)["task"]
    assert saved["task"] == task
    assert isinstance(saved["epochs"], int) and saved["epochs"] >= (0 if name == "complete" else 1)
    assert isinstance(saved["seconds"], (int, float)) and saved["seconds"] >= 0
    assert isinstance(saved["seconds_per_epoch"], (int, float))
    if name != "complete":   # the demo trains nothing itself
        assert saved["seconds_per_epoch"] > 0
    assert saved["device"].split(":")[0] in ("cpu", "cuda", "mps")
    assert isinstance(saved["textrnn_version"], str) and saved["textrnn_version"]
    if name in ("multiply", "sine"):
        assert saved["models"], f"{name}: no models compared"
    else:
        assert isinstance(saved["valid"], dict) and saved["valid"]
    if name == "multiply":
        for cell, model in saved["models"].items():
            assert 0.0 <= model["accuracy"] <= 1.0 and model["params"] > 0, cell
            assert {"mse", "mae", "mape", "seconds_per_epoch"} <= set(model), cell
    if name == "energy":
        assert saved["test"]["persistence_mape"] > 0 and saved["test"]["mape"] > 0
    runner_kind = describe(name)["runner"]
    if runner_kind == "text":
        assert (out / "config.json").exists() and (out / "model.safetensors").exists()
        valid = saved["valid"]
        assert valid["task"] == task and valid["n"] > 0
        expected = {"classify": {"accuracy", "macro_f1"}, "tag": {"f1", "precision", "recall", "per_type"},
                    "lm": {"loss", "perplexity"}, "translate": {"loss", "perplexity", "bleu", "bleu_lowercase", "chrf"}}[task]
        assert expected <= set(valid), f"{name}: valid lacks {expected - set(valid)}"
    if runner_kind == "text" and task == "classify":
        assert (out / "curves.png").stat().st_size > 0 and (out / "confusion.png").stat().st_size > 0
    if runner_kind == "text" and task == "lm":
        assert saved["samples"] and all({"prompt", "text"} <= set(s) for s in saved["samples"])
        assert (out / "samples.txt").read_text(encoding="utf-8").strip()
    if name == "shakespeare":
        assert "bits_per_char" in saved["valid"]
    if name == "complete":
        for lm in ("korean", "english", "news"):
            assert 0.0 <= saved["valid"][f"{lm}_choice_accuracy"] <= 1.0
            items = saved[f"{lm}_choice"]["items"]
            assert items and all({"answer", "picked", "unknown"} <= set(item) for item in items)


# --- the saved-run commands on the quick runs ------------------------------------------------------------------


@pytest.mark.data
@needs_data("reuters")
def test_predict_evaluate_info_on_a_quick_classifier(runs, tmp_path):
    _, run = runs.get("reuters")
    labels = json.loads((run / "labels.json").read_text(encoding="utf-8"))
    texts = ["crude oil prices rose sharply", "the bank cut its interest rate"]
    predictions = invoke("predict", str(run), *texts, "--top", "3")
    assert isinstance(predictions, list) and [p["text"] for p in predictions] == texts
    for p in predictions:
        assert p["label"] in labels and 0.0 <= p["probability"] <= 1.0
        assert len(p["top"]) == 3 and all(t["label"] in labels for t in p["top"])
        probabilities = [t["probability"] for t in p["top"]]
        assert probabilities == sorted(probabilities, reverse=True)
        assert (p["top"][0]["label"], p["top"][0]["probability"]) == (p["label"], p["probability"])

    data = tmp_path / "some.jsonl"
    rows = [{"text": "oil output rose in the gulf", "topic": labels[0]},      # the card's own label field
            {"text": "the company said profit rose", "topic": labels[1]},
            {"text": "wheat exports were sold", "topic": labels[2]}]
    data.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    metrics = invoke("evaluate", str(run), "--data", str(data))
    assert metrics["task"] == "classify" and metrics["n"] == 3
    assert 0.0 <= metrics["accuracy"] <= 1.0 and 0.0 <= metrics["macro_f1"] <= 1.0

    info = invoke("info", str(run))
    assert info["task"] == "classify" and info["recipe"] == "reuters" and info["labels"] == labels
    assert info["parameters"] > 0 and info["metrics"]["valid"]["n"] > 0
    text = runner.invoke(app, ["info", str(run)])
    assert text.exit_code == 0 and "classify" in text.stdout


def check_tagged(result: dict, sentence: str, labels: list[str]) -> None:
    assert len(result["tokens"]) == len(result["tags"]) and all(t in labels for t in result["tags"])
    for entity in result["entities"]:
        assert sentence[entity["start"]:entity["end"]] == entity["text"], entity
        assert entity["type"] in {label.split("-", 1)[1] for label in labels if "-" in label}


@pytest.mark.data
@needs_data("conll2003")
def test_tag_and_evaluate_on_a_quick_ner_run(runs, tmp_path):
    _, run = runs.get("ner")
    labels = json.loads((run / "labels.json").read_text(encoding="utf-8"))
    sentence = "Teddy Roosevelt visited Paris in 1905"
    tagged = invoke("tag", str(run), sentence)
    assert isinstance(tagged, list) and len(tagged) == 1
    assert tagged[0]["tokens"] == ["Teddy", "Roosevelt", "visited", "Paris", "in", "1905"]
    check_tagged(tagged[0], sentence, labels)

    conll = tmp_path / "tiny.conll"
    conll.write_text("-DOCSTART- -X- -X- O\n\n"
                     "Marie NNP B-NP B-PER\nCurie NNP I-NP I-PER\nlived VBD B-VP O\nin IN B-PP O\nParis NNP B-NP B-LOC\n"
                     ". . O O\n\n"
                     "The DT B-NP O\nUnited NNP I-NP B-ORG\nNations NNP I-NP I-ORG\nmet VBD B-VP O\n\n",
                     encoding="utf-8")
    metrics = invoke("evaluate", str(run), "--data", str(conll))
    assert metrics["task"] == "tag" and metrics["n"] == 2
    assert {"f1", "precision", "recall", "per_type"} <= set(metrics)
    assert 0.0 <= metrics["f1"] <= 1.0
    # CoNLL-2003's own file names: test.txt, gzipped
    named = tmp_path / "test.txt.gz"
    named.write_bytes(gzip.compress(conll.read_bytes()))
    assert invoke("evaluate", str(run), "--data", str(named)) == metrics


@pytest.mark.data
@needs_data("ptb")
def test_generate_score_complete_on_a_quick_lm(runs):
    _, run = runs.get("ptb")
    first = invoke("generate", str(run), "the market", "--max-tokens", "20", "--seed", "1")
    again = invoke("generate", str(run), "the market", "--max-tokens", "20", "--seed", "1")
    assert first == again and first["prompt"] == "the market" and isinstance(first["text"], str) and first["text"]

    sentences = ["the company said it expects higher profit", "profit the said expects company higher it"]
    scored = invoke("score", str(run), *sentences)
    assert sorted(s["text"] for s in scored) == sorted(sentences)
    assert [s["logprob"] for s in scored] == sorted((s["logprob"] for s in scored), reverse=True)
    for s in scored:
        assert s["logprob"] < 0 and s["perplexity"] > 1 and isinstance(s["unknown"], list)
        assert s["tokens"] and all({"token", "logprob"} <= set(t) for t in s["tokens"])

    completed = invoke("complete", str(run), "the ___ is", "--candidates", "market,company")
    assert completed["text"] == "the ___ is"
    assert sorted(f["fill"] for f in completed["fills"]) == ["company", "market"]
    probabilities = [f["probability"] for f in completed["fills"]]
    assert probabilities == sorted(probabilities, reverse=True)
    for fill in completed["fills"]:
        assert fill["sentence"] == f"the {fill['fill']} is" and fill["logprob"] < 0


# --- textrnn train on tiny files written here -----------------------------------------------------------------


def test_train_classify_on_a_csv_with_named_fields(tmp_path):
    data = tmp_path / "my.csv"
    with open(data, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["id", "review", "stars"])
        rows = [(t, "5") for t in POSITIVE] + [(t, "1") for t in NEGATIVE]
        writer.writerows((i, text, stars) for i, (text, stars) in enumerate(rows * 4))
    out = tmp_path / "mine"
    metrics = invoke("train", "classify", "--data", str(data), "--text-field", "review", "--label-field", "stars",
                     "--out", str(out), "-s", "train.epochs=2", "-s", "model.hidden_dim=16")
    assert metrics["task"] == "classify" and 0.0 <= metrics["valid"]["accuracy"] <= 1.0
    assert sorted(json.loads((out / "labels.json").read_text(encoding="utf-8"))) == ["1", "5"]
    predicted = invoke("predict", str(out), "a wonderful film", "--top", "2")
    assert predicted[0]["label"] in ("1", "5") and len(predicted[0]["top"]) == 2


def test_train_classify_with_a_pretrained_encoder_then_resume_without_pretraining_again(tmp_path):
    data = tmp_path / "reviews.csv"
    with open(data, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["text", "label"])
        writer.writerows([(t, "pos") for t in POSITIVE] * 4 + [(t, "neg") for t in NEGATIVE] * 4)
    out = tmp_path / "pre"
    settings = ["--data", str(data), "--out", str(out), "-s", "train.epochs=1", "-s", "model.hidden_dim=8",
                "-s", "model.conv_channels=8", "-s", "model.conv_kernel=3", "-s", "model.pool_size=2",
                "-s", "pretrain.epochs=1", "-s", "pretrain.batch_size=4", "-s", "pretrain.negatives=8"]
    metrics = invoke("train", "classify", *settings)
    checkpoint = out / "pretrain" / "checkpoint.pt"
    assert metrics["pretrain"]["epochs"] == 1 and checkpoint.exists()
    written = checkpoint.stat().st_mtime_ns
    again = invoke("train", "classify", *settings, "--resume")
    assert again["pretrain"]["epochs"] == 1 and checkpoint.stat().st_mtime_ns == written   # not pretrained again


def test_train_tag_with_a_pretrained_encoder(conll_file, tmp_path):
    out = tmp_path / "t"
    metrics = invoke("train", "tag", "--data", str(conll_file), "--out", str(out), "-s", "train.epochs=1",
                     "-s", "model.hidden_dim=8", "-s", "pretrain.epochs=1", "-s", "pretrain.batch_size=4",
                     "-s", "pretrain.negatives=8")
    assert metrics["pretrain"]["epochs"] == 1
    assert metrics["pretrain"]["texts"] == metrics["sizes"]["train"]          # the train sentences (no extra text)
    assert (out / "pretrain" / "checkpoint.pt").exists()


def test_pretraining_a_language_model_is_refused_with_the_setting_to_change(text_file, tmp_path):
    result = runner.invoke(app, ["train", "lm", "--data", str(text_file), "--out", str(tmp_path / "t"),
                                 "-s", "pretrain.epochs=1", "--json"])
    assert result.exit_code != 0 and "pretrain.epochs = 0" in str(result.exception) + result.stderr


def test_train_tag_on_a_conll_file_then_tag(conll_file, tmp_path):
    out = tmp_path / "my-ner"
    metrics = invoke("train", "tag", "--data", str(conll_file), "--out", str(out),
                     "-s", "train.epochs=12", "-s", "train.early_stopping=0", "-s", "model.hidden_dim=32")
    assert metrics["task"] == "tag" and {"f1", "precision", "recall"} <= set(metrics["valid"])
    labels = json.loads((out / "labels.json").read_text(encoding="utf-8"))
    sentence = "Teddy Roosevelt visited Paris ."
    tagged = invoke("tag", str(out), sentence)[0]
    assert tagged["tokens"] == ["Teddy", "Roosevelt", "visited", "Paris", "."]
    check_tagged(tagged, sentence, labels)
    # a training sentence, learned by heart: the spans are the words' character offsets in the input
    assert tagged["tags"] == ["B-PER", "I-PER", "O", "B-LOC", "O"]
    assert tagged["entities"] == [{"text": "Teddy Roosevelt", "type": "PER", "start": 0, "end": 15},
                                  {"text": "Paris", "type": "LOC", "start": 24, "end": 29}]


def test_train_lm_with_characters_then_generate(text_file, tmp_path):
    out = tmp_path / "my-lm"
    metrics = invoke("train", "lm", "--data", str(text_file), "--tokenizer", "char", "--out", str(out),
                     "-s", "train.epochs=2", "-s", "model.hidden_dim=32", "-s", "model.num_layers=1",
                     "-s", "vocab.min_freq=1")
    assert metrics["task"] == "lm" and "bits_per_char" in metrics["valid"]
    generated = invoke("generate", str(out), "the ", "--max-tokens", "10", "--seed", "1")
    assert generated["prompt"] == "the " and len(generated["text"]) <= 10


def test_the_complete_demo_trains_and_loads_its_models_on_the_device_it_is_given(tmp_path, monkeypatch):
    """`textrnn run complete --device cuda` once filled the blanks on the CPU: the models loaded with load's default."""
    import textrnn.demo as demo
    import textrnn.pipeline as pipeline

    calls = []
    monkeypatch.setattr(demo, "run_recipe", lambda name, **kw: calls.append(("train", name, kw["device"])))
    monkeypatch.setattr(pipeline, "load", lambda run_dir, device="cpu": calls.append(("load", Path(run_dir).name, device)))
    demo._model("korean", tmp_path, True, None, True, "cuda:1", False)
    assert calls == [("train", "korean", "cuda:1"), ("load", "korean", "cuda:1")]


def test_init_from_goes_on_from_a_saved_lm(text_file, tmp_path):
    """Fine-tuning: the second run keeps the first one's tokenizer, vocabulary and model, starts from its weights
    (with a zero learning rate they come out unchanged) and records where it came from."""
    import torch
    from safetensors.torch import load_file

    first, second = tmp_path / "first", tmp_path / "second"
    settings = ["-s", "train.epochs=1", "-s", "model.hidden_dim=16", "-s", "model.num_layers=1",
                "-s", "vocab.min_freq=1"]
    invoke("train", "lm", "--data", str(text_file), "--tokenizer", "char", "--out", str(first), *settings)
    other = tmp_path / "other.txt"
    other.write_text("a different text, with words the first one never had: zebra, quiz.\n" * 40, encoding="utf-8")
    metrics = invoke("train", "lm", "--data", str(other), "--init-from", str(first), "--out", str(second),
                     "--tokenizer", "word", "-s", "train.epochs=1", "-s", "train.lr=0")
    assert metrics["task"] == "lm"
    assert (first / "vocab.json").read_text(encoding="utf-8") == (second / "vocab.json").read_text(encoding="utf-8")
    before, after = load_file(first / "model.safetensors"), load_file(second / "model.safetensors")
    assert before.keys() == after.keys() and all(torch.equal(before[k], after[k]) for k in before)
    source, config = (json.loads((run / "config.json").read_text(encoding="utf-8")) for run in (first, second))
    assert config["meta"]["init_from"] == str(first) and config["tokenizer"]["kind"] == "char"
    assert config["tokenizer"] == source["tokenizer"] and config["model"] == source["model"]


def test_init_from_refuses_another_task_and_unknown_labels(text_file, tmp_path, capsys):
    from textrnn.errors import ConfigError, DataError
    from textrnn.recipes import train_custom

    lm = tmp_path / "lm"
    train_custom("lm", text_file, tokenizer="char", out=lm, quiet=True,
                 overrides=["train.epochs=1", "model.hidden_dim=8", "model.num_layers=1"])
    strange = tmp_path / "strange.txt"
    strange.write_text("xyz qjk vvw\n" * 30, encoding="utf-8")       # letters the first text never had
    train_custom("lm", strange, init_from=lm, out=tmp_path / "strange", overrides=["train.epochs=1"])
    assert "of the train tokens are unknown to it; they all become <unk>" in capsys.readouterr().err
    labelled = tmp_path / "labelled.jsonl"
    labelled.write_text("".join(json.dumps({"text": f"text {i}", "label": "ab"[i % 2]}) + "\n" for i in range(40)),
                        encoding="utf-8")
    with pytest.raises(ConfigError, match="holds a lm pipeline, but this recipe trains a classify model"):
        train_custom("classify", labelled, init_from=lm, out=tmp_path / "x", quiet=True)
    classifier = tmp_path / "clf"
    train_custom("classify", labelled, out=classifier, quiet=True,
                 overrides=["train.epochs=1", "model.hidden_dim=8", "vocab.min_freq=1"])
    more = tmp_path / "more.jsonl"
    more.write_text("".join(json.dumps({"text": f"text {i}", "label": "abc"[i % 3]}) + "\n" for i in range(40)),
                    encoding="utf-8")
    with pytest.raises(DataError, match="labels 'c' that .* does not know"):
        train_custom("classify", more, init_from=classifier, out=tmp_path / "y", quiet=True)


def test_init_from_is_refused_by_the_drills():
    from textrnn.errors import ConfigError
    from textrnn.recipes import run_recipe

    with pytest.raises(ConfigError, match="the hello recipe does not train from a saved run"):
        run_recipe("hello", ["init_from=runs/x"], quick=True, quiet=True)

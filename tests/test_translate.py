"""The translate task through the CLI and the Python API: train on pairs (a TSV, or two aligned files), translate
(greedy and beam, a file streamed, an empty sentence, the attention drawn), evaluate, and the errors of bad pairs."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import torch
from cli_in_process import cli

import textrnn
from textrnn.cli import main

PAIRS = [("ein hund läuft", "a dog runs"), ("eine katze schläft", "a cat sleeps"), ("ein mann liest", "a man reads"),
         ("eine frau singt", "a woman sings"), ("ein kind spielt", "a child plays"), ("zwei hunde laufen", "two dogs run")]
SMALL = ["-s", "train.epochs=3", "-s", "model.hidden_dim=16", "-s", "model.src_embed_dim=8", "-s",
         "model.tgt_embed_dim=8", "-s", "model.encoder_layers=1", "--tokenizer", "word", "-s", "vocab.min_freq=1"]


@pytest.fixture(scope="module")
def translator(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("translate")
    data = folder / "pairs.tsv"
    data.write_text("".join(f"{s}\t{t}\n" for s, t in PAIRS * 6), encoding="utf-8")
    run = folder / "run"
    argv, sys.argv = sys.argv, ["textrnn", "train", "translate", "--data", str(data), "--out", str(run), "--quiet",
                                "--valid", str(data), *SMALL]
    try:
        main()
    finally:
        sys.argv = argv
    return run


def test_train_translate_saves_a_run_that_translates_from_the_cli_and_python(translator, tmp_path, capsys,
                                                                             monkeypatch):
    metrics = json.loads((translator / "metrics.json").read_text())
    assert metrics["task"] == "translate" and {"bleu", "bleu_lowercase", "chrf", "perplexity"} <= set(metrics["valid"])
    code, out, err = cli("translate", str(translator), "ein hund läuft", "", "--beam", "3", "--json", capsys=capsys,
                         monkeypatch=monkeypatch)
    assert code == 0, err
    first, empty = json.loads(out)
    assert first["source"] == "ein hund läuft" and isinstance(first["translation"], str)
    assert empty == {"source": "", "translation": "", "logprob": 0.0}            # an empty sentence: an empty one
    pipe = textrnn.load(translator)
    [greedy], [beamed] = pipe.translate(["eine katze schläft"], beam=1), pipe.translate(["eine katze schläft"], beam=4)
    assert beamed["logprob"] >= greedy["logprob"] - 1e-6 or beamed["translation"] == greedy["translation"]
    picture = tmp_path / "attention.png"
    code, _, err = cli("translate", str(translator), "ein mann liest", "--attention-png", str(picture),
                       capsys=capsys, monkeypatch=monkeypatch)
    assert code == 0 and picture.stat().st_size > 1000, err
    sentences = tmp_path / "sentences.de"            # a line file named by its language, as Multi30k's are
    sentences.write_text("ein kind spielt\neine frau singt\n", encoding="utf-8")
    code, out, err = cli("translate", str(translator), "--file", str(sentences), "--json", capsys=capsys,
                         monkeypatch=monkeypatch)
    assert code == 0 and [json.loads(line)["source"] for line in out.splitlines()] == ["ein kind spielt",
                                                                                        "eine frau singt"]


def test_evaluate_on_aligned_files_and_on_a_tsv(translator, tmp_path, capsys, monkeypatch):
    source, target = tmp_path / "test.de", tmp_path / "test.en"
    source.write_text("\n".join(s for s, _ in PAIRS) + "\n", encoding="utf-8")
    target.write_text("\n".join(t for _, t in PAIRS) + "\n", encoding="utf-8")
    code, out, err = cli("evaluate", str(translator), "--source", str(source), "--target", str(target), "--json",
                         capsys=capsys, monkeypatch=monkeypatch)
    assert code == 0, err
    metrics = json.loads(out)
    assert metrics["n"] == len(PAIRS) and metrics["perplexity"] > 1
    short = tmp_path / "short.en"
    short.write_text("a dog runs\n", encoding="utf-8")
    code, _, err = cli("evaluate", str(translator), "--source", str(source), "--target", str(short), capsys=capsys,
                       monkeypatch=monkeypatch)
    assert code == 2 and f"{source}:2" in err and "has no translation" in err
    code, _, err = cli("evaluate", str(translator), "--source", str(source), capsys=capsys, monkeypatch=monkeypatch)
    assert code == 2 and "--target" in err


def test_a_tsv_line_with_one_column_is_named(tmp_path, capsys, monkeypatch):
    data = tmp_path / "pairs.tsv"
    data.write_text("ein hund läuft\ta dog runs\nnur eine spalte\n", encoding="utf-8")
    code, _, err = cli("train", "translate", "--data", str(data), "--out", str(tmp_path / "run"), *SMALL,
                       capsys=capsys, monkeypatch=monkeypatch)
    assert code == 2 and "pairs.tsv:2: one column" in err


def test_train_on_two_aligned_files(tmp_path, capsys, monkeypatch):
    source, target = tmp_path / "train.de", tmp_path / "train.en"
    copies = [(f"{s} {n}", f"{t} {n}") for n in range(6) for s, t in PAIRS]   # 36 targets, none twice
    source.write_text("\n".join(s for s, _ in copies) + "\n", encoding="utf-8")
    target.write_text("\n".join(t for _, t in copies) + "\n", encoding="utf-8")
    code, _, err = cli("train", "translate", "--data", str(source), "--target", str(target), "--out",
                       str(tmp_path / "run"), "--quiet", *SMALL, capsys=capsys, monkeypatch=monkeypatch)
    assert code == 0, err
    assert json.loads((tmp_path / "run" / "metrics.json").read_text())["valid"]["n"] > 0


def test_word2vec_starts_both_sides_from_one_set_of_vectors(tmp_path, capsys, monkeypatch):
    """--embedding word2vec: one skip-gram over both sides (and monolingual text), copied into the source and the
    target embedding, so a word both languages write (a name) starts with the same vector on both sides."""
    from textrnn.corpus import Example
    from textrnn.errors import ConfigError
    from textrnn.pipeline import Pipeline

    named = [(f"{s} tom", f"{t} tom") for s, t in PAIRS] * 3
    examples = [Example(text=s, target=t) for s, t in named]
    model = {"hidden_dim": 16, "src_embed_dim": 8, "tgt_embed_dim": 8, "encoder_layers": 1}
    pipe = Pipeline.for_task("translate", train=examples, tokenizer="word", vocab={"min_freq": 1}, model=model,
                             embedding={"kind": "word2vec", "freeze": True}, quiet=True,
                             extra_text=["tom läuft", "tom runs and tom sleeps"])
    source, target = pipe.parts["source_vocab"], pipe.parts["target_vocab"]
    src, tgt = pipe.model.src_embedding.weight, pipe.model.tgt_embedding.weight
    assert src.shape[1] == 8 and not src.requires_grad and not tgt.requires_grad       # frozen, as asked
    assert torch.equal(src[source.stoi["tom"]], tgt[target.stoi["tom"]])
    assert not torch.equal(src[source.stoi["hund"]], src[source.stoi["katze"]])
    assert pipe.word2vec_report["source"]["vocab_coverage"] == 1.0
    learned = Pipeline.for_task("translate", train=examples, tokenizer="word", vocab={"min_freq": 1}, model=model,
                                quiet=True)
    assert not torch.equal(learned.model.src_embedding.weight[source.stoi["tom"]],
                           learned.model.tgt_embedding.weight[target.stoi["tom"]])
    data = tmp_path / "pairs.tsv"
    data.write_text("".join(f"{s} {n}\t{t} {n}\n" for n in range(6) for s, t in named[:len(PAIRS)]),
                    encoding="utf-8")   # 36 targets, none twice: a validation can be carved
    code, _, err = cli("train", "translate", "--data", str(data), "--out", str(tmp_path / "run"), "--quiet",
                       "--embedding", "word2vec", *SMALL, capsys=capsys, monkeypatch=monkeypatch)
    assert code == 0, err
    report = json.loads((tmp_path / "run" / "metrics.json").read_text())["word2vec"]
    assert set(report) == {"source", "target"}
    code, _, err = cli("train", "translate", "--data", str(data), "--out", str(tmp_path / "other"), "--embedding",
                       "word2vec", *SMALL, "-s", "model.tgt_embed_dim=6", capsys=capsys, monkeypatch=monkeypatch)
    assert code == 2 and "model.src_embed_dim (8) equal to model.tgt_embed_dim (6)" in err
    with pytest.raises(ConfigError, match="set translate.joint = true"):   # two piece models: one piece, two meanings
        Pipeline.for_task("translate", train=examples, tokenizer={"kind": "sentencepiece", "vocab_size": 30},
                          model=model, embedding="word2vec", settings={"joint": False}, quiet=True)

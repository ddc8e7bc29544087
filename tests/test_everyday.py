"""Everyday completion (#34): a language model's sources in a mixture, candidates ranked without favouring the
frequent word, and the licences of what a run learned from."""
from __future__ import annotations

import json
import sys

import numpy as np
import pytest
from test_generate import TableLM

from textrnn.cli import main
from textrnn.corpus import Example, licenses
from textrnn.errors import ConfigError
from textrnn.pipeline import Pipeline
from textrnn.tasks.lm import Encoded
from textrnn.tasks.lm.fill import complete
from textrnn.tokenize import WordTokenizer
from textrnn.vocab import EOS_ID, SPECIALS, Vocab


def test_an_epoch_reads_each_source_at_its_rate_shuffled_and_seeded():
    # three lines of source a (ids 10, 11, 12) and one of b (id 20), each ending in <eos>
    ids = np.asarray([10, 3, 11, 3, 12, 3, 20, 3])
    lines = Encoded(ids, 8, ends=np.asarray([2, 4, 6, 8]), sources=["a", "a", "a", "b"])
    twice = lines.epoch_stream({"b": 2.0}, seed=0)
    assert sorted(twice.tolist()) == sorted([10, 3, 11, 3, 12, 3, 20, 3, 20, 3])
    none = lines.epoch_stream({"a": 0.0}, seed=0)
    assert none.tolist() == [20, 3]
    read = [sum(t in (10, 11, 12) for t in lines.epoch_stream({"a": 0.5}, seed=s).tolist()) for s in range(200)]
    assert set(read) <= {0, 1, 2, 3} and 1.2 < np.mean(read) < 1.8          # each line of a: one epoch in two
    assert lines.epoch_stream({"a": 0.5}, seed=7).tolist() == lines.epoch_stream({"a": 0.5}, seed=7).tolist()
    assert sorted(lines.epoch_stream({}, seed=1).tolist()) == sorted(ids.tolist())   # no rates: all, shuffled


def test_a_mixture_trains_and_refuses_a_source_the_lines_lack():
    lines = [Example(text=t, meta={"source": s}) for t, s in (("the cat sat", "stories"), ("we ate rice", "talk"))] * 20
    pipe = Pipeline.for_task("lm", train=lines, settings={"mixture": {"stories": 2.0, "talk": 0.5}, "bptt": 4},
                             model={"hidden_dim": 4, "num_layers": 1, "embedding": {"dim": 4}}, quiet=True)
    assert len(pipe.fit(lines, lines[:10], epochs=2, batch_size=4, quiet=True).epochs) == 2
    wrong = Pipeline.for_task("lm", train=lines, settings={"mixture": {"films": 2.0}}, quiet=True,
                              model={"hidden_dim": 4, "num_layers": 1, "embedding": {"dim": 4}})
    with pytest.raises(ConfigError, match="lm.mixture names sources.*films.*its sources are stories, talk"):
        wrong.fit(lines, lines[:10], epochs=1, quiet=True)


def test_pmi_ranks_the_fitting_fill_above_the_merely_frequent_one():
    words = ["i", "ate", "drank", "water"]
    vocab = Vocab([*SPECIALS, *words])
    i, ate, drank, water = (vocab.stoi[w] for w in words)
    model = TableLM(len(vocab))
    model.set((EOS_ID,), {i: 0.4, ate: 0.55, drank: 0.05})   # alone, "ate" is far the likelier
    model.set((i,), {ate: 0.7, drank: 0.2})
    model.set((ate,), {water: 0.2, EOS_ID: 0.8})
    model.set((drank,), {water: 0.5, EOS_ID: 0.5})
    model.set((water,), {EOS_ID: 1.0})
    tokenizer = WordTokenizer()
    plain = complete(model, tokenizer, vocab, "i ___ water", candidates=["ate", "drank"])
    calibrated = complete(model, tokenizer, vocab, "i ___ water", candidates=["ate", "drank"], pmi=True)
    assert plain["fills"][0]["fill"] == "ate"                 # the frequent verb wins on the sentence alone
    assert calibrated["fills"][0]["fill"] == "drank"          # and loses once its own frequency is taken out
    assert calibrated["fills"][0]["pmi"] > calibrated["fills"][1]["pmi"]
    assert sum(f["probability"] for f in calibrated["fills"]) == pytest.approx(1.0)


def test_a_run_names_the_licences_of_what_it_learned_from(tmp_path, capsys, monkeypatch):
    from conftest import DATA_DIR, data_available

    if not data_available("korean"):
        pytest.skip("needs the korean corpus: set TEXTRNN_DATA_DIR to a folder holding korean/")
    found = licenses("korean")
    assert found["korean/kss_sentences.txt.gz"].startswith("CC BY-NC-SA 4.0")
    assert found["korean/sae4k_utterances.txt.gz"] == "CC BY-SA 4.0" and len(found) == 7
    assert set(licenses("everyday-en", "imdb")) >= {"everyday-en/dailydialog.txt.gz", "imdb/train.jsonl.gz"}
    run = tmp_path / "run"
    monkeypatch.setattr(sys, "argv", ["textrnn", "run", "korean", "--quick", "--out", str(run), "--quiet",
                                      "--data-dir", DATA_DIR])
    main()
    monkeypatch.setattr(sys, "argv", ["textrnn", "info", str(run), "--json"])
    capsys.readouterr()
    main()
    shown = json.loads(capsys.readouterr().out)["licenses"]
    assert "non-commercial" in shown["korean/kss_sentences.txt.gz"]

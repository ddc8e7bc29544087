"""Saved pipelines: save -> load gives identical outputs; every kind of damaged or hostile file is refused with
a clear error and no code from it runs."""
import json
import pickle
from pathlib import Path

import pytest
import torch

import textrnn
from textrnn.corpus import Example
from textrnn.errors import DataError, PipelineError
from textrnn.pipeline import Pipeline
from textrnn.tasks.tag import make_batch as make_tag_batch

TEXTS = ["great film , loved it", "awful film , hated it", "wonderful acting", "boring story"]


def labelled_examples() -> list[Example]:
    """TEXTS with their labels, four times over: a tiny classification train set."""
    return [Example(text=t, label=label) for t, label in zip(TEXTS, ["pos", "neg", "pos", "neg"], strict=True)] * 4


@pytest.fixture
def classifier():
    train = labelled_examples()
    pipe = Pipeline.for_task("classify", train=train, model={"hidden_dim": 8, "embedding": {"dim": 8}},
                             train_config={"epochs": 2, "batch_size": 4}, quiet=True)
    pipe.fit(train, train, quiet=True)
    return pipe


def test_save_load_gives_identical_predictions(classifier, tmp_path):
    classifier.save(tmp_path / "run", metrics={"valid": {"accuracy": 1.0}})
    again = textrnn.load(tmp_path / "run", device=str(classifier.device))   # on a GPU, compare GPU with GPU
    assert again.device == classifier.device
    assert again.vocab == classifier.vocab and again.labels.itos == classifier.labels.itos
    before = classifier.predict(TEXTS, top=2)
    after = again.predict(TEXTS, top=2)
    assert [r["label"] for r in before] == [r["label"] for r in after]
    for a, b in zip(before, after, strict=True):
        assert a["probability"] == pytest.approx(b["probability"], abs=1e-6)
    assert json.loads((tmp_path / "run" / "config.json").read_text())["format_version"] == 2


def test_predict_shape_and_unknown_words(classifier):
    result = classifier.predict(["zzz qqq never seen"], top=2)[0]
    assert set(result) == {"text", "label", "probability", "top"}
    assert len(result["top"]) == 2 and sum(t["probability"] for t in result["top"]) == pytest.approx(1.0, abs=1e-5)


def test_wrong_task_command_is_refused(classifier):
    with pytest.raises(PipelineError, match="'tag' needs a tag pipeline.*use: predict"):
        classifier.tag(["hello"])


@pytest.fixture
def saved(classifier, tmp_path):
    return classifier.save(tmp_path / "run")


def test_missing_file(saved):
    (saved / "vocab.json").unlink()
    with pytest.raises(PipelineError, match="vocab.json: missing"):
        textrnn.load(saved)


def test_corrupted_file_fails_its_checksum(saved):
    (saved / "model.safetensors").write_bytes(b"garbage")
    with pytest.raises(PipelineError, match="model.safetensors: does not match the checksum"):
        textrnn.load(saved)


def test_wrong_format_version(saved):
    config = json.loads((saved / "config.json").read_text())
    config["format_version"] = 99
    (saved / "config.json").write_text(json.dumps(config))
    with pytest.raises(PipelineError, match="format_version 99 is not supported"):
        textrnn.load(saved)


def _rewrite(saved, name, data: bytes):
    """Replace a file and fix its checksum, as an attacker would."""
    import hashlib

    (saved / name).write_bytes(data)
    config = json.loads((saved / "config.json").read_text())
    config["files"][name] = hashlib.sha256(data).hexdigest()
    (saved / "config.json").write_text(json.dumps(config))


def test_pickle_weights_with_code_are_refused_and_never_run(saved, tmp_path):
    marker = tmp_path / "pwned"

    class Payload:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    _rewrite(saved, "model.safetensors", pickle.dumps(Payload()))
    with pytest.raises(PipelineError, match="not a readable safetensors file"):
        textrnn.load(saved)
    assert not marker.exists()


def test_vocab_that_is_not_a_list_of_strings(saved):
    _rewrite(saved, "vocab.json", json.dumps({"a": 1}).encode())
    with pytest.raises(PipelineError, match="list of strings"):
        textrnn.load(saved)


def test_vocabulary_size_that_does_not_match_the_weights(saved):
    vocab = json.loads((saved / "vocab.json").read_text()) + ["extra1", "extra2"]
    _rewrite(saved, "vocab.json", json.dumps(vocab).encode())
    config = json.loads((saved / "config.json").read_text())
    config["parts"]["vocab"]["size"] = len(vocab)
    (saved / "config.json").write_text(json.dumps(config))
    with pytest.raises(PipelineError, match=f"vocabulary has {len(vocab)} tokens but the weights expect {len(vocab) - 2}"):
        textrnn.load(saved)


def test_config_with_unexpected_keys_or_types(saved):
    config = json.loads((saved / "config.json").read_text())
    config["train"]["epochs"] = "ten"
    (saved / "config.json").write_text(json.dumps(config))
    with pytest.raises(PipelineError, match="train.epochs: expected an integer"):
        textrnn.load(saved)
    config["train"]["epochs"] = 2
    config["surprise"] = {"__class__": "os.system"}
    (saved / "config.json").write_text(json.dumps(config))
    with pytest.raises(PipelineError, match="unknown setting 'config.surprise'"):
        textrnn.load(saved)


def test_safetensors_with_wrong_shapes(saved, classifier):
    from safetensors.torch import save

    state = {k: torch.zeros(3, 3) for k in classifier.model.state_dict()}
    _rewrite(saved, "model.safetensors", save(state))
    with pytest.raises(PipelineError, match="has shape \\(3, 3\\)"):
        textrnn.load(saved)


def test_a_failed_save_keeps_the_previous_model(classifier, tmp_path, monkeypatch):
    run = classifier.save(tmp_path / "run")
    good = (run / "model.safetensors").read_bytes()
    import textrnn.runfiles

    def explode(model, path):
        with open(path, "wb") as f:
            f.write(b"half")
        raise OSError("No space left on device")

    monkeypatch.setattr(textrnn.runfiles, "write_weights", explode)
    with pytest.raises(OSError):
        classifier.save(run)
    assert (run / "model.safetensors").read_bytes() == good
    assert not list(run.glob(".tmp-*"))
    textrnn.load(run)


def test_tagger_and_lm_roundtrip(tmp_path, conll_file, text_file):
    from textrnn.corpus import Corpus

    corpus = Corpus.from_files(train=conll_file, valid=conll_file, task="tag")
    tagger = Pipeline.for_task("tag", corpus, tokenizer={"kind": "word", "lower": True},
                               model={"hidden_dim": 16, "char_dim": 8, "casing_dim": 4, "crf": True,
                                      "embedding": {"dim": 8}}, train_config={"epochs": 1}, quiet=True)
    tagger.fit(corpus=corpus, quiet=True)
    tagger.save(tmp_path / "tagger")
    again = textrnn.load(tmp_path / "tagger", device=str(tagger.device))
    sentence = "Teddy Roosevelt visited Paris ."
    assert again.tag([sentence]) == tagger.tag([sentence])
    result = again.tag([sentence])[0]
    assert result["tokens"] == ["Teddy", "Roosevelt", "visited", "Paris", "."]
    for entity in result["entities"]:
        assert sentence[entity["start"]:entity["end"]] == entity["text"]

    lines = Corpus.from_files(train=text_file, task="lm")
    lm = Pipeline.for_task("lm", lines, model={"hidden_dim": 16, "num_layers": 1, "embedding": {"dim": 16}},
                           settings={"bptt": 8}, train_config={"epochs": 1, "batch_size": 4}, quiet=True)
    lm.fit(corpus=lines, quiet=True)
    lm.save(tmp_path / "lm")
    again = textrnn.load(tmp_path / "lm", device=str(lm.device))
    assert again.score(["the cat sat"])[0]["logprob"] == pytest.approx(lm.score(["the cat sat"])[0]["logprob"], abs=1e-5)
    assert again.generate("the", max_tokens=5, seed=1) == lm.generate("the", max_tokens=5, seed=1)


def test_a_crf_tagger_on_iob2_tags_never_predicts_a_path_iob2_forbids(tmp_path, conll_file):
    from textrnn.corpus import Corpus
    from textrnn.models.crf import CRF

    corpus = Corpus.from_files(train=conll_file, valid=conll_file, task="tag")
    settings = dict(model={"hidden_dim": 8, "crf": True, "members": 2, "embedding": {"dim": 8}},
                    train_config={"epochs": 1}, quiet=True)
    tagger = Pipeline.for_task("tag", corpus, **settings)
    crfs = [m for m in tagger.model.modules() if isinstance(m, CRF)]
    names = tagger.labels.itos
    assert len(crfs) == 2
    for crf in crfs:      # I-PER only after B-PER or I-PER, and never first
        allowed = {(names[i], names[j]) for i, j in crf.allowed_transitions.nonzero().tolist()}
        assert ("O", "I-PER") not in allowed and ("B-LOC", "I-PER") not in allowed and ("B-PER", "I-PER") in allowed
        assert not crf.allowed_start[names.index("I-PER")]
    tagger.fit(corpus=corpus, quiet=True)
    tagger.save(tmp_path / "tagger")
    again = textrnn.load(tmp_path / "tagger", device=str(tagger.device))
    assert torch.equal(again.model.members[1].crf.allowed_transitions, crfs[1].allowed_transitions)
    sentence = "Teddy Roosevelt visited Paris ."
    assert again.tag([sentence]) == tagger.tag([sentence])
    # tags given through the API that break IOB2 leave the CRF free (a constraint would make their loss huge)
    broken = [Example(tokens=["Paris", "Roosevelt"], tags=["O", "I-PER"])] + list(corpus.train)
    free = Pipeline.for_task("tag", train=broken, **settings)
    assert all(bool(m.allowed_transitions.all()) for m in free.model.modules() if isinstance(m, CRF))
    # ... but a held tagger (a saved one trained further, say) refuses them, naming the example and the tag
    with pytest.raises(DataError, match=r"train example 1: tag 2 'I-PER' comes after 'O'.*CRF allows only IOB2"):
        again.fit(train=broken, valid=list(corpus.valid), epochs=1, quiet=True)


def test_saved_files_follow_the_umask(classifier, tmp_path):
    import os
    import stat

    old = os.umask(0o022)
    try:
        run_dir = classifier.save(tmp_path / "shared-run")
    finally:
        os.umask(old)
    for path in run_dir.iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o644, path.name


def test_a_weights_file_over_the_file_size_limit_fails_naming_the_cause(classifier, tmp_path):
    import resource
    import signal
    import subprocess
    import sys

    classifier.save(tmp_path / "good")
    weights = (tmp_path / "good" / "model.safetensors").stat().st_size
    largest_other = max(p.stat().st_size for p in (tmp_path / "good").iterdir() if p.name != "model.safetensors")
    limit = (weights + largest_other) // 2          # the small files fit, the weights do not
    assert largest_other < limit < weights
    script = ("import sys, textrnn\n"
              "from textrnn.errors import SaveError\n"
              "try:\n"
              "    textrnn.load(sys.argv[1]).save(sys.argv[2])\n"
              "except SaveError as error:\n"
              "    print(error); sys.exit(3)\n")

    def limited():                                  # a real file-size limit; EFBIG instead of SIGXFSZ
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    done = subprocess.run([sys.executable, "-c", script, str(tmp_path / "good"), str(tmp_path / "new")],
                          capture_output=True, text=True, preexec_fn=limited, timeout=120)
    assert done.returncode == 3, done.stderr
    assert "model.safetensors: cannot be written (File too large)" in done.stdout
    assert "raise the file-size limit (ulimit -f)" in done.stdout
    assert not (tmp_path / "new" / "model.safetensors").exists()
    assert not list((tmp_path / "new").glob(".tmp-*"))


def test_words_of_the_extra_text_join_the_vocabulary_with_their_word2vec_vectors():
    train = labelled_examples()
    extra = ["a superb film , superb acting", "a superb story", "rare word"] * 3
    settings = dict(train=train, model={"hidden_dim": 8, "embedding": {"kind": "word2vec", "dim": 8, "epochs": 1,
                                                                       "workers": 1}}, extra_text=extra, quiet=True)
    plain = Pipeline.for_task("classify", **settings)
    assert "superb" not in plain.vocab
    wider = Pipeline.for_task("classify", vocab={"extra_min_freq": 4}, **settings)
    assert "superb" in wider.vocab and "rare" not in wider.vocab       # 9 times against 3
    assert wider.vocab.itos[: len(plain.vocab)] == plain.vocab.itos
    row = wider.word_embeddings()[0].weight[wider.vocab.stoi["superb"]]
    assert row.abs().sum() > 0 and wider.word2vec_report["vocab_coverage"] == 1.0


def test_an_ensemble_trains_saves_and_loads_with_word2vec_in_every_member(tmp_path):
    train = labelled_examples()
    pipe = Pipeline.for_task("classify", train=train, quiet=True,
                             model={"hidden_dim": 8, "members": 2,
                                    "embedding": {"kind": "word2vec", "dim": 8, "epochs": 1, "workers": 1}},
                             train_config={"epochs": 1, "batch_size": 4})
    tables = [e.weight.detach().clone() for e in pipe.word_embeddings()]
    assert len(tables) == 2 and torch.equal(tables[0], tables[1])      # the same vectors start every member
    pipe.fit(train, train, quiet=True)
    pipe.save(tmp_path / "run")
    again = textrnn.load(tmp_path / "run")
    assert len(again.model.members) == 2
    for a, b in zip(pipe.predict(TEXTS, top=2), again.predict(TEXTS, top=2), strict=True):
        assert a["label"] == b["label"] and a["probability"] == pytest.approx(b["probability"], abs=1e-6)


def test_a_sentencepiece_lm_that_lower_cases_scores_capitals_as_in_training(tmp_path):
    lines = [Example(text=t) for t in ["the apple and pear salad was fresh", "we ate a pear today"] * 30]
    lm = Pipeline.for_task("lm", train=lines, tokenizer={"kind": "sentencepiece", "vocab_size": 300, "lower": True},
                           model={"hidden_dim": 8, "num_layers": 1, "embedding": {"dim": 8}}, settings={"bptt": 8},
                           train_config={"epochs": 1, "batch_size": 4}, quiet=True)
    capital, lower = lm.score(["The apple", "the apple"])
    assert [t["token"] for t in capital["tokens"]] == [t["token"] for t in lower["tokens"]]
    lm.save(tmp_path / "lm")
    again = textrnn.load(tmp_path / "lm")
    assert again.settings.bptt == 8
    assert again.tokenizer.lower and again.score(["The apple"])[0]["logprob"] == pytest.approx(lower["logprob"], abs=1e-5)


def _another_model(pipe):
    with torch.no_grad():
        for parameter in pipe.model.parameters():
            parameter.add_(1.0)   # a mix of old and new files would show in the predictions


def test_a_save_cut_off_before_its_commit_leaves_the_old_pipeline(saved, classifier, monkeypatch):
    before = textrnn.load(saved).predict(TEXTS, top=2)
    _another_model(classifier)

    def fail(model, path):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("textrnn.runfiles.write_weights", fail)
    with pytest.raises(OSError):
        classifier.save(saved)
    assert textrnn.load(saved).predict(TEXTS, top=2) == before


def test_a_save_cut_off_while_moving_its_files_in_is_read_by_a_load_and_finished_by_the_next_save(saved, classifier,
                                                                                                     monkeypatch):
    import os

    import textrnn.fileio

    _another_model(classifier)
    expected = classifier.predict(TEXTS, top=2)
    replace, moved = os.replace, []

    def crash_after_two_moves(source, target):
        if Path(source).parent.name == ".staging" and Path(target).parent.name != ".staging":
            if len(moved) == 2:
                raise KeyboardInterrupt   # the process dies here: two new files are in, config.json is old
            moved.append(Path(target).name)
        replace(source, target)

    monkeypatch.setattr(textrnn.fileio.os, "replace", crash_after_two_moves)
    with pytest.raises(KeyboardInterrupt):
        classifier.save(saved)
    monkeypatch.setattr(textrnn.fileio.os, "replace", replace)
    assert moved == ["model.safetensors", "labels.json"]
    again = textrnn.load(saved)
    assert (saved / ".staging").exists()          # a reader writes nothing
    for a, b in zip(again.predict(TEXTS, top=2), expected, strict=True):
        assert a["label"] == b["label"] and a["probability"] == pytest.approx(b["probability"], abs=1e-6)
    again.save(saved)
    assert not (saved / ".staging").exists()
    assert textrnn.load(saved).predict(TEXTS, top=2) == again.predict(TEXTS, top=2)


def test_a_tagger_learns_the_middle_conll_columns_with_auxiliary_heads_and_tags_plain_text(tmp_path):
    rows = [[("Teddy", "NNP", "B-NP", "B-PER"), ("Roosevelt", "NNP", "I-NP", "I-PER"), ("visited", "VBD", "B-VP", "O"),
             ("Paris", "NNP", "B-NP", "B-LOC")],
            [("Ada", "NNP", "B-NP", "B-PER"), ("wrote", "VBD", "B-VP", "O"), ("about", "IN", "B-PP", "O"),
             ("Babbage", "NNP", "B-NP", "B-PER"), (".", ".", "O", "O")]]
    path = tmp_path / "train.conll"
    path.write_text("\n\n".join("\n".join(" ".join(cells) for cells in sentence) for sentence in rows * 4) + "\n",
                    encoding="utf-8")
    corpus = textrnn.Corpus.from_files(path, valid=path, task="tag")
    assert corpus.train[1].meta["columns"] == [["NNP", "VBD", "IN", "NNP", "."], ["B-NP", "B-VP", "B-PP", "B-NP", "O"]]
    pipe = Pipeline.for_task("tag", corpus, quiet=True, train_config={"epochs": 1, "batch_size": 4},
                             model={"hidden_dim": 8, "embedding": {"dim": 8}, "crf": True, "aux_weight": 0.5})
    assert pipe.model_config.aux_labels == [[".", "IN", "NNP", "VBD"], ["B-NP", "B-PP", "B-VP", "I-NP", "O"]]
    encoded = pipe.encode(corpus.train)
    assert encoded.aux[0].tolist() == [[2, 0], [2, 3], [3, 2], [2, 0]]
    batch = make_tag_batch(pipe, encoded, [0, 1])
    assert batch.aux.shape == (2, 5, 2) and batch.aux[0, 4].tolist() == [-1, -1]   # padding has no value
    model = pipe.model.eval()
    _, plain = model(batch.ids, batch.lengths, batch.targets)
    _, both = model(batch.ids, batch.lengths, batch.targets, aux_targets=batch.aux)
    keep = batch.aux[..., 0] >= 0
    real = model.features(batch.ids, batch.lengths)[keep]
    expected = sum(torch.nn.functional.cross_entropy(head(real), batch.aux[..., k][keep])
                   for k, head in enumerate(model.aux))
    assert both.item() == pytest.approx(plain.item() + 0.5 * expected.item(), rel=1e-5)
    pipe.fit(corpus.train, corpus.valid, quiet=True)
    pipe.save(tmp_path / "run")
    again = textrnn.load(tmp_path / "run")
    assert again.model_config.aux_labels == pipe.model_config.aux_labels
    assert again.tag(["Teddy visited Paris"]) == pipe.tag(["Teddy visited Paris"])   # plain text: no columns needed


def test_auxiliary_heads_without_middle_columns_are_left_out(conll_file, tmp_path, capsys):
    two_columns = tmp_path / "two.conll"
    two_columns.write_text("\n".join(" ".join(line.split()[::3]) for line in conll_file.read_text().splitlines()),
                           encoding="utf-8")
    corpus = textrnn.Corpus.from_files(two_columns, valid=two_columns, task="tag")
    pipe = Pipeline.for_task("tag", corpus, model={"hidden_dim": 8, "embedding": {"dim": 8}, "aux_weight": 0.5})
    assert pipe.model.aux is None and pipe.encode(corpus.train).aux is None
    assert "no columns between token and tag" in capsys.readouterr().err

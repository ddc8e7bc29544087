"""ONNX export: the traced paths equal the models' forward; exported runs of every task answer as PyTorch does
(through ``textrnn.onnx_runtime``, at several lengths and batch sizes); a translator is refused with the reason.

The runs are tiny, trained here on texts written here, and exported once per module (an export takes seconds).
"""
from __future__ import annotations

import itertools
import json
import subprocess
import sys

import numpy as np
import pytest
import torch
from conftest import NEGATIVE, POSITIVE

from textrnn import onnx_runtime
from textrnn.corpus import Example
from textrnn.errors import ConfigError, DataError, PipelineError
from textrnn.export import ExportError, export_run
from textrnn.models import (
    ClassifierConfig,
    LanguageModel,
    LMConfig,
    Regressor,
    RegressorConfig,
    TaggerConfig,
    build_classifier,
    build_tagger,
    traceable,
)
from textrnn.pipeline import Pipeline, load
from textrnn.tasks.regress import Encoded

TINY = {"epochs": 2, "batch_size": 4, "device": "cpu", "threads": 1}
SENTENCES = [
    (["Teddy", "Roosevelt", "visited", "Paris", "."], ["B-PER", "I-PER", "O", "B-LOC", "O"]),
    (["Marie", "Curie", "worked", "in", "Warsaw", "."], ["B-PER", "I-PER", "O", "O", "B-LOC", "O"]),
    (["The", "United", "Nations", "met", "in", "Geneva"], ["O", "B-ORG", "I-ORG", "O", "O", "B-LOC"]),
]
LINES = ["the cat sat on the mat", "the dog sat on the log", "a cat and a dog", "the mat and the log"]
TEXTS = ["a", "great film", "a dull film with bad acting and a boring story , awful music , i hated it " * 3,
         "wonderful", "unseen words here"]


def train(task: str, examples, model: dict, **options) -> Pipeline:
    pipe = Pipeline.for_task(task, train=examples, model=model, train_config=TINY, quiet=True, **options)
    pipe.fit(examples, examples[:4], quiet=True)
    return pipe


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """name -> (run folder, export folder) for classifiers, a CRF tagger, word, character and sentencepiece LMs, and
    a regressor."""
    root = tmp_path_factory.mktemp("export")
    torch.manual_seed(0)
    reviews = [Example(text=t, label="pos") for t in POSITIVE] + [Example(text=t, label="neg") for t in NEGATIVE]
    tagged = [Example(tokens=w, tags=t) for w, t in SENTENCES] * 3
    pipes = {
        "classify": train("classify", reviews, {"hidden_dim": 8, "bidirectional": True, "pooling": "max+mean",
                                                 "conv_channels": 6, "conv_kernel": 3, "pool_size": 2,
                                                 "embedding": {"dim": 8}}),
        "tag": train("tag", tagged, {"hidden_dim": 8, "crf": True, "char_dim": 4, "char_hidden": 4, "casing_dim": 3,
                                     "embedding": {"dim": 8}}, tokenizer={"kind": "word", "lower": True}),
        "lm": train("lm", [Example(text=t) for t in LINES * 5], {"hidden_dim": 12, "num_layers": 2,
                                                                 "embedding": {"dim": 8}}),
        "lm-char": train("lm", [Example(text=t) for t in LINES * 3],
                         {"cell": "gru", "hidden_dim": 12, "num_layers": 1, "embedding": {"dim": 8}},
                         tokenizer="char", settings={"eos_per_example": False, "start": " "}),
        "lm-spm": train("lm", [Example(text=t) for t in LINES * 5], {"hidden_dim": 12, "embedding": {"dim": 8}},
                        tokenizer={"kind": "sentencepiece", "vocab_size": 300}),
        "classify-rnn": train("classify", reviews, {"cell": "rnn", "hidden_dim": 8, "bidirectional": True,
                                                     "embedding": {"dim": 8}}),
    }
    runs = {}
    for name, pipe in pipes.items():
        runs[name] = (pipe.save(root / name), root / f"{name}-onnx")
    series = np.random.default_rng(0).normal(size=(16, 5, 2)).astype(np.float32)
    data = Encoded(series, series.sum(axis=(1, 2))[:, None].astype(np.float32))
    regressor = Pipeline.for_task("regress", train=data, model={"input_dim": 2, "output_dim": 1, "cell": "gru",
                                                                 "hidden_dim": 6, "mode": "many_to_one"},
                                  train_config=TINY, quiet=True)
    regressor.fit(data, data, quiet=True)
    runs["regress"] = (regressor.save(root / "regress"), root / "regress-onnx")
    for run, out in runs.values():
        export_run(run, out)
    return runs


# ----- the traced paths ---------------------------------------------------------------------------------------------
IDS = torch.tensor([[5, 6, 7, 8, 9, 10, 11, 12, 13], [5, 6, 7, 8, 9, 0, 0, 0, 0], [5, 0, 0, 0, 0, 0, 0, 0, 0]])
LENGTHS = torch.tensor([9, 5, 1])


@pytest.mark.parametrize("cell,bidirectional,conv,pooling,members", [
    (c, b, conv, p, m) for c, b, conv, p, m in itertools.product(("rnn", "lstm", "gru"), (False, True), (0, 4),
                                                                 ("last", "max+mean"), (1, 2))])
def test_the_traced_classifier_equals_forward(cell, bidirectional, conv, pooling, members):
    torch.manual_seed(0)
    config = ClassifierConfig(cell=cell, bidirectional=bidirectional, conv_channels=conv, conv_kernel=4,
                              pool_size=2, pooling=pooling, hidden_dim=6, num_layers=2, members=members)
    config.embedding.dim = 5
    model = build_classifier(config, 20, 3).eval()
    with torch.no_grad():
        expected = torch.softmax(model(IDS, LENGTHS)[0].float(), -1)
        assert torch.allclose(traceable.ClassifierGraph(model)(IDS, LENGTHS), expected, atol=1e-6)


@pytest.mark.parametrize("cell,bidirectional,chars,crf,members", [
    (c, b, ch, crf, m) for c, b, ch, crf, m in itertools.product(("rnn", "lstm", "gru"), (False, True),
                                                                 ("", "cnn", "lstm"), (False, True), (1, 2))])
def test_the_traced_tagger_equals_forward(cell, bidirectional, chars, crf, members):
    torch.manual_seed(0)
    config = TaggerConfig(cell=cell, bidirectional=bidirectional, hidden_dim=6, crf=crf, members=members,
                          char_dim=3 if chars else 0, char_encoder=chars or "cnn", char_hidden=3, char_vocab_size=9,
                          casing_dim=2)
    config.embedding.dim = 5
    model = build_tagger(config, 20, 4).eval()
    characters = torch.randint(1, 9, (3, 9, 4)).masked_fill((IDS == 0)[..., None], 0)
    characters[..., 2:] = 0
    casing = torch.where(IDS > 0, 2, 0)
    with torch.no_grad():
        taggers = list(model.members) if members > 1 else [model]
        emissions = torch.stack([t.emissions(IDS, LENGTHS, characters if chars else None, casing) for t in taggers])
        expected = emissions.mean(0) if crf else torch.softmax(emissions, -1).mean(0)
        got = traceable.TaggerGraph(model)(IDS, LENGTHS, characters if chars else None, casing)
    assert torch.allclose(got, expected, atol=1e-6)


@pytest.mark.parametrize("cell,tie", list(itertools.product(("rnn", "lstm", "gru"), (False, True))))
def test_the_traced_lm_step_equals_forward_and_carries_the_state(cell, tie):
    torch.manual_seed(0)
    config = LMConfig(cell=cell, hidden_dim=6, num_layers=2, tie_weights=tie)
    config.embedding.dim = 4
    model = LanguageModel(config, 20).eval()
    graph = traceable.LMStepGraph(model)
    zeros = [torch.zeros(2, 3, 6)] * (2 if cell == "lstm" else 1)
    with torch.no_grad():
        logits, _, state = model(IDS, None)
        out = graph(IDS, *zeros)
        assert torch.allclose(out[0], logits, atol=1e-6)
        more, _, _ = model(IDS[:, :2], None, state=state)
        assert torch.allclose(graph(IDS[:, :2], *out[1:])[0], more, atol=1e-6)


@pytest.mark.parametrize("cell,bidirectional,mode", list(itertools.product(("rnn", "lstm", "gru"), (False, True),
                                                                       ("many_to_one", "many_to_many", "repeat"))))
def test_the_traced_regressor_equals_forward(cell, bidirectional, mode):
    torch.manual_seed(0)
    model = Regressor(RegressorConfig(input_dim=2, output_dim=2, cell=cell, bidirectional=bidirectional, mode=mode,
                                      horizon=3, hidden_dim=5)).eval()
    inputs = torch.randn(3, 6, 2)
    with torch.no_grad():
        assert torch.allclose(traceable.RegressorGraph(model)(inputs), model(inputs)[0], atol=1e-6)


def test_the_models_own_numbers_are_unchanged_by_the_traced_paths():
    """The traced paths only read the models: forward gives the same numbers before and after tracing them."""
    torch.manual_seed(0)
    model = build_classifier(ClassifierConfig(hidden_dim=6, bidirectional=True), 20, 3).eval()
    with torch.no_grad():
        before = model(IDS, LENGTHS)[0].clone()
        traceable.ClassifierGraph(model)(IDS, LENGTHS)
        assert torch.equal(model(IDS, LENGTHS)[0], before)


# ----- exported runs against PyTorch --------------------------------------------------------------------------------
def test_an_exported_classifier_predicts_as_the_pipeline(exported):
    run, out = exported["classify"]
    pipe, onnx = load(run), onnx_runtime.load(out)
    for batch in (TEXTS, TEXTS[:1], TEXTS[2:4]):
        ours, theirs = onnx.predict(batch, top=2), pipe.predict(batch, top=2)
        assert [r["label"] for r in ours] == [r["label"] for r in theirs]
        for a, b in zip(ours, theirs, strict=True):
            assert a["text"] == b["text"] and [t["label"] for t in a["top"]] == [t["label"] for t in b["top"]]
            assert abs(a["probability"] - b["probability"]) < 1e-4


def test_a_simple_rnn_exports_with_a_dynamic_length(exported):
    run, out = exported["classify-rnn"]
    manifest = json.loads((out / "export.json").read_text())
    assert manifest["inputs"]["ids"]["shape"] == ["batch", "steps"]
    ours, theirs = onnx_runtime.load(out).predict(TEXTS), load(run).predict(TEXTS)
    assert np.allclose([r["probability"] for r in ours], [r["probability"] for r in theirs], atol=1e-4)


def test_an_exported_crf_tagger_tags_as_the_pipeline(exported):
    run, out = exported["tag"]
    texts = ["Teddy Roosevelt visited Paris .", "Marie Curie worked in Geneva", "The United Nations met",
             "Ada Lovelace visited Warsaw and Paris and Geneva with Marie Curie ."]
    pipe, onnx = load(run), onnx_runtime.load(out)
    assert onnx.tag(texts) == pipe.tag(texts)
    assert onnx.tag(texts[:1]) == pipe.tag(texts[:1])
    assert json.loads((out / "export.json").read_text())["crf"]["transitions"]


def test_an_exported_tagger_tags_a_long_text_in_the_pipelines_windows(exported):
    from textrnn.textual import TAG_WINDOW

    run, out = exported["tag"]
    text = " ".join(["Marie Curie worked in Geneva ."] * (TAG_WINDOW // 2))        # 3 windows of words
    result = onnx_runtime.load(out).tag([text])
    assert len(result[0]["tokens"]) > 2 * TAG_WINDOW and result == load(run).tag([text])


def test_empty_texts_and_bad_settings_are_refused_as_by_the_pipeline(exported):
    for name, method in (("classify", "predict"), ("tag", "tag")):
        run, out = exported[name]
        for model in (load(run), onnx_runtime.load(out)):
            with pytest.raises(DataError, match="text 2 is empty"):
                getattr(model, method)(["a film", " "])
    with pytest.raises(ConfigError, match="top >= 1"):
        onnx_runtime.load(exported["classify"][1]).predict(["a film"], top=0)
    with pytest.raises(ConfigError, match="generation setting top_p"):
        onnx_runtime.load(exported["lm"][1]).generate("the", top_p=0)


def test_exported_lm_steps_equal_pytorch_at_several_lengths(exported):
    run, out = exported["lm"]
    pipe, onnx = load(run), onnx_runtime.load(out)
    names = onnx.settings["state"]
    assert names == ["h", "c"]
    for batch, steps in ((1, 1), (2, 5), (3, 23)):
        ids = np.random.default_rng(steps).integers(4, len(pipe.vocab), size=(batch, steps))
        zeros = {n: np.zeros((2, batch, 12), dtype=np.float32) for n in names}
        logits = onnx.session.run(["logits"], {"ids": ids, **zeros})[0]
        with torch.no_grad():
            expected, _, _ = pipe.model(torch.from_numpy(ids), None)
        assert np.allclose(logits, expected.numpy(), atol=1e-4)


@pytest.mark.parametrize("name,prompt", [("lm", "the cat"), ("lm", ""), ("lm-char", "the d"), ("lm-spm", "the c")])
def test_exported_lms_generate_the_pipelines_greedy_text(exported, name, prompt):
    run, out = exported[name]
    onnx = onnx_runtime.load(out)
    assert onnx.generate(prompt, max_tokens=12, temperature=0) == load(run).generate(prompt, max_tokens=12,
                                                                                      temperature=0)


def test_exported_sampling_is_repeatable_with_a_seed_and_keeps_to_top_k(exported):
    onnx = onnx_runtime.load(exported["lm"][1])
    settings = {"max_tokens": 20, "temperature": 1.5, "top_k": 3, "top_p": 0.9}
    assert onnx.generate("the", seed=4, **settings) == onnx.generate("the", seed=4, **settings)
    assert {onnx.generate("the", seed=s, max_tokens=1, temperature=1.0, top_k=1) for s in range(5)} == \
        {onnx.generate("the", max_tokens=1, temperature=0)}


def test_an_exported_regressor_predicts_as_pytorch(exported):
    run, out = exported["regress"]
    inputs = np.random.default_rng(0).normal(size=(5, 9, 2)).astype(np.float32)
    assert np.allclose(onnx_runtime.load(out).regress(inputs), load(run).predict(inputs), atol=1e-4)


def test_the_export_folder_holds_the_runs_own_files_and_what_was_checked(exported):
    run, out = exported["tag"]
    for name in ("config.json", "vocab.json", "labels.json", "chars.json"):
        assert (out / name).read_bytes() == (run / name).read_bytes()
    manifest = json.loads((out / "export.json").read_text())
    assert manifest["checked"]["max_abs_difference"] <= 1e-4 and 1 in manifest["checked"]["steps"]
    assert set(manifest["inputs"]) == {"ids", "lengths", "chars", "casing"}
    assert manifest["inputs"]["chars"]["shape"] == ["batch", "steps", "width"]


def test_the_loader_runs_without_torch(exported):
    out = exported["classify"][1]
    code = ("import sys; from textrnn import onnx_runtime; m = onnx_runtime.load(sys.argv[1]); "
            "print(m.predict(['a great film'])[0]['label']); assert 'torch' not in sys.modules, 'torch was imported'")
    done = subprocess.run([sys.executable, "-c", code, str(out)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() in ("pos", "neg")


def test_an_altered_export_is_refused(exported, tmp_path):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(exported["classify"][1], copy)
    (copy / "vocab.json").write_text(json.dumps(["<pad>", "<unk>", "<bos>", "<eos>", "film"]))
    with pytest.raises(PipelineError, match="does not match the checksum"):
        onnx_runtime.load(copy)
    with pytest.raises(PipelineError, match="not a textrnn export"):
        onnx_runtime.load(tmp_path)


def test_a_wrong_task_method_is_refused(exported):
    with pytest.raises(PipelineError, match="needs an exported tag run"):
        onnx_runtime.load(exported["classify"][1]).tag(["x"])


# ----- refusals -----------------------------------------------------------------------------------------------------
def test_a_translator_is_refused_with_the_reason_and_nothing_is_written(tmp_path):
    pairs = [("ein hund läuft", "a dog runs"), ("eine katze schläft", "a cat sleeps")] * 4
    pipe = train("translate", [Example(text=s, target=t) for s, t in pairs],
                 {"hidden_dim": 8, "src_embed_dim": 4, "tgt_embed_dim": 4, "encoder_layers": 1}, tokenizer="word",
                 vocab={"min_freq": 1})
    run = pipe.save(tmp_path / "translator")
    with pytest.raises(ExportError, match="cannot export a translate run: its greedy and beam searches .* serve it "
                                          "with 'textrnn serve'"):
        export_run(run, tmp_path / "out")
    assert not (tmp_path / "out").exists()
    done = subprocess.run([sys.executable, "-m", "textrnn.cli", "export", str(run), "--out", str(tmp_path / "cli")],
                          capture_output=True, text=True)
    assert done.returncode == 2 and "cannot export a translate run" in done.stderr and "Traceback" not in done.stderr


def test_an_unknown_format_and_the_run_folder_itself_are_refused(exported):
    run, _ = exported["classify"]
    with pytest.raises(ExportError, match="unknown export format 'tflite'"):
        export_run(run, run.parent / "x", format="tflite")
    with pytest.raises(ExportError, match="a folder of its own"):
        export_run(run, run)


def test_the_export_command(exported, tmp_path):
    run, _ = exported["lm-char"]
    done = subprocess.run([sys.executable, "-m", "textrnn.cli", "export", str(run), "--out", str(tmp_path / "e"),
                           "--json"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["task"] == "lm" and (tmp_path / "e" / "model.onnx").is_file()
    refused = subprocess.run([sys.executable, "-m", "textrnn.cli", "export", str(tmp_path / "none"), "--out",
                              str(tmp_path / "f")], capture_output=True, text=True)
    assert refused.returncode == 2 and "no such run directory" in refused.stderr


def test_a_model_torch_cannot_export_is_refused_with_torchs_reason(exported, monkeypatch, tmp_path):
    def failing(*args, **kwargs):
        try:
            raise RuntimeError("Could not guard on data-dependent expression u0 < 3")
        except RuntimeError as cause:
            raise torch.onnx.OnnxExporterError("Failed to export the model with torch.export.") from cause

    monkeypatch.setattr(torch.onnx, "export", failing)
    with pytest.raises(ExportError, match=r"could not export this model \(Could not guard on data-dependent"):
        export_run(exported["classify"][0], tmp_path / "out")
    assert not (tmp_path / "out").exists()

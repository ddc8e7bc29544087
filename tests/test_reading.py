"""A run reads its corpus's own files as they come: labels as the corpus writes them (IMDB's 0/1, Reuters' topic
indices), the fields of a custom file, and a validation carved by group that behaves like a test split."""
from __future__ import annotations

import gzip
import json
from collections import Counter
from pathlib import Path

import pytest
from cli_in_process import cli

from textrnn.corpus import Example, carve_valid, load_corpus

GOOD = ["a wonderful film", "great acting and a fine story", "i loved it", "a moving story"]
BAD = ["a dull film", "bad acting and a boring story", "i hated it", "an awful plot"]


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(path, "wt", encoding="utf-8") as f:
        f.writelines(json.dumps(row) + "\n" for row in rows)
    return path


def corpus_card(tmp_path: Path, name: str, body: str) -> Path:
    card = tmp_path / "cards" / f"{name}.toml"
    card.parent.mkdir(parents=True, exist_ok=True)
    card.write_text(f'name = "{name}"\ntask = "classify"\nformat = "jsonl"\n{body}', encoding="utf-8")
    return card


def recipe(tmp_path: Path, card: Path) -> Path:
    path = tmp_path / "recipe.toml"
    path.write_text(f'task = "classify"\n[data]\ncorpus = "{card}"\n[model]\nhidden_dim = 4\n'
                    '[model.embedding]\ndim = 4\n[train]\nepochs = 1\n', encoding="utf-8")
    return path


def reviews(labels: tuple[str, str] = ("1", "0")) -> list[dict]:
    return ([{"text": t, "label": int(labels[0]), "id": i} for i, t in enumerate(GOOD * 3)]
            + [{"text": t, "label": int(labels[1]), "id": i} for i, t in enumerate(BAD * 3)])


@pytest.fixture
def imdb_like(tmp_path, capsys, monkeypatch) -> tuple[Path, Path]:
    """A corpus in IMDB's documented form (labels 0/1 mapped to neg/pos by its card), trained into a run."""
    data = tmp_path / "data"
    write_jsonl(data / "films" / "train.jsonl.gz", reviews())
    card = corpus_card(tmp_path, "films", 'labels = ["neg", "pos"]\nlabel_names = { "0" = "neg", "1" = "pos" }\n'
                                          'meta_fields = ["id"]\nvalid_fraction = 0.25\n[files]\ntrain = "train.jsonl.gz"\n')
    run = tmp_path / "run"
    code, _, err = cli("run", str(recipe(tmp_path, card)), "--out", str(run), "--data-dir", str(data), "--quiet",
                       capsys=capsys, monkeypatch=monkeypatch)
    assert code == 0, err
    return run, data


def test_the_corpus_test_file_in_its_own_form_evaluates(imdb_like, tmp_path, capsys, monkeypatch):
    run, _ = imdb_like
    test = write_jsonl(tmp_path / "test.jsonl.gz", reviews())
    code, out, err = cli("evaluate", str(run), "--data", str(test), "--json", capsys=capsys, monkeypatch=monkeypatch)
    assert code == 0, err
    assert json.loads(out)["n"] == 24
    named = write_jsonl(tmp_path / "named.jsonl.gz", [{"text": "a fine film", "label": "pos"}])   # names pass too
    assert cli("evaluate", str(run), "--data", str(named), capsys=capsys, monkeypatch=monkeypatch)[0] == 0
    odd = write_jsonl(tmp_path / "odd.jsonl.gz", [{"text": "a fine film", "label": 1}, {"text": "so so", "label": 7}])
    code, _, err = cli("evaluate", str(run), "--data", str(odd), capsys=capsys, monkeypatch=monkeypatch)
    assert code == 2 and "odd.jsonl.gz:2: label '7' is neither a label of the run (neg, pos) nor a value its corpus" in err


def test_a_run_with_a_test_split_reports_it_beside_valid(tmp_path, capsys, monkeypatch):
    data = tmp_path / "data"
    write_jsonl(data / "films" / "train.jsonl.gz", reviews())
    write_jsonl(data / "films" / "test.jsonl.gz", reviews()[:8])
    card = corpus_card(tmp_path, "films", 'label_names = { "0" = "neg", "1" = "pos" }\nvalid_fraction = 0.25\n'
                                          '[files]\ntrain = "train.jsonl.gz"\ntest = "test.jsonl.gz"\n')
    run = tmp_path / "run"
    code, out, err = cli("run", str(recipe(tmp_path, card)), "--out", str(run), "--data-dir", str(data), "--quiet",
                         "--json", capsys=capsys, monkeypatch=monkeypatch)
    assert code == 0, err
    metrics = json.loads(out)
    assert metrics["test"]["n"] == 8 and metrics["valid"]["n"] == 6
    assert json.loads((run / "metrics.json").read_text())["test"]["accuracy"] == metrics["test"]["accuracy"]


def test_topic_indices_map_through_the_cards_labels_file(tmp_path, capsys, monkeypatch):
    """Reuters' form: the label field holds topic names, a second field their index in labels_file."""
    data = tmp_path / "data" / "wires"
    rows = ([{"text": t, "topic": "oil", "label": 1} for t in ("crude oil rose", "oil output fell")] * 6
            + [{"text": t, "topic": "gold", "label": 0} for t in ("gold price rose", "gold mines")] * 6)
    write_jsonl(data / "train.jsonl.gz", rows)
    (data / "topics.json").write_text(json.dumps(["gold", "oil"]))
    card = corpus_card(tmp_path, "wires", 'label_field = "topic"\nlabels_file = "topics.json"\nvalid_fraction = 0.25\n'
                                          '[files]\ntrain = "train.jsonl.gz"\n')
    run = tmp_path / "run"
    code, _, err = cli("run", str(recipe(tmp_path, card)), "--out", str(run), "--data-dir", str(tmp_path / "data"),
                       "--quiet", capsys=capsys, monkeypatch=monkeypatch)
    assert code == 0, err
    test = write_jsonl(tmp_path / "test.jsonl.gz", rows[:4])
    for fields in ([], ["--label-field", "label"]):          # the names by default; the indices when asked
        code, out, err = cli("evaluate", str(run), "--data", str(test), *fields, "--json", capsys=capsys,
                             monkeypatch=monkeypatch)
        assert code == 0 and json.loads(out)["n"] == 4, err


def test_a_custom_csv_run_evaluates_and_predicts_with_its_own_fields(tmp_path, capsys, monkeypatch):
    train = tmp_path / "train.csv"
    lines = ["id,review,stars"] + [f"{i},{t},5" for i, t in enumerate(GOOD * 4)] + [f"{i},{t},1" for i, t in
                                                                                     enumerate(BAD * 4)]
    train.write_text("\n".join(lines) + "\n", encoding="utf-8")
    run = tmp_path / "run"
    code, _, err = cli("train", "classify", "--data", str(train), "--text-field", "review", "--label-field", "stars",
                       "--out", str(run), "--quiet", "-s", "train.epochs=1", "-s", "model.hidden_dim=4",
                       capsys=capsys, monkeypatch=monkeypatch)
    assert code == 0, err
    test = tmp_path / "test.csv"
    test.write_text("review,stars\na wonderful film,5\na dull film,1\n", encoding="utf-8")
    code, out, err = cli("evaluate", str(run), "--data", str(test), "--json", capsys=capsys, monkeypatch=monkeypatch)
    assert code == 0 and json.loads(out)["n"] == 2, err
    code, out, err = cli("predict", str(run), "--file", str(test), "--json", capsys=capsys, monkeypatch=monkeypatch)
    assert code == 0 and [json.loads(line)["text"] for line in out.splitlines()] == ["a wonderful film", "a dull film"]


def test_init_from_reads_a_corpus_in_its_own_form(imdb_like, tmp_path, capsys, monkeypatch):
    run, _ = imdb_like
    more = write_jsonl(tmp_path / "more.jsonl", [])
    more.unlink()
    more.write_text("".join(json.dumps(r) + "\n" for r in reviews()), encoding="utf-8")   # labels 0/1 again
    code, _, err = cli("train", "classify", "--data", str(more), "--init-from", str(run), "--out",
                       str(tmp_path / "again"), "--quiet", "-s", "train.epochs=1", capsys=capsys, monkeypatch=monkeypatch)
    assert code == 0, err


def test_a_carve_by_group_keeps_every_group_on_one_side_and_the_labels_balanced():
    examples = [Example(text=f"review {i}", label="pos" if i % 2 else "neg", meta={"film": f"f{i // 6}"})
                for i in range(600)]
    train, valid = carve_valid(examples, 0.2, seed=3, group="film")
    films = lambda part: {e.meta["film"] for e in part}   # noqa: E731
    assert not films(train) & films(valid)
    assert len(train) + len(valid) == 600 and 100 <= len(valid) <= 120
    counts = Counter(e.label for e in valid)
    assert abs(counts["pos"] - counts["neg"]) <= 6
    assert carve_valid(examples, 0.2, seed=3, group="film")[1] == valid              # seeded
    with pytest.raises(Exception, match="no 'film' to carve"):
        carve_valid([*examples, Example(text="x", label="pos")], 0.2, seed=3, group="film")


def test_imdb_validation_is_carved_by_film(monkeypatch):
    from conftest import DATA_DIR, data_available

    if not data_available("imdb"):
        pytest.skip("needs the imdb corpus: set TEXTRNN_DATA_DIR to a folder holding imdb/")
    corpus = load_corpus("imdb", data_dir=DATA_DIR)
    assert len(corpus.valid) == 5000 and Counter(e.label for e in corpus.valid) == {"neg": 2500, "pos": 2500}
    assert not {e.meta["film"] for e in corpus.train} & {e.meta["film"] for e in corpus.valid}
    assert corpus.reading.label_names == {"0": "neg", "1": "pos"} and corpus.reading.valid_group == "film"

"""Readers, corpora, carving and series: every fixture is written here, never copied from a corpus."""
from __future__ import annotations

import gzip
import json
import tempfile
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from conftest import DATA_DIR, needs_data
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from textrnn.corpus import (
    Corpus,
    Example,
    carve_valid,
    check_iob2,
    iob1_to_iob2,
    licenses,
    load_corpus,
    load_extra_text,
    load_unlabelled,
    read_examples,
    read_series,
)
from textrnn.errors import ConfigError, DataError


def write(path: Path, text: str, compress: bool = False) -> Path:
    data = text.encode("utf-8")
    path.write_bytes(gzip.compress(data) if compress else data)
    return path


def jsonl(rows: list) -> str:
    return "\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n"


# ------------------------------------------------------------------------------------------------ readers


def test_text_lines_plain_gzip_crlf_and_bom(tmp_path):
    body = "\ufefffirst line\r\n\r\n  second line  \r\n   \r\nthird\r\n"
    plain = read_examples(write(tmp_path / "a.txt", body))
    zipped = read_examples(write(tmp_path / "a.txt.gz", body, compress=True))
    assert [e.text for e in plain] == ["first line", "second line", "third"]
    assert [e.text for e in zipped] == [e.text for e in plain]


def test_gzip_is_detected_by_magic_bytes_not_name(tmp_path):
    path = write(tmp_path / "rows.jsonl", jsonl([{"text": "héllo", "label": 1}]), compress=True)
    [example] = read_examples(path)
    assert (example.text, example.label) == ("héllo", "1")


def test_jsonl_labels_are_strings_and_numbers_equal_strings(tmp_path):
    rows = [{"text": "a", "label": 3}, {"text": "b", "label": "3"}, {"text": "c", "label": 3.0},
            {"text": "d", "label": "earn"}, {"text": "e", "label": 0}]
    examples = read_examples(write(tmp_path / "x.jsonl", jsonl(rows)))
    assert [e.label for e in examples] == ["3", "3", "3", "earn", "0"]
    assert all(isinstance(e.label, str) for e in examples)


def test_jsonl_without_labels_is_a_language_model_file(tmp_path):
    examples = read_examples(write(tmp_path / "x.jsonl", jsonl([{"text": "a"}, {"text": "b"}])))
    assert [e.label for e in examples] == [None, None]


def test_jsonl_tagging_form_converts_iob1(tmp_path):
    rows = [{"tokens": ["Teddy", "Roosevelt", "visited", "Paris"], "tags": ["I-PER", "I-PER", "O", "I-LOC"]}]
    [example] = read_examples(write(tmp_path / "tags.jsonl", jsonl(rows)))
    assert example.tags == ["B-PER", "I-PER", "O", "B-LOC"]
    assert example.text == "Teddy Roosevelt visited Paris"


def test_csv_quoted_newlines_and_chosen_columns(tmp_path):
    body = 'id,review,stars\n1,"great film,\nloved it",5\n2,"dull ""film""",1\n'
    examples = read_examples(write(tmp_path / "r.csv", body), text_field="review", label_field="stars")
    assert [(e.text, e.label) for e in examples] == [("great film,\nloved it", "5"), ('dull "film"', "1")]
    assert examples[1].meta["line"] == 4  # physical line, counting the quoted line break


def test_tsv_gz(tmp_path):
    body = "text\tlabel\r\n좋은 영화\tpos\r\n별로\tneg\r\n"
    examples = read_examples(write(tmp_path / "r.tsv.gz", body, compress=True))
    assert [(e.text, e.label) for e in examples] == [("좋은 영화", "pos"), ("별로", "neg")]


def test_conll_iob2_passes_unchanged(conll_file):
    examples = read_examples(conll_file)
    assert len(examples) == 16
    assert examples[0].tokens == ["Teddy", "Roosevelt", "visited", "Paris", "."]
    assert examples[0].tags == ["B-PER", "I-PER", "O", "B-LOC", "O"]
    assert examples[0].text == "Teddy Roosevelt visited Paris ."


def test_conll_iob1_runs_of_blank_lines_tabs_no_docstart(tmp_path):
    body = "\n\nEU\tNNP\tI-ORG\nrejects\tVBZ\tO\nGerman\tJJ\tI-MISC\n\n\n\n" \
           "Peter\tNNP\tI-PER\nBlackburn\tNNP\tI-PER\n\n"
    examples = read_examples(write(tmp_path / "x.conll", body))
    assert [e.tags for e in examples] == [["B-ORG", "O", "B-MISC"], ["B-PER", "I-PER"]]


def test_conll_format_forced_on_txt(tmp_path):
    path = write(tmp_path / "train.txt", "-DOCSTART- -X- -X- O\n\nParis NNP B-LOC\n")
    [example] = read_examples(path, format="conll")
    assert example.tags == ["B-LOC"]


def test_iob1_to_iob2_and_check():
    assert iob1_to_iob2(["I-PER", "I-PER", "B-PER", "O", "I-LOC", "I-ORG"]) == \
        ["B-PER", "I-PER", "B-PER", "O", "B-LOC", "B-ORG"]
    iob2 = ["B-PER", "I-PER", "O", "B-LOC"]
    assert iob1_to_iob2(iob2) == iob2
    check_iob2(iob2, "f.conll:3")
    with pytest.raises(DataError, match=r"f\.conll:7: tag 2 'I-LOC'"):
        check_iob2(["B-PER", "I-LOC"], "f.conll:7")


def test_a_10mb_line_is_read(tmp_path):
    long_text = "word " * 2_000_000
    examples = read_examples(write(tmp_path / "big.jsonl", jsonl([{"text": long_text, "label": "x"}])))
    assert len(examples[0].text) == len(long_text)
    [line] = read_examples(write(tmp_path / "big.txt", long_text))
    assert line.text == long_text.strip()
    [row] = read_examples(write(tmp_path / "big.csv", f'text,label\n"{long_text}",y\n'))
    assert len(row.text) == len(long_text)


# ------------------------------------------------------------------------------------------------ bad input


@pytest.mark.parametrize("body", ["", "   \n\t\n  ", "\ufeff\n"])
def test_empty_or_whitespace_file(tmp_path, body):
    path = write(tmp_path / "empty.txt", body)
    with pytest.raises(DataError, match=r"empty\.txt: the file is empty"):
        read_examples(path)


def test_empty_gzip_file(tmp_path):
    with pytest.raises(DataError, match=r"empty\.jsonl\.gz: the file is empty"):
        read_examples(write(tmp_path / "empty.jsonl.gz", "", compress=True))


def test_not_utf8_names_file_line_and_offset_and_replace_reads_it(tmp_path):
    path = tmp_path / "latin.txt"
    path.write_bytes(b"first\nsecond caf\xe9\nthird\n")
    with pytest.raises(DataError, match=r"latin\.txt:2: not UTF-8 \(byte 0xe9 at offset 16\); save the file as UTF-8"):
        read_examples(path)
    examples = read_examples(path, errors="replace")
    assert [e.text for e in examples] == ["first", "second caf\ufffd", "third"]


def test_binary_garbage_looks_binary(tmp_path):
    path = tmp_path / "model.jsonl"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    with pytest.raises(DataError, match=r"model\.jsonl: looks binary"):
        read_examples(path)
    utf16 = tmp_path / "utf16.txt"
    utf16.write_bytes("hello\n".encode("utf-16"))
    with pytest.raises(DataError, match="looks binary.*UTF-16"):
        read_examples(utf16)


def test_damaged_gzip(tmp_path):
    path = tmp_path / "cut.txt.gz"
    path.write_bytes(gzip.compress(b"some text\n" * 100)[:30])
    with pytest.raises(DataError, match=r"cut\.txt\.gz: a damaged gzip file"):
        read_examples(path)


def test_malformed_json_line(tmp_path):
    path = write(tmp_path / "bad.jsonl", '{"text": "ok", "label": 1}\n\n{"text": "broken\n')
    with pytest.raises(DataError, match=r"bad\.jsonl:3: not valid JSON"):
        read_examples(path)


def test_json_line_that_is_not_an_object(tmp_path):
    with pytest.raises(DataError, match=r"list\.jsonl:1: expected a JSON object"):
        read_examples(write(tmp_path / "list.jsonl", '["a", "b"]\n'))


def test_json_line_without_text_field_lists_its_keys(tmp_path):
    path = write(tmp_path / "rows.jsonl", jsonl([{"text": "fine"}, {"review": "no text", "stars": 4}]))
    with pytest.raises(DataError, match=r"rows\.jsonl:2: no 'text' field; this line has the keys \['review', 'stars'\]"):
        read_examples(path)


def test_labels_on_some_lines_only(tmp_path):
    path = write(tmp_path / "mixed.jsonl", jsonl([{"text": "a", "label": 1}, {"text": "b"}]))
    with pytest.raises(DataError, match=r"mixed\.jsonl:2: no 'label' label, but line 1 has one"):
        read_examples(path)


def test_csv_without_the_named_column_lists_columns(tmp_path):
    path = write(tmp_path / "r.csv", "review,stars\ngood,5\n")
    with pytest.raises(DataError, match=r"r\.csv: no column 'text'; the columns are \['review', 'stars'\]"):
        read_examples(path)


def test_csv_row_with_wrong_field_count(tmp_path):
    path = write(tmp_path / "r.csv", "text,label\ngood,pos\nbad,neg,extra\n")
    with pytest.raises(DataError, match=r"r\.csv:3: 3 fields, the header has 2"):
        read_examples(path)


def test_conll_column_count_changes(tmp_path):
    path = write(tmp_path / "x.conll", "EU NNP B-ORG\nrejects VBZ O\n\nGerman JJ B-NP B-MISC\n")
    with pytest.raises(DataError, match=r"x\.conll:4: 4 columns, but line 1 has 3"):
        read_examples(path)


def test_unknown_extension_and_format(tmp_path):
    with pytest.raises(DataError, match=r"data\.parquet: cannot tell the format"):
        read_examples(write(tmp_path / "data.parquet", "x"))
    with pytest.raises(ConfigError, match="format must be"):
        read_examples(write(tmp_path / "a.txt", "x"), format="xml")


def test_missing_file(tmp_path):
    with pytest.raises(DataError, match=r"nope\.jsonl: no such file"):
        read_examples(tmp_path / "nope.jsonl")


# ------------------------------------------------------------------------------------- property tests

ANY_TEXT = st.text(alphabet=st.characters(codec="utf-8"), max_size=40)
CHARS = st.sampled_from(list("abc 한국어각\u0301\u0308😀👍🏽\t\r\x00\x01\x1b\x85\u2028\ufeff{}[]\":,-"))
SPICY_TEXT = st.one_of(ANY_TEXT, st.text(alphabet=CHARS, max_size=40))
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def read_bytes_as(data: bytes, name: str, **kwargs) -> list[Example] | None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / name
        path.write_bytes(data)
        try:
            return read_examples(path, **kwargs)
        except DataError:
            return None


@SETTINGS
@given(st.lists(SPICY_TEXT, max_size=12))
def test_conll_reader_fails_only_with_data_error(lines):
    read_bytes_as("\n".join(lines).encode("utf-8"), "x.conll")


@SETTINGS
@given(st.lists(st.one_of(SPICY_TEXT, st.builds(lambda t, label: json.dumps({"text": t, "label": label}), SPICY_TEXT,
                                                  st.one_of(st.integers(), SPICY_TEXT))), max_size=12))
def test_jsonl_reader_fails_only_with_data_error(lines):
    read_bytes_as("\n".join(lines).encode("utf-8"), "x.jsonl")


@SETTINGS
@given(st.binary(max_size=200))
def test_any_bytes_fail_only_with_data_error(data):
    for name in ("x.txt", "x.jsonl", "x.csv", "x.conll"):
        read_bytes_as(data, name)


@SETTINGS
@given(st.lists(st.tuples(SPICY_TEXT, st.one_of(st.integers(-5, 5), SPICY_TEXT)), min_size=1, max_size=8))
def test_jsonl_round_trip(rows):
    body = jsonl([{"text": t, "label": label} for t, label in rows])
    examples = read_bytes_as(body.encode("utf-8"), "x.jsonl")
    assert [(e.text, e.label) for e in examples] == [(t, str(label)) for t, label in rows]


TOKEN = st.text(alphabet=st.characters(codec="utf-8", exclude_characters="\x00\ufeff"), min_size=1, max_size=6) \
    .filter(lambda t: not any(c.isspace() for c in t) and t != "-DOCSTART-")
TAGGED = st.lists(st.tuples(TOKEN, st.sampled_from(["O", "B-PER", "B-LOC"])), min_size=1, max_size=6)


@SETTINGS
@given(st.lists(TAGGED, min_size=1, max_size=5))
def test_conll_round_trip(sentences):
    body = "\n\n".join("\n".join(f"{w} {t}" for w, t in s) for s in sentences) + "\n"
    examples = read_bytes_as(body.encode("utf-8"), "x.conll")
    assert [list(zip(e.tokens, e.tags, strict=True)) for e in examples] == sentences


# ------------------------------------------------------------------------------------------------ corpora


def labelled(n_a: int, n_b: int, n_c: int) -> list[Example]:
    return [Example(text=f"{label} {i}", label=label) for label, n in (("a", n_a), ("b", n_b), ("c", n_c))
            for i in range(n)]


def test_carve_valid_is_stratified_seeded_and_exact():
    examples = labelled(600, 300, 100)
    train, valid = carve_valid(examples, 0.2, seed=0)
    assert len(valid) == 200 and len(train) == 800
    assert Counter(e.label for e in valid) == {"a": 120, "b": 60, "c": 20}
    assert {id(e) for e in train}.isdisjoint(id(e) for e in valid)
    again = carve_valid(examples, 0.2, seed=0)
    assert [e.text for e in again[1]] == [e.text for e in valid]
    other = carve_valid(examples, 0.2, seed=1)
    assert [e.text for e in other[1]] != [e.text for e in valid]
    assert len({e.label for e in train[:30]}) == 3  # shuffled: a prefix mixes the labels


def test_carve_valid_keeps_a_train_example_of_every_label():
    train, valid = carve_valid(labelled(50, 1, 2), 0.5, seed=0)
    assert {e.label for e in train} == {"a", "b", "c"}
    assert len(train) + len(valid) == 53


def test_carve_valid_unlabelled_and_bad_fraction():
    train, valid = carve_valid([Example(text=str(i)) for i in range(100)], 0.02, seed=3)
    assert (len(train), len(valid)) == (98, 2)
    with pytest.raises(ConfigError, match="valid_fraction"):
        carve_valid(labelled(5, 5, 5), 1.5, seed=0)
    with pytest.raises(DataError, match="too few"):
        carve_valid([Example(text="only")], 0.5, seed=0)


def test_from_files_carves_and_infers_classify(sentiment_file):
    corpus = Corpus.from_files(sentiment_file, valid_fraction=0.25)
    assert corpus.task == "classify" and corpus.valid_is_carved
    assert (len(corpus.train), len(corpus.valid)) == (36, 12)
    assert Counter(e.label for e in corpus.valid) == {"pos": 6, "neg": 6}


def test_from_files_tag_reads_txt_as_conll(tmp_path, conll_file):
    txt = tmp_path / "train.txt"
    txt.write_text(conll_file.read_text())
    corpus = Corpus.from_files(txt, valid=conll_file, test=conll_file, task="tag")
    assert corpus.task == "tag" and not corpus.valid_is_carved
    assert corpus.train[0].tags[:2] == ["B-PER", "I-PER"] and len(corpus.test) == 16


def test_from_files_task_mismatch(text_file, sentiment_file):
    with pytest.raises(DataError, match=r"lines\.txt: task 'tag' needs tokens and tags"):
        Corpus.from_files(text_file, valid=text_file, task="tag", format="lines")
    with pytest.raises(DataError, match=r"reviews\.jsonl: no 'stars' labels"):
        Corpus.from_files(sentiment_file, label_field="stars", task="classify")
    assert Corpus.from_files(text_file).task == "lm"
    with pytest.raises(ConfigError, match="task must be"):
        Corpus.from_files(text_file, task="summarize")


def test_from_hf_dataset_dict_with_class_labels():
    import datasets

    features = datasets.Features({"text": datasets.Value("string"),
                                  "label": datasets.ClassLabel(names=["neg", "pos"])})
    rows = {"text": [f"review {i}" for i in range(20)], "label": [i % 2 for i in range(20)]}
    full = datasets.Dataset.from_dict(rows, features=features)
    corpus = Corpus.from_hf(datasets.DatasetDict({"train": full, "test": full.select(range(4))}), valid_fraction=0.2)
    assert corpus.labels == ["neg", "pos"] and corpus.valid_is_carved and corpus.task == "classify"
    assert (len(corpus.train), len(corpus.valid), len(corpus.test)) == (16, 4, 4)
    assert {e.label for e in corpus.valid} == {"neg", "pos"}


def test_from_hf_tagging_and_missing_columns():
    import datasets

    features = datasets.Features({"tokens": datasets.Sequence(datasets.Value("string")),
                                  "ner_tags": datasets.Sequence(datasets.ClassLabel(names=["O", "B-PER", "I-PER"]))})
    data = datasets.Dataset.from_dict({"tokens": [["Ada", "Lovelace", "wrote"]] * 3, "ner_tags": [[1, 2, 0]] * 3},
                                      features=features)
    corpus = Corpus.from_hf(datasets.DatasetDict({"train": data, "validation": data}), tags_field="ner_tags")
    assert corpus.task == "tag" and not corpus.valid_is_carved
    assert corpus.train[0].tags == ["B-PER", "I-PER", "O"]
    with pytest.raises(DataError, match=r"no 'text' column .* its columns are \['tokens', 'ner_tags'\]"):
        Corpus.from_hf(data)


# ------------------------------------------------------------------------------- cards on a fake data dir


def test_load_corpus_from_a_data_dir_lm_with_given_valid(tmp_path):
    (tmp_path / "ptb").mkdir()
    write(tmp_path / "ptb" / "ptb.train.txt.gz", " a b c \n d e \n", compress=True)
    write(tmp_path / "ptb" / "ptb.valid.txt.gz", " f g \n", compress=True)
    corpus = load_corpus("ptb", data_dir=tmp_path)
    assert [e.text for e in corpus.train] == ["a b c", "d e"] and [e.text for e in corpus.valid] == ["f g"]
    assert corpus.test is None and not corpus.valid_is_carved and corpus.task == "lm"
    write(tmp_path / "ptb" / "ptb.test.txt.gz", " h \n", compress=True)
    assert [e.text for e in load_corpus("ptb", data_dir=tmp_path).test] == ["h"]


def test_load_corpus_tail_split_and_label_names(tmp_path):
    (tmp_path / "tinyshakespeare").mkdir()
    write(tmp_path / "tinyshakespeare" / "input.txt.gz", "x" * 90 + "y" * 10, compress=True)
    corpus = load_corpus("tinyshakespeare", data_dir=tmp_path)
    assert [e.text for e in corpus.train] == ["x" * 90] and [e.text for e in corpus.valid] == ["y" * 10]
    assert corpus.valid_is_carved
    (tmp_path / "imdb").mkdir()
    write(tmp_path / "imdb" / "train.jsonl.gz", jsonl([{"text": f"r{i}", "label": i % 2} for i in range(10)]), True)
    write(tmp_path / "imdb" / "unsup.jsonl.gz", jsonl([{"text": "u1"}, {"text": "u2"}]), True)
    imdb = load_corpus("imdb", data_dir=tmp_path)
    assert imdb.labels == ["neg", "pos"] and Counter(e.label for e in imdb.valid) == {"neg": 1, "pos": 1}
    assert load_unlabelled("imdb", data_dir=tmp_path) == ["u1", "u2"]
    with pytest.raises(DataError, match="has no unlabelled texts; only imdb"):
        load_unlabelled("ptb", data_dir=tmp_path)


def test_extra_text_joins_unlabelled_texts_and_other_corpora_but_not_the_own_one(tmp_path):
    (tmp_path / "ptb").mkdir()
    write(tmp_path / "ptb" / "ptb.train.txt.gz", " a b c \n d e \n", compress=True)
    write(tmp_path / "ptb" / "ptb.valid.txt.gz", " f g \n", compress=True)
    (tmp_path / "imdb").mkdir()
    write(tmp_path / "imdb" / "train.jsonl.gz", jsonl([{"text": f"r{i}", "label": i % 2} for i in range(10)]), True)
    write(tmp_path / "imdb" / "unsup.jsonl.gz", jsonl([{"text": "u1"}]), True)
    assert load_extra_text("unsup, ptb", "imdb", data_dir=tmp_path) == ["u1", "a b c", "d e", "f g"]
    imdb_texts = load_extra_text("imdb", "ptb", data_dir=tmp_path)
    assert sorted(imdb_texts) == sorted(f"r{i}" for i in range(10))   # train and carved valid, no labels
    with pytest.raises(ConfigError, match="own corpus 'imdb'"):
        load_extra_text("ptb,imdb", "imdb", data_dir=tmp_path)
    assert load_extra_text("ptb, imdb:unsup", "conll2003", data_dir=tmp_path) == ["a b c", "d e", "f g", "u1"]
    with pytest.raises(ConfigError, match="'imdb' has no text field 'train'; its parts are: unsup, id, rating"):
        load_extra_text("imdb:train", "conll2003", data_dir=tmp_path)
    with pytest.raises(ConfigError, match="'imdb:rating' holds no text"):     # a meta field, but not one of texts
        load_extra_text("imdb:rating", "conll2003", data_dir=tmp_path)
    with pytest.raises(DataError, match="'ptb' has no unlabelled texts"):
        load_extra_text("ptb:unsup", "conll2003", data_dir=tmp_path)


def test_load_corpus_reuters_layout_marks_clean(tmp_path):
    folder = tmp_path / "reuters"
    folder.mkdir()
    (folder / "topics.json").write_text(json.dumps(["cocoa", "grain"]))
    rows = [{"text": f"t{i}", "label": i % 2, "topic": ["cocoa", "grain"][i % 2], "newid": i,
             "text_newid": i if i % 5 else i + 1, "raw_text": f"T{i}."} for i in range(20)]
    write(folder / "train.jsonl.gz", jsonl(rows), compress=True)
    corpus = load_corpus("reuters", data_dir=tmp_path)
    assert corpus.labels == ["cocoa", "grain"] and corpus.valid_is_carved and corpus.test is None
    assert (len(corpus.train), len(corpus.valid)) == (16, 4)
    everything = corpus.train + corpus.valid
    assert sum(not e.meta["clean"] for e in everything) == 4
    assert all(e.meta["raw_text"].startswith("T") for e in everything)


def test_load_corpus_energy_points_at_the_csv(tmp_path):
    (tmp_path / "energy").mkdir()
    write(tmp_path / "energy" / "AEP_hourly.csv.gz", "Datetime,AEP_MW\n2004-10-01 01:00:00,1\n", compress=True)
    corpus = load_corpus("energy", data_dir=tmp_path)
    assert corpus.task == "regress" and corpus.valid == []
    assert corpus.train[0].meta == {"path": str(tmp_path / "energy" / "AEP_hourly.csv.gz"),
                                    "time_column": "Datetime", "value_column": "AEP_MW"}


def test_imdb_label_outside_the_card_mapping(tmp_path):
    (tmp_path / "imdb").mkdir()
    write(tmp_path / "imdb" / "train.jsonl.gz", jsonl([{"text": "r", "label": 7}, {"text": "s", "label": 0}]), True)
    with pytest.raises(DataError, match=r"train\.jsonl\.gz:1: label .7. is not one of \['0', '1'\]"):
        load_corpus("imdb", data_dir=tmp_path)


# -------------------------------------------------------------------------------------------------- series


def test_read_series_sorts_averages_and_interpolates(tmp_path):
    body = ("Datetime,AEP_MW\n"
            "2020-01-01 03:00:00,30\n"
            "2020-01-01 01:00:00,10\n"
            "2020-01-01 02:00:00,18\n"
            "2020-01-01 02:00:00,22\n"      # duplicate hour: averaged to 20
            "2020-01-01 04:00:00,\n"        # empty value: interpolated to 40
            "2020-01-01 05:00:00,50\n"      # 06:00 missing: interpolated to 60
            "2020-01-01 07:00:00,70")       # no trailing newline
    series = read_series(write(tmp_path / "load.csv.gz", body, compress=True), "Datetime", "AEP_MW")
    assert series.hours.dtype == np.dtype("datetime64[h]")
    assert str(series.hours[0]) == "2020-01-01T01" and len(series.hours) == 7
    assert series.values.tolist() == [10, 20, 30, 40, 50, 60, 70]
    assert (series.duplicates, series.missing_hours, series.interpolated_values) == (1, 1, 1)
    hours, values = series[0], series[1]  # also unpacks like a tuple
    assert len(hours) == len(values)


def test_read_series_errors_name_file_and_line(tmp_path):
    header = "Datetime,AEP_MW\n"
    bad_time = write(tmp_path / "t.csv", header + "2020-01-01 01:00:00,1\nyesterday,2\n2020-01-01 03:00:00,3\n")
    with pytest.raises(DataError, match=r"t\.csv:3: cannot read the time 'yesterday'"):
        read_series(bad_time, "Datetime", "AEP_MW")
    empty_time = write(tmp_path / "e.csv", header + "2020-01-01 01:00:00,1\n,2\n")
    with pytest.raises(DataError, match=r"e\.csv:3: cannot read the time ''"):
        read_series(empty_time, "Datetime", "AEP_MW")
    bad_value = write(tmp_path / "v.csv", header + "2020-01-01 01:00:00,1\n2020-01-01 02:00:00,lots\n")
    with pytest.raises(DataError, match=r"v\.csv:3: cannot read the value 'lots'"):
        read_series(bad_value, "Datetime", "AEP_MW")
    last_empty = write(tmp_path / "n.csv", header + "2020-01-01 02:00:00,1\n2020-01-01 03:00:00,nan\n"
                       "2020-01-01 01:00:00,2\n")
    with pytest.raises(DataError, match=r"n\.csv:3: the last hour .* has no value"):
        read_series(last_empty, "Datetime", "AEP_MW")
    with pytest.raises(DataError, match=r"t\.csv: no column 'MW'; the columns are \['Datetime', 'AEP_MW'\]"):
        read_series(bad_time, "Datetime", "MW")


# --------------------------------------------------------------------------------------- the real corpora

@pytest.mark.data
@needs_data("reuters")
def test_real_reuters():
    corpus = load_corpus("reuters", data_dir=DATA_DIR)
    assert len(corpus.train) + len(corpus.valid) == 8982 and len(corpus.valid) == 1796
    assert len(corpus.labels) == 46 and corpus.labels[3] == "earn" and corpus.valid_is_carved
    assert sum(not e.meta["clean"] for e in corpus.train + corpus.valid) == 768
    assert {e.label for e in corpus.train} == set(corpus.labels)


@pytest.mark.data
@needs_data("imdb")
def test_real_imdb():
    corpus = load_corpus("imdb", data_dir=DATA_DIR)
    assert len(corpus.train) + len(corpus.valid) == 25000
    assert Counter(e.label for e in corpus.valid) == {"neg": 2500, "pos": 2500}


@pytest.mark.data
@needs_data("conll2003")
def test_real_conll2003():
    corpus = load_corpus("conll2003", data_dir=DATA_DIR)
    assert (len(corpus.train), len(corpus.valid)) == (14041, 3250)
    assert sum(len(e.tokens) for e in corpus.train) == 203621
    assert sum(t.startswith("B-") for e in corpus.train for t in e.tags) == 23499


@pytest.mark.data
@needs_data("conll2003")
def test_real_conll2003_iob1_original_converts_to_the_iob2_file():
    folder = Path(DATA_DIR) / "conll2003"
    iob1 = read_examples(folder / "valid.txt.gz", format="conll")
    iob2 = read_examples(folder / "iob2" / "valid.txt.gz", format="conll")
    assert [e.tags for e in iob1] == [e.tags for e in iob2]


@pytest.mark.data
@needs_data("ptb")
def test_real_ptb():
    corpus = load_corpus("ptb", data_dir=DATA_DIR)
    assert (len(corpus.train), len(corpus.valid)) == (42068, 3370)
    assert sum(len(e.text.split()) for e in corpus.train) == 887521


@pytest.mark.data
@needs_data("tinyshakespeare")
def test_real_tinyshakespeare():
    corpus = load_corpus("tinyshakespeare", data_dir=DATA_DIR)
    train, valid = corpus.train[0].text, corpus.valid[0].text
    assert len(train) + len(valid) == 1115394 and len(train) == int(1115394 * 0.9)
    assert train.startswith("First Citizen:\nBefore we proceed")


@pytest.mark.data
@needs_data("korean")
def test_real_korean():
    corpus = load_corpus("korean", data_dir=DATA_DIR)
    assert len(corpus.train) + len(corpus.valid) == 210038 and len(corpus.valid) == 4201
    sources = Counter(e.meta["source"] for e in corpus.train + corpus.valid)
    assert (sources["news_ko"], sources["kss_sentences"], sources["sae4k_utterances"]) == (3000, 12854, 28928)


@pytest.mark.data
@needs_data("everyday-en")
def test_real_everyday_en():
    corpus = load_corpus("everyday-en", data_dir=DATA_DIR)
    assert len(corpus.train) + len(corpus.valid) == 245307 and len(corpus.valid) == 4906
    assert Counter(e.meta["source"] for e in corpus.train + corpus.valid) == {
        "tatoeba_en": 116830, "tinystories_head": 25497, "dailydialog": 102980}


@pytest.mark.data
@needs_data("energy")
def test_real_energy():
    meta = load_corpus("energy", data_dir=DATA_DIR).train[0].meta
    series = read_series(meta["path"], meta["time_column"], meta["value_column"])
    assert len(series.hours) == 121296 and (series.duplicates, series.missing_hours) == (4, 27)
    assert str(series.hours[0]) == "2004-10-01T01" and str(series.hours[-1]) == "2018-08-03T00"
    assert np.all(np.diff(series.hours).astype(int) == 1) and not np.isnan(series.values).any()
    assert 9581 <= series.values.min() and series.values.max() <= 25695


def test_conll_reader_numbers_the_documents(tmp_path):
    path = tmp_path / "two.conll"
    path.write_text("-DOCSTART- -X- O\n\nParis NNP B-LOC\n\nRome NNP B-LOC\n\n-DOCSTART- -X- O\n\n"
                    "Bonn NNP B-LOC\n", encoding="utf-8")
    assert [e.meta["doc"] for e in read_examples(path)] == [0, 0, 1]
    plain = tmp_path / "plain.conll"
    plain.write_text("Paris NNP B-LOC\n\nRome NNP B-LOC\n", encoding="utf-8")
    assert all("doc" not in e.meta for e in read_examples(plain))


def test_extra_text_can_name_one_file_of_a_corpus_of_several(tmp_path, monkeypatch):
    """NAME:FILE: the lines of one source of a multi-file corpus (for its register or its licence), and the run's
    licences name that file alone."""
    monkeypatch.delenv("TEXTRNN_DATA_DIR", raising=False)           # only tmp_path holds corpora
    monkeypatch.setenv("TEXTRNN_CACHE", str(tmp_path / "cache"))
    (tmp_path / "korean").mkdir()
    write(tmp_path / "korean" / "sae4k_utterances.txt.gz", "불 좀 꺼 줘\n음악 틀어 줘\n", compress=True)
    write(tmp_path / "korean" / "kss_sentences.txt.gz", "물을 마셨다\n", compress=True)
    assert load_extra_text("korean:sae4k_utterances", "kor-eng", data_dir=tmp_path) == ["불 좀 꺼 줘", "음악 틀어 줘"]
    found = licenses("kor-eng", "korean:sae4k_utterances")
    assert set(found) == {"kor-eng/train.tsv.gz", "korean/sae4k_utterances.txt.gz"}
    assert found["korean/sae4k_utterances.txt.gz"] == "CC BY-SA 4.0"
    with pytest.raises(ConfigError, match="'korean' has no text field 'sae4k'; its parts are: chatbot_qa, "):
        load_extra_text("korean:sae4k", "kor-eng", data_dir=tmp_path)
    with pytest.raises(DataError, match="lacks news_ko.txt.gz"):
        load_extra_text("korean:news_ko", "kor-eng", data_dir=tmp_path)
    with pytest.raises(ConfigError, match="own corpus"):
        load_extra_text("korean:kss_sentences", "korean", data_dir=tmp_path)

"""Parallel data: aligned line files and TSV pairs (errors name the file and line), the validation carve that keeps
sentence groups whole, the translation-memory baseline and batches of pairs. Every sentence is written here."""
from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from textrnn.corpus import Example, carve_valid, read_line_pairs, read_tsv_pairs
from textrnn.errors import DataError
from textrnn.models.seq2seq import decoder_inputs
from textrnn.parallel import pair_batches, translation_memory
from textrnn.vocab import BOS_ID, EOS_ID, PAD_ID

GERMAN = ["Ein Hund läuft.", "Zwei Kinder spielen im Park.", "Eine Frau liest ein Buch."]
ENGLISH = ["A dog runs.", "Two children play in the park.", "A woman reads a book."]


def write(path: Path, lines: list[str], compress: bool = False, newline: str = "\n") -> Path:
    data = (newline.join(lines) + newline).encode("utf-8")
    path.write_bytes(gzip.compress(data) if compress else data)
    return path


def test_example_has_an_optional_target():
    assert Example(text="x").target is None and Example(text="x", target="y").target == "y"


def test_line_files_pair_up_plain_gzip_and_crlf(tmp_path):
    source = write(tmp_path / "train.de.gz", GERMAN, compress=True)
    target = write(tmp_path / "train.en", ENGLISH, newline="\r\n")
    pairs = read_line_pairs(source, target)
    assert [(p.text, p.target, p.meta["line"]) for p in pairs] == [(d, e, n) for n, (d, e) in
                                                                  enumerate(zip(GERMAN, ENGLISH, strict=True), 1)]


def test_an_empty_line_stays_an_empty_sentence_so_lines_keep_their_numbers(tmp_path):
    source = write(tmp_path / "a.de", ["Hallo.", "", "Danke."])
    target = write(tmp_path / "a.en", ["Hello.", "", "Thanks."])
    pairs = read_line_pairs(source, target)
    assert [p.text for p in pairs] == ["Hallo.", "", "Danke."] and pairs[2].meta["line"] == 3


@pytest.mark.parametrize("longer", ["source", "target"])
def test_files_of_different_lengths_name_the_longer_one_and_its_first_unpaired_line(tmp_path, longer):
    source = write(tmp_path / "x.de", GERMAN if longer == "source" else GERMAN[:2])
    target = write(tmp_path / "x.en", ENGLISH if longer == "target" else ENGLISH[:2])
    name = "x.de" if longer == "source" else "x.en"
    other = "x.en" if longer == "source" else "x.de"
    with pytest.raises(DataError, match=rf"{name}:3: {name} has 3 lines but .*{other} has 2; line 3 of {name} has "
                                        rf"no translation"):
        read_line_pairs(source, target)


def test_tsv_pairs_keep_extra_columns_as_meta(tmp_path):
    path = write(tmp_path / "pairs.tsv.gz", ["Go.\t가.\tCC-BY 2.0 #1 (alice) & #2 (bob)",
                                             "Run!\t뛰어!\tCC-BY 2.0 #3 (carol) & #4 (dave)", ""], compress=True)
    pairs = read_tsv_pairs(path, columns=("en", "ko", "attribution"), source="ko", target="en")
    assert [(p.text, p.target) for p in pairs] == [("가.", "Go."), ("뛰어!", "Run!")]
    assert pairs[1].meta == {"attribution": "CC-BY 2.0 #3 (carol) & #4 (dave)", "line": 2}


def test_a_tsv_line_with_one_column_is_named(tmp_path):
    path = write(tmp_path / "pairs.tsv", ["Go.\t가.", "Run!", "Stop!\t멈춰!"])
    with pytest.raises(DataError, match=r"pairs\.tsv:2: one column \(no tab\), expected 2 \(source, target\)"):
        read_tsv_pairs(path)
    path = write(tmp_path / "three.tsv", ["Go.\t가.\textra"])
    with pytest.raises(DataError, match=r"three\.tsv:1: 3 tab-separated columns, expected 2"):
        read_tsv_pairs(path)
    with pytest.raises(ValueError, match="must name distinct columns"):
        read_tsv_pairs(path, columns=("en", "ko"), source="ko", target="de")


def test_quotes_are_part_of_a_sentence(tmp_path):
    path = write(tmp_path / "q.tsv", ['He said "hi".\t그가 "안녕"이라고 했다.'])
    assert read_tsv_pairs(path)[0].text == 'He said "hi".'


def grouped(n_groups: int, per_group: int, first: int = 0) -> list[Example]:
    return [Example(text=f"source {g}-{i}", target=f"target {g}") for g in range(first, first + n_groups)
            for i in range(per_group)]


def test_a_carve_by_target_never_puts_one_target_on_both_sides():
    examples = grouped(30, 1) + grouped(10, 3, first=30)
    train, valid = carve_valid(examples, 0.2, seed=3, group="target")
    assert not {e.target for e in train} & {e.target for e in valid}
    assert len(train) + len(valid) == len(examples) and 10 <= len(valid) <= 12
    assert carve_valid(examples, 0.2, seed=3, group="target") == (train, valid)


def test_a_carve_by_target_says_when_no_group_fits():
    with pytest.raises(DataError, match="no 'target' group is small enough"):
        carve_valid(grouped(1, 4), 0.5, seed=0, group="target")


def test_translation_memory_returns_the_nearest_sources_translation():
    sources = ["나는 사과를 먹었다.", "그는 학교에 갔다.", "우리는 영화를 봤다."]
    targets = ["I ate an apple.", "He went to school.", "We watched a movie."]
    queries = ["나는 사과를 좋아한다.", "그녀는 학교에 갔다.", "영화를 봤어요.", "전혀 다른 것"]
    assert translation_memory(queries, sources, targets)[:3] == targets
    assert translation_memory(["xyz"], sources, targets) == [targets[0]]      # nothing shared: the first pair
    with pytest.raises(ValueError, match="empty"):
        translation_memory(["x"], [], [])


def test_pair_batches_bucket_by_length_and_end_targets_with_eos():
    source_ids = [[4, 5, 6], [7], [8, 9], [4] * 7, []]
    target_ids = [[10, 11], [12, 13, 14], [15], [16] * 6, [17]]
    batches = pair_batches(source_ids, target_ids, batch_size=2, shuffle=False)
    assert sorted(i for b in batches for i in b.index) == [0, 1, 2, 3, 4]
    for batch in batches:
        for row, i in enumerate(batch.index):
            assert batch.ids[row, : len(source_ids[i])].tolist() == source_ids[i]
            assert int(batch.lengths[row]) == len(source_ids[i])
            assert batch.targets[row, : len(target_ids[i]) + 1].tolist() == target_ids[i] + [EOS_ID]
            assert batch.targets[row, len(target_ids[i]) + 1:].eq(PAD_ID).all()
        assert decoder_inputs(batch.targets)[:, 0].eq(BOS_ID).all()
    assert pair_batches(source_ids, target_ids, 2, seed=1)[0].index == pair_batches(source_ids, target_ids, 2,
                                                                                  seed=1)[0].index
    with pytest.raises(ValueError, match="5 source sentences but 4 targets"):
        pair_batches(source_ids, target_ids[:4], 2)

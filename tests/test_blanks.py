"""Blanks files: the reader's contract on fixtures written here, and the two shipped development sets."""
from __future__ import annotations

from pathlib import Path

import pytest

from textrnn.blanks import read_choices
from textrnn.errors import DataError

SHIPPED = Path(__file__).resolve().parent.parent / "recipes" / "blanks"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "items.tsv"
    path.write_text(text, encoding="utf-8")
    return path


def test_reads_items_in_order_right_fill_first_skipping_comments_and_empty_lines(tmp_path):
    path = write(tmp_path, "# a header\n\nThe cat sat on the ___.\tmat\that\tbat\n"
                           "눈이 와서 장갑을 ___.\t꼈다\t마셨다\n")
    assert read_choices(path) == [("The cat sat on the ___.", ["mat", "hat", "bat"]),
                                  ("눈이 와서 장갑을 ___.", ["꼈다", "마셨다"])]


@pytest.mark.parametrize("line, message", [
    ("The cat sat on the mat.\tmat\that", r"the sentence needs exactly one blank written ___ \(found 0 blanks\)"),
    ("The ___ sat on the ___.\tcat\tdog", r"the sentence needs exactly one blank written ___ \(found 2 blanks\)"),
    ("The cat sat on the ____.\tmat\that", r"the sentence needs exactly one blank written ___ \(found '____'\)"),
    ("The cat sat on the ___.\tmat", r"1 candidate\(s\)"),
    ("The cat sat on the ___.", r"0 candidate\(s\)"),
    ("The cat sat on the ___.\tmat\that\tmat", r"candidate 'mat' is given twice"),
    ("The cat sat on the ___.\tmat\t\that", r"field 3 is empty"),
    ("The cat sat on the ___.\tmat\that\t", r"field 4 is empty"),
    ("\tmat\that", r"field 1 is empty"),
])
def test_a_bad_line_names_the_file_and_line(tmp_path, line, message):
    path = write(tmp_path, f"# header\nThe dog wagged its ___.\ttail\tbook\n{line}\n")
    with pytest.raises(DataError, match=rf"items\.tsv:3: {message}"):
        read_choices(path)


def test_an_empty_or_missing_file_is_an_error(tmp_path):
    with pytest.raises(DataError, match=r"items\.tsv: no items"):
        read_choices(write(tmp_path, "# only a header\n\n"))
    with pytest.raises(DataError, match=r"absent\.tsv: cannot read the blanks file"):
        read_choices(tmp_path / "absent.tsv")


@pytest.mark.parametrize("name", ["korean", "english"])
def test_shipped_development_sets_read_cleanly(name):
    path = SHIPPED / f"{name}.tsv"
    assert path.read_text(encoding="utf-8").startswith("#")
    items = read_choices(path)
    assert len(items) >= 60
    assert all(len(candidates) == 3 for _, candidates in items)
    sentences = [sentence for sentence, _ in items]
    assert len(set(sentences)) == len(sentences), [s for s in sentences if sentences.count(s) > 1]

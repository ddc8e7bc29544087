"""The task registry is the one place that names a task: the corpus readers and the exporter follow what a task's
registry line and module say, so a new task needs no edit elsewhere (docs/architecture.md, "How to add")."""
from __future__ import annotations

import types

import pytest

from textrnn import tasks
from textrnn.corpus import Corpus, detect_format
from textrnn.errors import DataError, ExportError
from textrnn.export import graph_spec
from textrnn.tasks import TASKS, Entry


@pytest.fixture
def chunk_task(monkeypatch):
    """A new task 'chunk' that reads tagged sentences, registered by one line (its module borrowed from tag)."""
    monkeypatch.setitem(TASKS, "chunk", Entry("textrnn.tasks.tag", None, "tags"))
    monkeypatch.setattr(tasks, "TASK_NAMES", tuple(TASKS))
    monkeypatch.setattr("textrnn.corpus.TASK_NAMES", tuple(TASKS))
    return "chunk"


def test_a_new_task_reading_tags_gets_the_tag_readers(tmp_path, chunk_task):
    assert detect_format(tmp_path / "train.txt", task=chunk_task) == "conll"
    assert detect_format(tmp_path / "train.txt", task="lm") == "lines"
    conll = tmp_path / "train.txt"
    conll.write_text("".join(f"w{i} NN B-NP\nz{i} NN I-NP\n\n" for i in range(20)), encoding="utf-8")
    corpus = Corpus.from_files(conll, task=chunk_task)
    assert corpus.task == "chunk" and corpus.train[0].tags == ["B-NP", "I-NP"]
    lines = tmp_path / "plain.jsonl"
    lines.write_text('{"text": "no tags here"}\n' * 5, encoding="utf-8")
    with pytest.raises(DataError, match="task 'chunk' needs tokens and tags"):
        Corpus.from_files(lines, task=chunk_task)


def test_a_task_without_a_file_reading_is_inferred_from_its_examples(tmp_path):
    labelled = tmp_path / "l.jsonl"
    labelled.write_text("".join(f'{{"text": "t {i}", "label": "{i % 2}"}}\n' for i in range(20)), encoding="utf-8")
    plain = tmp_path / "p.txt"
    plain.write_text("".join(f"line {i}\n" for i in range(20)), encoding="utf-8")
    assert Corpus.from_files(labelled).task == "classify"
    assert Corpus.from_files(plain).task == "lm"


def test_the_exporter_asks_the_task_for_its_graph():
    no_graph = types.SimpleNamespace(config=types.SimpleNamespace(task="chunk"),
                                     task=types.SimpleNamespace(graph=None))
    with pytest.raises(ExportError, match="cannot export a 'chunk' run: its task has no exported graph"):
        graph_spec(no_graph)
    asked = []
    own = types.SimpleNamespace(config=types.SimpleNamespace(task="chunk"),
                                task=types.SimpleNamespace(graph=lambda pipe: asked.append(pipe) or "its spec"))
    assert graph_spec(own) == "its spec" and asked == [own]


def test_every_task_names_what_its_files_hold():
    assert {entry.reads for entry in TASKS.values()} <= {"labels", "tags", "text", "pairs", "arrays"}
    assert [tasks.reads(name) for name in ("classify", "tag", "lm", "translate")] == ["labels", "tags", "text",
                                                                                       "pairs"]
    assert tasks.reads(None) is None and tasks.reads("nothing") is None

"""The tasks: one module each, behind this registry. A new task is one module and one line here.

Each module defines ``TASK``, a ``tasks.base.Task``: how its parts (tokenizers, vocabularies, labels) and model are
built from a config and train examples, how examples are encoded, its training step and evaluation (a
``train.TaskLoop``), and its inference commands (``predict``, ``tag``, ``generate``, ``score``, ``complete``, ...).
The registry names modules rather than holding them, so that naming a task (``textrnn --help``, reading a corpus
card) does not import torch.
"""
from __future__ import annotations

import importlib
from typing import NamedTuple

from textrnn.errors import ConfigError


class Entry(NamedTuple):
    """A task in the registry: its module; the help of ``textrnn train NAME`` (None when the task is not trained
    from a file); and what an example of its files holds, which is how the corpus readers treat them: ``labels``
    (a text and its label), ``tags`` (tokens and their tags; a ``.txt`` file is CoNLL columns), ``text`` (text
    alone: unlabelled text is more training text), ``pairs`` (a source and a target sentence) or ``arrays``."""

    module: str
    help: str | None
    reads: str


TASKS = {
    "classify": Entry("textrnn.tasks.classify", "Train a text classifier on your own labelled texts.", "labels"),
    "tag": Entry("textrnn.tasks.tag", "Train a tagger on your own CoNLL or JSON-lines tagged sentences.", "tags"),
    "lm": Entry("textrnn.tasks.lm", "Train a language model on your own text.", "text"),
    "regress": Entry("textrnn.tasks.regress", None, "arrays"),
    "translate": Entry("textrnn.tasks.translate", "Train a translator on your own sentence pairs.", "pairs"),
}
TASK_NAMES = tuple(TASKS)


def reads(name: str | None) -> str | None:
    """What the examples of task ``name`` hold (``Entry.reads``); None for None or an unknown name."""
    return TASKS[name].reads if name in TASKS else None


def task_reading(kind: str) -> str:
    """The first task whose examples hold ``kind`` (``Entry.reads``): how a corpus without a task is read."""
    return next(name for name, entry in TASKS.items() if entry.reads == kind)


def get_task(name: str):
    """The ``Task`` of ``name``; ConfigError naming the known tasks for another name."""
    if name not in TASKS:
        raise ConfigError(f"unknown task {name!r}; choose one of {', '.join(TASK_NAMES)}")
    return importlib.import_module(TASKS[name].module).TASK


def offering(command: str) -> list[str]:
    """The tasks whose pipelines offer ``command`` (for the error when another task's pipeline is asked for it)."""
    return [name for name in TASK_NAMES if command in get_task(name).commands]

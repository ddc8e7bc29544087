"""The tasks: one module each, behind this registry. A new task is one module and one line here.

Each module defines ``TASK``, a ``tasks.base.Task``: how its parts (tokenizers, vocabularies, labels) and model are
built from a config and train examples, how examples are encoded, its training step and evaluation (a
``train.TaskLoop``), and its inference commands (``predict``, ``tag``, ``generate``, ``score``, ``complete``, ...).
The registry names modules rather than holding them, so that naming a task (``textrnn --help``, reading a corpus
card) does not import torch.
"""
from __future__ import annotations

import importlib

from textrnn.errors import ConfigError

# name -> (module, the help of 'textrnn train NAME', or None when the task is not trained from a file)
TASKS = {
    "classify": ("textrnn.tasks.classify", "Train a text classifier on your own labelled texts."),
    "tag": ("textrnn.tasks.tag", "Train a tagger on your own CoNLL or JSON-lines tagged sentences."),
    "lm": ("textrnn.tasks.lm", "Train a language model on your own text."),
    "regress": ("textrnn.tasks.regress", None),
    "translate": ("textrnn.tasks.translate", "Train a translator on your own sentence pairs."),
}
TASK_NAMES = tuple(TASKS)


def get_task(name: str):
    """The ``Task`` of ``name``; ConfigError naming the known tasks for another name."""
    if name not in TASKS:
        raise ConfigError(f"unknown task {name!r}; choose one of {', '.join(TASK_NAMES)}")
    return importlib.import_module(TASKS[name][0]).TASK


def offering(command: str) -> list[str]:
    """The tasks whose pipelines offer ``command`` (for the error when another task's pipeline is asked for it)."""
    return [name for name in TASK_NAMES if command in get_task(name).commands]

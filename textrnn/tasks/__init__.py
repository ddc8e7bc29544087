"""One module per task: how examples become batches, how a batch gives a loss, how a split is evaluated.

``TASKS`` maps the task name to its module; each module has ``encode(pipe, examples)``,
``loop(pipe, train, valid, config)`` (a ``train.TaskLoop``) and ``evaluate(pipe, encoded)``.
"""
from __future__ import annotations

import importlib

TASK_NAMES = ("classify", "tag", "lm", "regress")


def task_module(task: str):
    from textrnn.errors import ConfigError

    if task not in TASK_NAMES:
        raise ConfigError(f"unknown task {task!r}; choose one of {', '.join(TASK_NAMES)}")
    return importlib.import_module(f"textrnn.tasks.{task}")

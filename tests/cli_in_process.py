"""The CLI's real entry point run in the test's own process, for tests that check exit codes and messages."""
from __future__ import annotations

import sys

from textrnn.cli import main


def cli(*args: str, capsys, monkeypatch) -> tuple[int, str, str]:
    """Run ``textrnn ARGS`` through main() (where the error handling lives): (exit code, stdout, stderr)."""
    monkeypatch.setattr(sys, "argv", ["textrnn", *args])
    try:
        main()
        code = 0
    except SystemExit as exit:
        code = exit.code or 0
    out, err = capsys.readouterr()
    return code, out, err

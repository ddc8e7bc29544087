"""A prompt loop for a language model: type a text, read its continuation; change settings on the fly.

Lines starting with ``:`` are commands (``:temperature 0.7``, ``:top-k 20``, ``:top-p 0.9``, ``:max 200``,
``:seed 1``, ``:beam 3``, ``:settings``, ``:help``, ``:quit``); ``::text`` continues a text that starts with ``:``.
On a terminal, ``readline`` gives line editing and history (arrow keys); through a pipe the loop reads lines
without prompts, so ``printf 'ROMEO:\\n' | textrnn generate runs/shakespeare --interactive`` works.
Ctrl-D (end of input), Ctrl-C and ``:quit`` end the loop with status 0.

This module does not import torch: the settings object is any dataclass with the GenerationConfig fields.
"""
from __future__ import annotations

import dataclasses
import math
import sys
from collections.abc import Callable
from typing import Any, TextIO

from textrnn.errors import TextrnnError

PROMPT = "> "

# command -> (settings field, what it takes)
COMMANDS: dict[str, tuple[str, str]] = {
    "temperature": ("temperature", "a number >= 0 (0 = greedy)"),
    "top-k": ("top_k", "an integer >= 0 (0 = no limit)"),
    "top-p": ("top_p", "a number in (0, 1] (1 = no limit)"),
    "max": ("max_tokens", "an integer >= 1 (tokens to generate)"),
    "seed": ("seed", "an integer, or 'none' for a fresh random seed each time"),
    "beam": ("beam", "an integer >= 1 (1 = sampling, more = beam search)"),
}
ALIASES = {"temp": "temperature", "t": "temperature", "top_k": "top-k", "k": "top-k", "top_p": "top-p",
           "p": "top-p", "max-tokens": "max", "max_tokens": "max", "n": "max"}
QUIT = {"quit", "q", "exit"}

HELP = """Type a text and press Enter to continue it (an empty line starts from nothing).
Commands:
  :temperature T   0 = greedy; higher = more surprising      :top-k K   sample among the K likeliest (0 = all)
  :top-p P         sample from the likeliest mass P (0-1]     :max N     generate up to N tokens
  :seed S          repeatable sampling (:seed none = random)  :beam B    beam search with B beams (1 = off)
  :settings        show the current settings                  :help      this text
  :quit            leave (so do Ctrl-D and Ctrl-C)            ::text     continue a text that starts with ':'"""


class _BadSetting(ValueError):
    """A command or value the loop cannot use; shown as one line, then the loop goes on."""


def _parse(field: str, raw: str) -> Any:
    """The value of one setting from its text, checked; raises _BadSetting naming what is wanted."""
    command = next(name for name, (f, _) in COMMANDS.items() if f == field)
    wanted = COMMANDS[command][1]
    try:
        if field == "seed":
            return None if raw.lower() in ("none", "random", "off") else int(raw)
        if field in ("temperature", "top_p"):
            value = float(raw)
            ok = math.isfinite(value) and (value >= 0 if field == "temperature" else 0 < value <= 1)
        else:
            value = int(raw)
            ok = value >= (0 if field == "top_k" else 1)
    except ValueError:
        raise _BadSetting(f":{command} takes {wanted}, got {raw!r}") from None
    if not ok:
        raise _BadSetting(f":{command} takes {wanted}, got {raw!r}")
    return value


def _describe(settings) -> str:
    shown = [f"{command} {getattr(settings, field)}" for command, (field, _) in COMMANDS.items()
             if hasattr(settings, field)]
    return "settings: " + ", ".join(shown)


def _command(line: str, settings):
    """Apply one ``:command``; returns (new settings, text to show, whether to quit)."""
    parts = line[1:].split()
    if not parts:
        raise _BadSetting("an empty command; :help lists the commands")
    name = ALIASES.get(parts[0].lower(), parts[0].lower())
    if name in QUIT:
        return settings, "", True
    if name == "help":
        return settings, HELP, False
    if name in ("settings", "show"):
        return settings, _describe(settings), False
    if name not in COMMANDS:
        raise _BadSetting(f"unknown command :{parts[0]}; :help lists the commands")
    field, wanted = COMMANDS[name]
    if len(parts) != 2:
        raise _BadSetting(f":{name} takes one value: {wanted}")
    value = _parse(field, parts[1])
    try:
        settings = dataclasses.replace(settings, **{field: value})
    except (TextrnnError, TypeError, ValueError) as error:   # the settings class's own checks (ConfigError)
        raise _BadSetting(str(error)) from None
    return settings, f"{name} = {getattr(settings, field)}", False


def _is_terminal(stream) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError, OSError):
        return False


def _enable_line_editing() -> None:
    """readline makes input() keep a history (up and down arrows) and edit the line; absent on some platforms."""
    try:
        import readline
    except ImportError:
        return
    readline.set_history_length(1000)


def run_interactive(generate_fn: Callable[[str, Any], str], settings, stdin: TextIO | None = None,
                    stdout: TextIO | None = None) -> int:
    """Continue each line read from ``stdin`` with ``generate_fn(prompt, settings) -> continuation`` and print
    ``prompt + continuation`` to ``stdout``, until end of input, Ctrl-C or ``:quit``; returns 0 (the exit status).

    ``settings`` (a GenerationConfig, or any dataclass with its fields) is copied, never changed in place; ``:``
    commands change the copy. A bad command or value, or a TextrnnError/ValueError from ``generate_fn``, prints one
    ``error:`` line and the loop goes on. On a terminal the loop shows a prompt and uses readline for history.
    """
    stdin = sys.stdin if stdin is None else stdin
    stdout = sys.stdout if stdout is None else stdout
    terminal = _is_terminal(stdin) and _is_terminal(stdout)
    use_input = terminal and stdin is sys.stdin and stdout is sys.stdout   # input() reads sys.stdin only
    if use_input:
        _enable_line_editing()

    def write(text: str) -> None:
        stdout.write(text + "\n")
        stdout.flush()

    def read() -> str:
        if use_input:
            return input(PROMPT)
        if terminal:
            stdout.write(PROMPT)
            stdout.flush()
        line = stdin.readline()
        if not line:
            raise EOFError
        return line.rstrip("\r\n")

    settings = dataclasses.replace(settings)
    if terminal:
        write("Type a text to continue it; :help for commands, Ctrl-D to leave.")
    try:
        while True:
            try:
                line = read()
            except EOFError:
                if terminal:
                    write("")
                return 0
            if line.startswith(":") and not line.startswith("::"):
                try:
                    settings, shown, leave = _command(line.strip(), settings)
                except _BadSetting as error:
                    write(f"error: {error}")
                    continue
                if leave:
                    return 0
                write(shown)
                continue
            prompt = line[1:] if line.startswith("::") else line
            try:
                continuation = generate_fn(prompt, settings)
            except (TextrnnError, ValueError) as error:
                write(f"error: {error}")
                continue
            write(prompt + continuation)
    except KeyboardInterrupt:
        write("")
        return 0

"""The interactive prompt loop: in process, through a pipe, and on a pseudo-terminal (readline, Ctrl-D, Ctrl-C).

``generate_fn`` is a deterministic fake that shows the settings it was called with, so the tests read what the
loop did without a model.
"""
from __future__ import annotations

import dataclasses
import io
import os
import pty
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from textrnn.errors import TextrnnError
from textrnn.interactive import run_interactive

ROOT = Path(__file__).resolve().parents[1]

SCRIPT = '''
import dataclasses, os, sys
from textrnn.interactive import run_interactive

if os.environ.get("REAL_SETTINGS"):
    from textrnn.tasks.lm.sampling import GenerationConfig as Settings
else:
    @dataclasses.dataclass
    class Settings:
        max_tokens: int = 5
        temperature: float = 1.0
        top_k: int = 0
        top_p: float = 1.0
        beam: int = 1
        seed: int | None = None
        stop_at_eos: bool = True

def fake(prompt, s):
    return f" <<{prompt.upper()} t={s.temperature} k={s.top_k} p={s.top_p} max={s.max_tokens} beam={s.beam}>>"

sys.exit(run_interactive(fake, Settings(max_tokens=5)))
'''


@dataclasses.dataclass
class Settings:
    max_tokens: int = 5
    temperature: float = 1.0
    top_k: int = 0
    top_p: float = 1.0
    beam: int = 1
    seed: int | None = None
    stop_at_eos: bool = True


def fake(prompt: str, s) -> str:
    return f" <<{prompt.upper()} t={s.temperature} k={s.top_k} p={s.top_p} max={s.max_tokens} beam={s.beam}>>"


def run(lines: str, generate_fn=fake, settings=None) -> tuple[int, list[str]]:
    out = io.StringIO()
    status = run_interactive(generate_fn, settings or Settings(), stdin=io.StringIO(lines), stdout=out)
    return status, out.getvalue().splitlines()


def test_continues_lines_and_changes_settings_on_the_fly():
    settings = Settings()
    status, out = run("hello\n:temperature 0.7\n:top-k 20\n:top-p 0.9\n:max 200\n:beam 3\n:seed 1\nworld\n",
                      settings=settings)
    assert status == 0
    assert out[0] == "hello <<HELLO t=1.0 k=0 p=1.0 max=5 beam=1>>"
    assert out[1:7] == ["temperature = 0.7", "top-k = 20", "top-p = 0.9", "max = 200", "beam = 3", "seed = 1"]
    assert out[7] == "world <<WORLD t=0.7 k=20 p=0.9 max=200 beam=3>>"
    assert settings == Settings(), "the caller's settings are not changed"


def test_bad_settings_print_one_error_line_and_continue():
    status, out = run(":temperature warm\n:top-p 2\n:max 0\n:top-k -1\n:beam\n:bogus 1\n:\n:seed x\nstill here\n")
    assert status == 0
    errors = [line for line in out if line.startswith("error: ")]
    assert len(errors) == 8 and len(out) == 9
    assert "temperature" in errors[0] and "'warm'" in errors[0] and "unknown command :bogus" in errors[5]
    assert out[-1].startswith("still here <<STILL HERE")


def test_help_settings_quit_and_escapes():
    status, out = run(":help\n:settings\n::colon first\n:quit\nnever read\n")
    assert status == 0
    text = "\n".join(out)
    assert ":temperature" in text and ":quit" in text
    assert "settings: temperature 1.0, top-k 0, top-p 1.0, max 5, seed None, beam 1" in out
    assert out[-1] == ":colon first <<:COLON FIRST t=1.0 k=0 p=1.0 max=5 beam=1>>"
    assert not any("NEVER" in line for line in out)


def test_generation_errors_and_interrupts_are_clean():
    def failing(prompt, s):
        if prompt == "stop":
            raise KeyboardInterrupt
        raise TextrnnError("the model is not a language model")

    status, out = run("anything\nstop\nnever\n", generate_fn=failing)
    assert status == 0 and out == ["error: the model is not a language model", ""]
    assert run("")[0] == 0


def test_generation_config_checks_apply(tmp_path):
    from textrnn.tasks.lm.sampling import GenerationConfig

    status, out = run(":temperature 0\n:top-k 3\nx\n", settings=GenerationConfig(max_tokens=5))
    assert status == 0 and out[-1] == "x <<X t=0.0 k=3 p=1.0 max=5 beam=1>>"


def test_through_a_pipe(tmp_path):
    script = tmp_path / "loop.py"
    script.write_text(SCRIPT, encoding="utf-8")
    env = {**os.environ, "REAL_SETTINGS": "1", "PYTHONPATH": str(ROOT)}
    result = subprocess.run([sys.executable, str(script)], input="the cat\n:temperature 0.5\n:top-p 0\nthe dog\n",
                            capture_output=True, text=True, timeout=60, cwd=ROOT, env=env)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "the cat <<THE CAT t=1.0 k=0 p=1.0 max=5 beam=1>>"   # no prompts or banner in a pipe
    assert lines[1] == "temperature = 0.5" and lines[2].startswith("error: :top-p")
    assert lines[3] == "the dog <<THE DOG t=0.5 k=0 p=1.0 max=5 beam=1>>"
    assert result.stderr == ""


def in_terminal(script: Path, steps: list[tuple[str, bytes]], timeout: float = 20.0) -> tuple[int, str]:
    """Run the script on a pseudo-terminal; for each step wait until ``expected`` appears in the output after the
    previous step's expected text, then type ``keys``. Returns the exit status and everything the terminal showed."""
    pid, fd = pty.fork()
    if pid == 0:   # the child: become the script, with the pseudo-terminal as its controlling terminal
        try:
            # Ctrl-C must raise SIGINT as in a login shell, even when the test runner's parent ignores SIGINT
            # (ignored signals survive exec, and Python then installs no KeyboardInterrupt handler).
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            env = {**os.environ, "TERM": "xterm", "PYTHONPATH": str(ROOT)}
            os.execve(sys.executable, [sys.executable, str(script)], env)
        finally:
            os._exit(127)
    shown = b""
    mark = 0
    deadline = time.monotonic() + timeout

    def read_until(expected: bytes | None) -> None:
        nonlocal shown
        while expected is None or expected not in shown[mark:]:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"timed out waiting for {expected!r}; the terminal showed {shown!r}")
            ready, _, _ = select.select([fd], [], [], left)
            if not ready:
                continue
            try:
                chunk = os.read(fd, 4096)
            except OSError:   # EIO: the child closed the terminal
                chunk = b""
            if not chunk:
                if expected is None:
                    return
                raise AssertionError(f"the program ended before showing {expected!r}; it showed {shown!r}")
            shown += chunk

    try:
        for expected, keys in steps:
            read_until(expected.encode())
            mark = shown.index(expected.encode(), mark) + len(expected)
            if b"\x03" in keys:
                # CPython's readline loop sees a SIGINT only while it waits in select(): one that lands between the
                # prompt being drawn and that wait is kept until the next key. A person cannot hit that window;
                # a test on a loaded machine can, so it lets the program reach its wait first.
                time.sleep(0.5)
            os.write(fd, keys)
        read_until(None)
        _, status = os.waitpid(pid, 0)
    finally:
        os.close(fd)
        try:
            os.kill(pid, 9)
            os.waitpid(pid, 0)
        except (ProcessLookupError, ChildProcessError):
            pass
    return os.waitstatus_to_exitcode(status), shown.decode("utf-8", "replace")


@pytest.fixture
def loop_script(tmp_path) -> Path:
    script = tmp_path / "loop.py"
    script.write_text(SCRIPT, encoding="utf-8")
    return script


def test_terminal_history_and_ctrl_d(loop_script):
    up_arrow = b"\x1b[A"
    status, shown = in_terminal(loop_script, [
        ("Ctrl-D to leave", b""),
        ("> ", b"hello\r"),
        ("<<HELLO t=1.0", b""),
        ("> ", b":temperature 0.3\r"),
        ("temperature = 0.3", b""),
        ("> ", up_arrow + up_arrow + b"\r"),   # readline recalls "hello"
        ("<<HELLO t=0.3", b""),
        ("> ", b"\x04"),                         # Ctrl-D on an empty line
    ])
    assert status == 0
    assert "hello <<HELLO t=1.0 k=0 p=1.0 max=5 beam=1>>" in shown
    assert "hello <<HELLO t=0.3 k=0 p=1.0 max=5 beam=1>>" in shown
    assert "Traceback" not in shown


def test_terminal_quit_and_ctrl_c(loop_script):
    status, shown = in_terminal(loop_script, [("> ", b"abc\r"), ("<<ABC", b""), ("> ", b":quit\r")])
    assert status == 0 and "Traceback" not in shown
    status, shown = in_terminal(loop_script, [("> ", b"abc\r"), ("<<ABC", b""), ("> ", b"\x03")])
    assert status == 0 and "Traceback" not in shown and "KeyboardInterrupt" not in shown

"""The command line: exit codes, one-line errors, --json output."""
import json
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from textrnn.cli import app

runner = CliRunner()


def cli(*args: str, cwd=None) -> subprocess.CompletedProcess:
    """Run the real entry point (the error handling lives in main())."""
    return subprocess.run([sys.executable, "-m", "textrnn.cli", *args], capture_output=True, text=True, cwd=cwd)


def test_help_lists_the_commands():
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in ("list", "run", "train", "evaluate", "predict", "tag", "generate", "score", "complete", "info"):
        assert command in result.output


def test_list_shows_recipes_and_the_seven_corpora():
    result = runner.invoke(app, ["list", "--json"])
    assert result.exit_code == 0, result.output
    listing = json.loads(result.output)
    assert {"hello", "multiply", "sine", "energy", "reuters", "imdb", "ner"} <= {r["name"] for r in listing["recipes"]}
    assert {"reuters", "imdb", "conll2003", "ptb", "tinyshakespeare", "korean", "energy"} <= {c["name"] for c in listing["corpora"]}


def test_unknown_recipe_names_the_closest():
    done = cli("run", "helo")
    assert done.returncode == 2
    assert "unknown recipe 'helo'. Did you mean 'hello'?" in done.stderr
    assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1


def test_unknown_setting_names_the_key_and_valid_keys():
    done = cli("run", "hello", "-s", "train.epoch=3")
    assert done.returncode == 2
    assert "unknown setting 'train.epoch' (did you mean 'epochs'?)" in done.stderr


def test_wrong_type_is_one_line():
    done = cli("run", "hello", "-s", "train.lr=fast")
    assert done.returncode == 2 and "train.lr: expected a number" in done.stderr


def test_cuda_without_a_gpu():
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    done = cli("run", "hello", "--device", "cuda")
    assert done.returncode == 2 and "no CUDA GPU" in done.stderr


def test_debug_shows_the_traceback():
    done = cli("--debug", "run", "helo")
    assert done.returncode != 0 and "Traceback" in done.stderr


def test_missing_run_directory(tmp_path):
    done = cli("info", str(tmp_path / "nothing"))
    assert done.returncode == 2 and "no such run directory" in done.stderr


def test_hello_runs_and_tag_on_it_is_refused_cleanly(tmp_path):
    out = tmp_path / "hello"
    done = cli("run", "hello", "--quick", "--out", str(out), "--json")
    assert done.returncode == 0, done.stderr
    metrics = json.loads(done.stdout)
    assert metrics["valid"]["accuracy"] == 1.0 and metrics["prediction"] == "hello"
    assert (out / "metrics.json").exists() and (out / "config.json").exists()
    info = cli("info", str(out), "--json")
    assert json.loads(info.stdout)["task"] == "tag"
    wrong = cli("predict", str(out), "some text")
    assert wrong.returncode == 2 and "needs a classify or regress pipeline, but this one is a tag" in wrong.stderr

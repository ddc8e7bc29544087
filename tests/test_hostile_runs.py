"""Run folders someone else made: opening one never writes, inside it or outside it, whatever its interrupted-save
commit file says; only a writer (the next save, or ``textrnn repair``) finishes a save, and only with the run's own
plain file names."""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from cli_in_process import cli

import textrnn
from textrnn.corpus import Example
from textrnn.pipeline import Pipeline
from textrnn.runfiles import _write_files

TEXTS = ["crude oil prices rose", "the bank cut its rate"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    examples = [Example(text=t, label=label) for t, label in
                [("oil prices rose", "oil"), ("crude oil fell", "oil"), ("bank rates rose", "money"),
                 ("the bank lent money", "money")] * 4]
    pipe = Pipeline.for_task("classify", train=examples, model={"hidden_dim": 8, "embedding": {"dim": 8}}, quiet=True)
    pipe.fit(examples, examples, epochs=1, device="cpu", quiet=True)
    return pipe.save(tmp_path_factory.mktemp("trained") / "run")


def snapshot(top: Path) -> dict:
    """Every entry under ``top``: a symlink's target, a file's bytes and mode, a folder's mode (links not followed)."""
    found = {}
    for folder, folders, files in os.walk(top, followlinks=False):
        for name in folders + files:
            path = Path(folder) / name
            info = path.lstat()
            if path.is_symlink():
                found[str(path)] = ("link", os.readlink(path))
            elif path.is_dir():
                found[str(path)] = ("dir", info.st_mode)
            else:
                found[str(path)] = ("file", path.read_bytes(), info.st_mode)
    return found


@pytest.fixture
def shared(trained, tmp_path) -> Path:
    """A copy of the run as someone might share it: ``esc/run``, beside a file of the user's, ``esc/ESCAPED``."""
    run = tmp_path / "esc" / "run"
    shutil.copytree(trained, run)
    (run / ".staging").mkdir()
    (run / "ESCAPED").write_text("attacker\n")
    (tmp_path / "esc" / "ESCAPED").write_text("victim\n")
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "victim.txt").write_text("victim\n")
    return run


def commit(run: Path, names) -> None:
    (run / ".staging" / "COMMIT.json").write_text(json.dumps(names))


def hostile_cases(run: Path) -> dict[str, callable]:
    outside = run.parent.parent / "outside"

    def relative_escape():
        commit(run, ["../ESCAPED"])

    def absolute_name():
        commit(run, [str(outside / "victim.txt")])

    def through_a_symlinked_folder():
        (run / "d").symlink_to(outside, target_is_directory=True)
        (run / ".staging" / "d").symlink_to(outside, target_is_directory=True)
        commit(run, ["d/victim.txt"])

    def a_symlinked_file_inside():
        (run / "metrics.json").unlink(missing_ok=True)
        (run / "metrics.json").symlink_to(outside / "victim.txt")
        (run / ".staging" / "metrics.json").write_text("attacker\n")
        commit(run, ["metrics.json"])

    def a_staged_symlink_to_outside():
        (run / ".staging" / "vocab.json").symlink_to(outside / "victim.txt")
        commit(run, ["vocab.json"])

    def a_symlinked_staging_folder():
        (run / ".staging").rmdir()
        (run / ".staging").symlink_to(outside, target_is_directory=True)
        (outside / "COMMIT.json").write_text(json.dumps(["model.safetensors"]))
        (outside / "model.safetensors").write_text("attacker\n")

    def an_unknown_name():
        (run / ".staging" / "run.sh").write_text("echo attacker\n")
        commit(run, ["run.sh"])

    return {f.__name__: f for f in (relative_escape, absolute_name, through_a_symlinked_folder,
                                     a_symlinked_file_inside, a_staged_symlink_to_outside,
                                     a_symlinked_staging_folder, an_unknown_name)}


CASES = list(hostile_cases(Path("unused")))


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("command", [["info"], ["predict", None, "oil"], ["evaluate", None, "--data", "DATA"]])
def test_a_reading_command_refuses_a_hostile_commit_and_writes_nothing(case, command, shared, tmp_path, capsys,
                                                                         monkeypatch):
    hostile_cases(shared)[case]()
    data = tmp_path / "data.jsonl"
    data.write_text(json.dumps({"text": "oil prices rose", "label": "oil"}) + "\n")
    before = snapshot(tmp_path)
    args = [command[0], str(shared), *[str(data) if a == "DATA" else a for a in command[1:] if a is not None]]
    code, _, err = cli(*args, capsys=capsys, monkeypatch=monkeypatch)
    assert snapshot(tmp_path) == before                      # nothing moved, inside the run or outside it
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err and "internal error" not in err
    assert ".staging" in lines[0] and "delete" in lines[0], lines[0]
    assert (tmp_path / "esc" / "ESCAPED").read_text() == "victim\n"
    assert (tmp_path / "outside" / "victim.txt").read_text() == "victim\n"


@pytest.mark.parametrize("case", CASES)
def test_repair_and_the_next_save_refuse_a_hostile_commit_too(case, shared, trained, tmp_path, capsys, monkeypatch):
    hostile_cases(shared)[case]()
    before = snapshot(tmp_path)
    code, _, err = cli("repair", str(shared), capsys=capsys, monkeypatch=monkeypatch)
    assert code == 2 and ".staging" in err and "internal error" not in err
    with pytest.raises(textrnn.TextrnnError, match="delete"):
        Pipeline.load(trained).save(shared)
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize("content", ["garbage{", "[1]", '{"names": []}', '"config.json"', "[null]"])
def test_a_corrupt_commit_file_is_named_with_what_to_do(content, shared, capsys, monkeypatch):
    (shared / ".staging" / "COMMIT.json").write_text(content)
    code, _, err = cli("info", str(shared), capsys=capsys, monkeypatch=monkeypatch)
    assert code == 2, err
    assert str(shared / ".staging" / "COMMIT.json") in err and "delete" in err
    assert "internal error" not in err and len(err.strip().splitlines()) == 1


def test_an_interrupted_save_is_read_as_committed_and_only_repair_finishes_it(trained, tmp_path, capsys, monkeypatch):
    """A save cut off after its commit point: readers see the new pipeline without moving a file."""
    run = tmp_path / "run"
    shutil.copytree(trained, run)
    newer = Pipeline.load(trained)
    newer.config.meta["note"] = "the newer save"
    staging = tmp_path / "staged"
    staging.mkdir()
    names = _write_files(newer, staging, None)
    (run / ".staging").mkdir()
    for name in names:                                        # the first files were moved in, config.json was not
        shutil.copy(staging / name, (run if name == "model.safetensors" else run / ".staging") / name)
    commit(run, names)
    before = snapshot(tmp_path)
    code, out, err = cli("info", str(run), "--json", capsys=capsys, monkeypatch=monkeypatch)
    assert code == 0, err
    assert snapshot(tmp_path) == before
    assert textrnn.load(run).config.meta["note"] == "the newer save"
    assert textrnn.load(run).predict(TEXTS) == newer.predict(TEXTS)
    assert snapshot(tmp_path) == before
    code, out, err = cli("repair", str(run), capsys=capsys, monkeypatch=monkeypatch)
    assert code == 0 and "finished the interrupted save" in out
    assert not (run / ".staging").exists()
    assert textrnn.load(run).predict(TEXTS) == newer.predict(TEXTS)
    code, out, _ = cli("repair", str(run), capsys=capsys, monkeypatch=monkeypatch)
    assert code == 0 and "nothing to repair" in out


def test_config_json_cannot_name_files_outside_the_run(shared, tmp_path, capsys, monkeypatch):
    config = json.loads((shared / "config.json").read_text())
    config["files"]["../ESCAPED"] = config["files"]["vocab.json"]
    (shared / "config.json").write_text(json.dumps(config))
    (shared / ".staging").rmdir()
    code, _, err = cli("info", str(shared), capsys=capsys, monkeypatch=monkeypatch)
    assert code == 2 and "'../ESCAPED' is not a file of a saved run" in err

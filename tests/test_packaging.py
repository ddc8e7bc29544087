"""The wheel: recipes and corpus cards ship inside it (``textrnn/_recipes``, ``textrnn/_corpora``) and an installed
textrnn finds them from any working directory; ``textrnn --help`` imports none of the heavy libraries.

The wheel is built offline with the hatchling already importable here (no build isolation, no index): the test
skips, saying so, where hatchling is missing.
"""
from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
RECIPES = sorted(p.name for p in (ROOT / "recipes").glob("*.toml"))
BLANKS = sorted(f"blanks/{p.name}" for p in (ROOT / "recipes" / "blanks").glob("*.tsv"))
CORPORA = sorted(p.name for p in (ROOT / "corpora").glob("*.toml"))
CORPUS_NAMES = {"conll2003", "energy", "everyday-en", "imdb", "kor-eng", "korean", "multi30k", "ptb", "reuters", "tinyshakespeare"}
HEAVY = ("torch", "gensim", "datasets", "fastapi", "uvicorn", "onnx", "onnxruntime", "onnxscript")

needs_hatchling = pytest.mark.skipif(importlib.util.find_spec("hatchling") is None,
                                     reason="building the wheel offline needs hatchling importable in this "
                                            "environment (pip install hatchling, or the dev extra)")


def offline_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    return {**env, "PIP_NO_INDEX": "1", "PIP_DISABLE_PIP_VERSION_CHECK": "1", "MPLBACKEND": "Agg", **extra}


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> tuple[Path, Path]:
    """(the wheel, a folder it is installed into with ``pip install --target``), both outside the repository."""
    build = tmp_path_factory.mktemp("wheel")
    env = offline_env(PYTHONPATH=os.environ.get("PYTHONPATH", ""))   # hatchling may come from PYTHONPATH
    done = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-w",
                           str(build), str(ROOT)], capture_output=True, text=True, env=env, cwd=build, timeout=300)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    wheels = list(build.glob("textrnn-*.whl"))
    assert len(wheels) == 1, wheels
    site = build / "site"
    done = subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "--no-index", "--target", str(site),
                           str(wheels[0])], capture_output=True, text=True, env=env, cwd=build, timeout=300)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    return wheels[0], site


def run_installed(site: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess:
    """Python with only the installed wheel's textrnn importable (the repository's is not on the path)."""
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, cwd=cwd,
                          env=offline_env(PYTHONPATH=str(site)), timeout=300)


@needs_hatchling
def test_the_wheel_holds_every_recipe_and_corpus_card(installed):
    wheel, _ = installed
    names = zipfile.ZipFile(wheel).namelist()
    assert sorted(n.removeprefix("textrnn/_recipes/") for n in names if n.startswith("textrnn/_recipes/")) == sorted(
        RECIPES + BLANKS)   # the recipes and, beside them, the blanks files of the complete demo
    assert sorted(n.split("/")[-1] for n in names if n.startswith("textrnn/_corpora/")) == CORPORA
    assert "textrnn/__init__.py" in names and "textrnn/models/__init__.py" in names
    assert not [n for n in names if n.startswith(("tests/", "bench/", "recipes/", "corpora/"))]


@needs_hatchling
def test_installed_textrnn_finds_its_recipes_and_corpora_outside_the_repository(installed, tmp_path):
    _, site = installed
    done = run_installed(site, tmp_path, "-c", "import json, textrnn, textrnn.recipes as r, textrnn.datasource as d; "
                         "print(json.dumps([textrnn.__file__, str(r.recipes_dir()), str(d.corpora_dir())]))")
    assert done.returncode == 0, done.stderr
    module, recipes, corpora = json.loads(done.stdout)
    assert Path(module).resolve() == (site / "textrnn" / "__init__.py").resolve()
    assert Path(recipes).resolve() == (site / "textrnn" / "_recipes").resolve()
    assert Path(corpora).resolve() == (site / "textrnn" / "_corpora").resolve()

    listed = run_installed(site, tmp_path, "-m", "textrnn.cli", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    listing = json.loads(listed.stdout)
    assert sorted(f"{r['name']}.toml" for r in listing["recipes"]) == RECIPES
    assert {c["name"] for c in listing["corpora"]} == CORPUS_NAMES
    text = run_installed(site, tmp_path, "-m", "textrnn.cli", "list")
    assert text.returncode == 0 and all(name in text.stdout for name in CORPUS_NAMES)

    ran = run_installed(site, tmp_path, "-m", "textrnn.cli", "run", "hello", "--quick", "--quiet", "--json",
                        "--out", "hello")
    assert ran.returncode == 0, ran.stderr
    assert json.loads(ran.stdout)["valid"]["accuracy"] == 1.0 and (tmp_path / "hello" / "config.json").exists()


def test_help_imports_no_heavy_library(tmp_path):
    """``textrnn --help`` (and ``run --help``, ``serve --help``...) load the command line only: no torch, gensim,
    datasets, FastAPI or onnx."""
    script = ("import sys\n"
              "sys.argv = ['textrnn', *sys.argv[1:]]\n"
              "from textrnn.cli import main\n"
              "try:\n    main()\nexcept SystemExit:\n    pass\n"
              f"print(sorted({{m.split('.')[0] for m in sys.modules}} & {set(HEAVY)!r}), file=sys.stderr)\n")
    for args in (["--help"], ["run", "--help"], ["train", "classify", "--help"], ["serve", "--help"],
                 ["export", "--help"]):
        done = subprocess.run([sys.executable, "-c", script, *args], capture_output=True, text=True, cwd=tmp_path,
                              timeout=120)
        assert done.returncode == 0, done.stderr
        assert "Usage" in done.stdout
        assert done.stderr.strip().splitlines()[-1] == "[]", f"{args}: {done.stderr}"


@needs_hatchling
def test_the_wheel_holds_the_serve_page(installed):
    """The page works offline from an installed textrnn: its files ship inside the package."""
    wheel, _ = installed
    names = set(zipfile.ZipFile(wheel).namelist())
    assert {f"textrnn/serve/static/{name}" for name in ("index.html", "app.js", "style.css")} <= names

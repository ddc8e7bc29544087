"""Where a corpus comes from: its card, then a folder on disk, then a download into the user cache.

A corpus card (``corpora/NAME.toml``) names the corpus's files per split, their format and sha256, its license,
and, where a public source exists, how to fetch it (``[[download]]`` URLs with sha256, or a Hugging Face
``hf_dataset`` id). ``find_corpus`` looks, in order, at an explicit folder, ``data_dir`` / ``TEXTRNN_DATA_DIR``,
the user cache (``TEXTRNN_CACHE``, default ``~/.cache/textrnn/data``) and finally downloads into that cache;
when all of these fail the error names every place it looked and how to provide the files.
"""
from __future__ import annotations

import gzip
import hashlib
import json
import os
import socket
import sys
import tomllib
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from textrnn.errors import DataError, closest_name
from textrnn.fileio import atomic_write
from textrnn.tasks import TASK_NAMES

DATA_ENV = "TEXTRNN_DATA_DIR"
CACHE_ENV = "TEXTRNN_CACHE"
OFFLINE_ENV = "TEXTRNN_OFFLINE"
# Splits a corpus needs before it counts as present; "test" (held out) and "unlabelled" are used only when there.
REQUIRED_SPLITS = ("train", "valid")
_CHUNK = 1 << 20


def corpora_dir() -> Path:
    """The shipped cards: ``textrnn/_corpora`` in an installed wheel, ``corpora/`` in a source checkout."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "_corpora", here.parent / "corpora"):
        if candidate.is_dir() and any(candidate.glob("*.toml")):
            return candidate
    raise DataError("the corpus cards (corpora/*.toml) are missing from this installation; reinstall textrnn")


def corpus_names() -> list[str]:
    """Names of the shipped corpus cards, sorted."""
    return sorted(p.stem for p in corpora_dir().glob("*.toml"))


def read_card(name: str) -> dict:
    """The card of corpus ``name`` (or of a ``.toml`` card file given by path), checked.

    Raises DataError for an unknown name (with the closest known names) or a card that lacks a required key.
    """
    if name.endswith(".toml"):
        path = Path(name)
    else:
        path = corpora_dir() / f"{name}.toml"
        if not path.is_file():
            known = corpus_names()
            close = closest_name(name, known)
            hint = f"did you mean {close!r}? " if close else ""
            raise DataError(f"unknown corpus {name!r}; {hint}known corpora: {', '.join(known)}; "
                            f"for your own files use Corpus.from_files (or --data FILE)")
    try:
        card = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise DataError(f"{path}: not a readable corpus card ({error})") from None
    for key in ("name", "task", "format", "files"):
        if key not in card:
            raise DataError(f"{path}: the card has no {key!r} key; every card needs name, task, format and [files]")
    if card["task"] not in TASK_NAMES:
        raise DataError(f"{path}: task must be one of {', '.join(TASK_NAMES)}, got {card['task']!r}")
    files = card["files"]
    if "train" not in files:
        raise DataError(f"{path}: [files] has no 'train' entry")
    # a split may name one file or a list of them; lists everywhere below
    card["files"] = {split: [names] if isinstance(names, str) else list(names) for split, names in files.items()}
    card.setdefault("sha256", {})
    card.setdefault("download", [])
    card["card_path"] = str(path)
    return card


def list_corpora() -> list[dict]:
    """One ``{"name", "task", "description"}`` per shipped card (for ``textrnn list``)."""
    out = []
    for name in corpus_names():
        card = read_card(name)
        out.append({"name": card["name"], "task": card["task"], "description": card.get("description", "").strip()})
    return out


def cache_dir() -> Path:
    """The download cache: ``$TEXTRNN_CACHE`` or ``~/.cache/textrnn/data``."""
    return Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "textrnn" / "data").expanduser()


def required_files(card: dict) -> list[str]:
    """Files (relative to the corpus folder) that must exist for the corpus to count as present."""
    names = [f for split in REQUIRED_SPLITS for f in card["files"].get(split, [])]
    if card.get("labels_file"):
        names.append(card["labels_file"])
    return names


def _missing(folder: Path, card: dict) -> list[str]:
    return [f for f in required_files(card) if not (folder / f).is_file()]


def find_corpus(name: str | dict, path: str | Path | None = None, data_dir: str | Path | None = None,
                download: bool = True, quiet: bool = False) -> Path:
    """The folder holding the files of corpus ``name`` (a card name, a card file path or a card from read_card).

    Looks at ``path`` (the corpus folder itself), then ``data_dir/NAME`` and ``$TEXTRNN_DATA_DIR/NAME``, then the
    cache ``<cache>/NAME``, then downloads into the cache (unless ``download`` is False or ``TEXTRNN_OFFLINE=1``).
    Raises DataError naming every place it looked and the ways to provide the files.
    """
    card = name if isinstance(name, dict) else read_card(name)
    name = card["name"]
    if path is not None:
        folder = Path(path).expanduser()
        missing = _missing(folder, card)
        if missing:
            raise DataError(f"{folder}: lacks {', '.join(missing)} of corpus {name!r}; "
                            f"point to the folder that holds the files listed on {card['card_path']}")
        return folder
    looked: list[str] = []
    skipped: list[str] = []  # folders the user named that lack the corpus: say so when another one is used
    candidates = [(data_dir, "data_dir / --data-dir"), (os.environ.get(DATA_ENV), DATA_ENV),
                  (cache_dir(), "cache")]
    for root, what in candidates:
        if not root:
            looked.append(f"{what} (not set)")
            continue
        folder = Path(root).expanduser() / name
        missing = _missing(folder, card)
        if not missing:
            if skipped and not quiet:
                print(f"corpus {name!r}: using {folder} ({'; '.join(skipped)})", file=sys.stderr)
            return folder
        reason = "no such folder" if not folder.is_dir() else f"lacks {', '.join(missing)}"
        looked.append(f"{folder} ({what}: {reason})")
        skipped.append(looked[-1])
    target = cache_dir() / name
    if not (card["download"] or card.get("hf_dataset")):
        looked.append("download (no public source on the card)")
    elif os.environ.get(OFFLINE_ENV, "") not in ("", "0") or not download:
        looked.append(f"download (disabled{' by ' + OFFLINE_ENV + '=1' if download else ''})")
    else:
        try:
            download_corpus(card, target, quiet=quiet)
        except DataError as error:
            looked.append(f"download into {target} (failed: {error})")
        else:
            missing = _missing(target, card)
            if not missing:
                return target
            looked.append(f"download into {target} (still lacks {', '.join(missing)})")
    raise DataError(f"corpus {name!r} not found; looked in: {'; '.join(looked)}. Fix: set {DATA_ENV}=FOLDER "
                    f"(a folder holding {name}/), pass --data-dir FOLDER, or download the files listed on "
                    f"{card['card_path']} ({', '.join(required_files(card))}) into {target}/")


def sha256_of(path: str | Path) -> str:
    """Hex sha256 of a file's bytes, read in 1 MiB pieces."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for piece in iter(lambda: f.read(_CHUNK), b""):
            digest.update(piece)
    return digest.hexdigest()


def verify_corpus(name: str | dict, folder: str | Path) -> dict[str, str]:
    """Compare the files present in ``folder`` with the card's ``[sha256]``; returns ``{file: problem}`` (empty
    when every present file matches). Absent files (held-out test splits) are not problems."""
    card = name if isinstance(name, dict) else read_card(name)
    problems = {}
    for relative, expected in card["sha256"].items():
        file = Path(folder) / relative
        if file.is_file() and (actual := sha256_of(file)) != expected:
            problems[relative] = f"sha256 {actual}, the card expects {expected}"
    return problems


def download_file(url: str, dest: str | Path, sha256: str, quiet: bool = False) -> Path:
    """Fetch ``url`` into ``dest``, checking the downloaded bytes against ``sha256``.

    A ``dest`` ending in ``.gz`` is stored gzip-compressed (the download is compressed here unless it already is).
    Progress goes to stderr. On a checksum mismatch the partial file is deleted and DataError names the expected and
    actual sha256; a network failure raises DataError naming the URL.
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    digest = hashlib.sha256()
    try:
        with urllib.request.urlopen(url, timeout=60) as response, open(part, "wb") as out:
            total = int(response.headers.get("Content-Length") or 0)
            done, shown = 0, -1
            for piece in iter(lambda: response.read(_CHUNK), b""):
                out.write(piece)
                digest.update(piece)
                done += len(piece)
                # a line per percent when the size is known, else per MiB
                percent = done * 100 // total if total else done // _CHUNK
                if not quiet and percent != shown:
                    size = f"{done / 1e6:.1f} MB" + (f" of {total / 1e6:.1f} MB ({percent}%)" if total else "")
                    print(f"\rdownloading {url} -> {dest}: {size}", end="", file=sys.stderr, flush=True)
                    shown = percent
        if not quiet:
            print(file=sys.stderr)
    except (urllib.error.URLError, OSError, ValueError) as error:
        part.unlink(missing_ok=True)
        raise DataError(f"could not download {url} ({error}); check the connection, or place the file at {dest} "
                        f"yourself (set {OFFLINE_ENV}=1 to stop downloads)") from None
    actual = digest.hexdigest()
    if actual != sha256:
        part.unlink(missing_ok=True)
        raise DataError(f"{url}: checksum mismatch, expected sha256 {sha256}, got {actual}; the partial download "
                        f"was deleted. The source may have changed: fetch the file by hand and check it")
    with open(part, "rb") as f:
        is_gzip = f.read(2) == b"\x1f\x8b"
    if dest.name.endswith(".gz") and not is_gzip:
        # store in the layout the card names (and the shared data folder uses): gzip-compressed, no timestamp
        def write(tmp: Path) -> None:
            with open(part, "rb") as src, gzip.GzipFile(tmp, "wb", compresslevel=9, mtime=0) as out:
                for piece in iter(lambda: src.read(_CHUNK), b""):
                    out.write(piece)
        atomic_write(dest, write)
        part.unlink()
    else:
        os.replace(part, dest)
    return dest


def _unreachable(url: str, timeout: float = 5.0) -> str | None:
    """Why the host of ``url`` cannot be reached (its name does not resolve, or it takes no connection within
    ``timeout`` seconds), or None when it can, or when a proxy stands between (its reachability is the proxy's)."""
    if any(os.environ.get(name) for name in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy")):
        return None
    parts = urllib.parse.urlsplit(url)
    try:
        socket.create_connection((parts.hostname or "", parts.port or 443), timeout=timeout).close()
    except OSError as error:
        return str(error) or type(error).__name__
    return None


def _download_hf(card: dict, folder: Path, quiet: bool) -> None:
    """Write a Hugging Face dataset's splits into ``folder`` as the card's JSON-lines files."""
    try:
        import datasets
    except ImportError as error:  # pragma: no cover - datasets is a core dependency
        raise DataError(f"downloading {card['name']} needs the datasets package ({error})") from None
    hub = os.environ.get("HF_ENDPOINT") or "https://huggingface.co"
    unreachable = _unreachable(hub)
    if unreachable:   # the hub client would retry for a minute before saying so
        raise DataError(f"could not reach {hub} to fetch Hugging Face dataset {card['hf_dataset']!r} "
                        f"({unreachable}); check the connection, or place the files listed on {card['card_path']} "
                        f"into {folder}/ (set {OFFLINE_ENV}=1 to stop downloads)")
    if not quiet:
        print(f"downloading {card['hf_dataset']} from the Hugging Face hub into {folder}", file=sys.stderr)
    try:
        dataset = datasets.load_dataset(card["hf_dataset"])
    except Exception as error:  # the hub raises many kinds (connection, missing repo, auth); all mean "not fetched"
        raise DataError(f"could not load Hugging Face dataset {card['hf_dataset']!r} ({error}); check the connection "
                        f"or place the files listed on {card['card_path']} into {folder}/") from None
    text_field, label_field = card.get("text_field", "text"), card.get("label_field", "label")
    for split, relative in card.get("hf_splits", {}).items():
        if split not in dataset:
            raise DataError(f"Hugging Face dataset {card['hf_dataset']!r} has no split {split!r} "
                            f"(it has {', '.join(dataset)}); fix hf_splits on {card['card_path']}")
        rows = dataset[split]
        if card["format"] == "parallel":     # two aligned line files: the source field's, then the target's
            for name, column in zip(relative, (card["source"], card["target"]), strict=True):
                lines = "".join(" ".join(str(text).split()) + "\n" for text in rows[column])
                atomic_write(folder / name, lambda tmp, lines=lines: tmp.write_bytes(gzip.compress(lines.encode())))
            continue
        labels = rows[label_field] if label_field in rows.column_names else [None] * len(rows)

        def write(tmp: Path, texts=rows[text_field], labels=labels) -> None:
            with gzip.open(tmp, "wt", encoding="utf-8", compresslevel=6) as out:
                for text, label in zip(texts, labels, strict=True):
                    row = {text_field: text}
                    if label is not None and not (isinstance(label, int) and label < 0):  # -1 = unlabelled
                        row[label_field] = label
                    out.write(json.dumps(row, ensure_ascii=False) + "\n")
        atomic_write(folder / relative, write)


def download_corpus(card: dict, folder: str | Path, quiet: bool = False) -> Path:
    """Fetch every ``[[download]]`` file of ``card`` (or its ``hf_dataset``) into ``folder``; files already there
    are kept. Returns ``folder``. Raises DataError on a network failure or a checksum mismatch."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for entry in card["download"]:
        dest = folder / entry["file"]
        if not dest.is_file():
            download_file(entry["url"], dest, entry["sha256"], quiet=quiet)
    if card.get("hf_dataset") and _missing(folder, card):
        _download_hf(card, folder, quiet)
    return folder

"""Examples and corpora: readers for text lines, JSON lines, CSV/TSV and CoNLL columns, corpus cards, series.

Every reader takes plain or gzip files (gzip is recognised by its magic bytes, not only by the name), UTF-8 with
or without a BOM, LF or CRLF line ends. Bad input raises DataError naming the file, the line where there is one,
and the fix. Labels are always strings: ``3`` and ``"3"`` are the same label.
"""
from __future__ import annotations

import csv
import gzip
import io
import json
import random
import sys
import zlib
from collections import Counter, defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from textrnn.datasource import find_corpus, list_corpora, read_card  # noqa: F401  (list_corpora for `textrnn list`)
from textrnn.errors import ConfigError, DataError
from textrnn.tasks import TASK_NAMES, reads, task_reading

FORMATS = ("lines", "document", "jsonl", "csv", "tsv", "conll")
_EXTENSIONS = {".txt": "lines", ".text": "lines", ".jsonl": "jsonl", ".ndjson": "jsonl", ".csv": "csv",
               ".tsv": "tsv", ".conll": "conll", ".iob": "conll", ".bio": "conll"}
_ALIASES = {"txt": "lines", "text": "lines", "json": "jsonl", "ndjson": "jsonl"}


@dataclass
class Example:
    """One example. ``text`` is the raw text (for tagging: the tokens joined by spaces); ``label`` a string label
    (classify); ``tokens`` and ``tags`` one IOB2 tag per token (tag); ``meta`` anything else (source, clean...)."""

    text: str | None = None
    label: str | None = None
    tokens: list[str] | None = None
    tags: list[str] | None = None
    meta: dict = field(default_factory=dict)
    target: str | None = None    # translate: the text's translation (``text`` is the source side)


@dataclass
class Reading:
    """How a corpus's labelled files are read, kept with a trained run (``meta["data"]``) so that the corpus's own
    files (its test split, say) evaluate as they come: the fields, and the labels as the files write them.

    ``label_names`` maps a value in the files to its label (IMDB's ``"0"`` -> ``"neg"``); ``label_order`` names
    the label of each index (Reuters' ``topics.json``); ``valid_group`` is the meta field whose groups a carved
    validation keeps whole (IMDB's film)."""

    format: str = "auto"
    text_field: str = "text"
    label_field: str = "label"
    label_names: dict[str, str] | None = None
    label_order: list[str] | None = None
    valid_group: str | None = None

    def map_labels(self, examples: list[Example], known: Sequence[str], path: str | Path,
                   strict: bool = True) -> list[Example]:
        """``examples`` with each label a label of ``known``: as it is, or through ``label_names`` or
        ``label_order``; DataError naming the file and line for any other value (left as it is without
        ``strict``)."""
        known = set(known)
        for example in examples:
            value = example.label
            if value is None or value in known:
                continue
            if self.label_names and value in self.label_names:
                example.label = self.label_names[value]
            elif self.label_order and value.isdigit() and int(value) < len(self.label_order):
                example.label = self.label_order[int(value)]
            elif strict:
                mapped = sorted(self.label_names or {}) + ([f"0-{len(self.label_order) - 1}"] if self.label_order else [])
                also = f" nor a value its corpus maps to one ({', '.join(mapped)})" if mapped else ""
                raise DataError(f"{path}:{example.meta.get('line', '?')}: label {value!r} is neither a label of the "
                                f"run ({', '.join(sorted(known)[:10])}{' ...' if len(known) > 10 else ''}){also}; "
                                "fix the file or name the right field with --label-field")
        return examples


# ---------------------------------------------------------------------------------------------------- reading text

def lines_of(path: str | Path, errors: str = "strict", ends: bool = False) -> Iterator[tuple[int, str]]:
    """(line number, line) of a plain or gzip UTF-8 file, read a line at a time (a BOM dropped; each line without
    its end, or with ``ends`` ending in "\\n" as written, CRLF made LF).

    ``errors="replace"`` puts U+FFFD where bytes are not UTF-8 instead of failing. Raises DataError for a missing
    file, a damaged gzip file, a binary file (NUL bytes) or, with ``errors="strict"``, bytes that are not UTF-8
    (naming the line and the byte offset)."""
    if errors not in ("strict", "replace", "ignore"):
        raise ConfigError(f"errors must be 'strict', 'replace' or 'ignore', got {errors!r}")
    path = Path(path)
    try:
        with open(path, "rb") as f:
            compressed = f.read(2) == b"\x1f\x8b"
    except FileNotFoundError:
        raise DataError(f"{path}: no such file; check the path") from None
    except IsADirectoryError:
        raise DataError(f"{path}: is a folder; give a file") from None
    except OSError as error:
        raise DataError(f"{path}: cannot be read ({error.strerror})") from None
    offset = 0
    try:
        with (gzip.open if compressed else open)(path, "rb") as f:
            for number, raw in enumerate(f, 1):
                if b"\x00" in raw:
                    raise DataError(f"{path}: looks binary (a NUL byte at offset {offset + raw.index(0)}), not UTF-8 "
                                    "text; if it is UTF-16, save it again as UTF-8")
                try:
                    line = raw.decode("utf-8", errors=errors)
                except UnicodeDecodeError as error:
                    if number == 1 and _binary(path, compressed):
                        raise DataError(f"{path}: looks binary (NUL bytes), not UTF-8 text; if it is UTF-16, save "
                                        "it again as UTF-8") from None
                    where = " of the decompressed data" if compressed else ""
                    raise DataError(f"{path}:{number}: not UTF-8 (byte {raw[error.start]:#04x} at offset "
                                    f"{offset + error.start}{where}); save the file as UTF-8") from None
                offset += len(raw)
                line = line.removeprefix("\ufeff") if number == 1 else line
                yield number, (line.removesuffix("\n").removesuffix("\r") + "\n" * line.endswith("\n")
                               if ends else line.rstrip("\r\n"))
    except (OSError, EOFError, zlib.error) as error:
        raise DataError(f"{path}: a damaged gzip file ({error}); download or compress it again") from None


def _binary(path: Path, compressed: bool) -> bool:
    """Whether the file's first 8 KB hold a NUL byte (an image, UTF-16 text...)."""
    with (gzip.open if compressed else open)(path, "rb") as f:
        return b"\x00" in f.read(8192)


def read_text(path: str | Path, errors: str = "strict") -> str:
    """The text of a plain or gzip UTF-8 file (a BOM dropped, CRLF turned into LF); see ``lines_of``. Raises
    DataError also for an empty or whitespace-only file."""
    text = "".join(line for _, line in lines_of(path, errors, ends=True))
    if not text.strip():
        raise DataError(f"{path}: the file is empty (or only whitespace); give a file with one example per line")
    return text


def detect_format(path: str | Path, format: str = "auto", task: str | None = None, unknown: str | None = None) -> str:
    """``format`` checked, or for ``"auto"`` the format its extension names (``.gz`` stripped); for a task whose
    files hold tags (``tasks.reads``: ``tag``) a ``.txt`` file (CoNLL-2003's own ``train.txt``, ``test.txt.gz``) is CoNLL columns.
    An extension that names no format is an error, or ``unknown`` where given (a translator's ``test.de``: lines)."""
    if format == "auto" and reads(task) == "tags" and detect_format(path) == "lines":
        return "conll"
    format = _ALIASES.get(format, format)
    if format != "auto":
        if format not in FORMATS:
            raise ConfigError(f"format must be 'auto' or one of {', '.join(FORMATS)}, got {format!r}")
        return format
    name = Path(path).name.lower().removesuffix(".gz")
    suffix = Path(name).suffix
    if suffix not in _EXTENSIONS:
        if unknown is not None:
            return unknown
        raise DataError(f"{path}: cannot tell the format from the extension {suffix or '(none)'!r}; "
                        f"pass format= one of {', '.join(FORMATS)} (or rename the file .txt, .jsonl, .csv, .tsv, .conll)")
    return _EXTENSIONS[suffix]


def as_label(value: Any, where: str) -> str | None:
    """A label as a string: ``3``, ``3.0`` and ``"3"`` are all ``"3"``; ``None`` stays ``None``."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    raise DataError(f"{where}: a label must be a string or a number, got {type(value).__name__} {value!r}")


# ------------------------------------------------------------------------------------------------------- readers

def _tag_example(tokens: Any, tags: Any, where: str) -> Example:
    if not isinstance(tokens, list) or not all(isinstance(t, str) for t in tokens):
        raise DataError(f"{where}: 'tokens' must be a list of strings")
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        raise DataError(f"{where}: 'tags' must be a list of strings such as \"B-PER\"")
    if not tokens:
        raise DataError(f"{where}: 'tokens' is empty; drop the line or give it tokens")
    if len(tokens) != len(tags):
        raise DataError(f"{where}: {len(tokens)} tokens but {len(tags)} tags; give one tag per token")
    return Example(text=" ".join(tokens), tokens=list(tokens), tags=list(tags))


def _jsonl_examples(lines: Iterator[tuple[int, str]], path: Path, text_field: str, label_field: str | None,
                    meta_fields: Sequence[str]) -> Iterator[Example]:
    for n, line in lines:
        if not line.strip():
            continue
        where = f"{path}:{n}"
        try:
            row = json.loads(line)
        except json.JSONDecodeError as error:
            raise DataError(f"{where}: not valid JSON ({error.msg} at column {error.colno}); "
                            f"each line must hold one JSON object") from None
        except (ValueError, RecursionError) as error:  # over-long integers, absurd nesting
            raise DataError(f"{where}: not readable JSON ({error}); each line must hold one JSON object") from None
        if not isinstance(row, dict):
            raise DataError(f"{where}: expected a JSON object {{...}}, got a {type(row).__name__}")
        if "tokens" in row and "tags" in row:
            example = _tag_example(row["tokens"], row["tags"], where)
        elif text_field in row:
            value = row[text_field]
            if not isinstance(value, str):
                raise DataError(f"{where}: field {text_field!r} must be a string, got {type(value).__name__}")
            example = Example(text=value, label=as_label(row.get(label_field), where) if label_field else None)
        else:
            raise DataError(f"{where}: no {text_field!r} field; this line has the keys {sorted(row)}; name the text "
                            f"field with text_field= (--text-field), or give 'tokens' and 'tags' for tagging")
        example.meta = {key: row[key] for key in meta_fields if key in row}
        example.meta["line"] = n
        yield example


def _csv_examples(lines: Iterator[tuple[int, str]], path: Path, delimiter: str, text_field: str,
                  label_field: str | None, meta_fields: Sequence[str]) -> Iterator[Example]:
    at_line = [1]   # the line the reader last took (a quoted field can span lines)

    def feed() -> Iterator[str]:
        for n, line in lines:
            at_line[0] = n
            yield line + "\n"

    old_limit = csv.field_size_limit()
    csv.field_size_limit(2**31 - 1)  # a single very long field (a whole book in one cell) is still a field
    try:
        reader = csv.reader(feed(), delimiter=delimiter)
        header = [name.strip() for name in next(reader, [])]
        if text_field not in header:
            raise DataError(f"{path}: no column {text_field!r}; the columns are {header}; "
                            f"name the text column with text_field= (--text-field)")
        text_at = header.index(text_field)
        label_at = header.index(label_field) if label_field in header else None
        meta_at = {name: header.index(name) for name in meta_fields if name in header}
        for row in reader:
            if not any(cell.strip() for cell in row):
                continue
            if len(row) != len(header):
                raise DataError(f"{path}:{at_line[0]}: {len(row)} fields, the header has {len(header)}; "
                                f"quote fields that hold {delimiter!r} or line breaks")
            label = row[label_at].strip() or None if label_at is not None else None  # an empty cell: no label
            meta = {name: row[at] for name, at in meta_at.items()}
            meta["line"] = at_line[0]
            yield Example(text=row[text_at], label=label, meta=meta)
    except csv.Error as error:
        raise DataError(f"{path}:{at_line[0]}: not valid {'TSV' if delimiter == chr(9) else 'CSV'} ({error})") from None
    finally:
        csv.field_size_limit(old_limit)


def iter_examples(path: str | Path, format: str = "auto", text_field: str = "text", label_field: str | None = "label",
                  meta_fields: Sequence[str] = (), errors: str = "strict") -> Iterator[Example]:
    """The examples of a ``lines``, ``jsonl``, ``csv`` or ``tsv`` file (see ``read_examples``), read a line at a time
    so a file bigger than memory can be streamed (``textrnn predict --file``)."""
    path = Path(path)
    format = detect_format(path, format)
    lines = lines_of(path, errors)
    if format == "lines":
        return (Example(text=line.strip(), meta={"line": n}) for n, line in lines if line.strip())
    if format == "jsonl":
        return _jsonl_examples(lines, path, text_field, label_field, meta_fields)
    if format in ("csv", "tsv"):
        return _csv_examples(lines, path, "\t" if format == "tsv" else ",", text_field, label_field, meta_fields)
    raise DataError(f"{path}: {format} files are read whole (read_examples); give a .txt, .jsonl, .csv or .tsv file "
                    "to stream (or --format)")


def _read_conll(lines: Iterator[tuple[int, str]], path: Path) -> list[Example]:
    examples: list[Example] = []
    tokens: list[str] = []
    tags: list[str] = []
    columns, first, start = 0, 0, 0
    document: int | None = None      # the -DOCSTART- section a sentence is in (None before the first one)

    middle: list[list[str]] = []     # the columns between token and tag (CoNLL-2003: part of speech, chunk)

    def flush() -> None:
        if tokens:
            meta = {"line": start} if document is None else {"line": start, "doc": document}
            if middle:
                meta["columns"] = [column[:] for column in middle]
            examples.append(Example(text=" ".join(tokens), tokens=tokens[:], tags=tags[:], meta=meta))
            tokens.clear()
            tags.clear()
            for column in middle:
                column.clear()

    for n, line in lines:
        cells = line.split()
        if not cells or cells[0] == "-DOCSTART-":
            flush()
            if cells:
                document = 0 if document is None else document + 1
            continue
        if not columns:
            columns, first = len(cells), n
            if columns < 2:
                raise DataError(f"{path}:{n}: one column; CoNLL lines need a token first and its tag last "
                                f"(e.g. 'Paris NNP B-LOC'), separated by spaces or tabs")
            middle = [[] for _ in range(columns - 2)]
        elif len(cells) != columns:
            raise DataError(f"{path}:{n}: {len(cells)} columns, but line {first} has {columns}; every token line "
                            f"needs the same columns (token first, tag last; a token cannot contain spaces)")
        if not tokens:
            start = n
        tokens.append(cells[0])
        tags.append(cells[-1])
        for column, cell in zip(middle, cells[1:-1], strict=True):
            column.append(cell)
    flush()
    return examples


def _entity_type(tag: str) -> str | None:
    return tag[2:] if tag[:2] in ("B-", "I-") else None


def iob1_to_iob2(tags: Sequence[str]) -> list[str]:
    """IOB1 tags (``I-X`` starts an entity; ``B-X`` only between adjacent entities of one type) as IOB2 (every
    entity starts with ``B-X``). Valid IOB2 input comes back unchanged; tags without a B-/I- prefix pass through."""
    out: list[str] = []
    previous: str | None = None
    for tag in tags:
        kind = _entity_type(tag)
        if tag.startswith("I-") and previous != kind:
            tag = "B-" + kind
        out.append(tag)
        previous = kind
    return out


def iob2_break(tags: Sequence[str]) -> int | None:
    """The index of the first ``I-X`` with no ``B-X`` or ``I-X`` before it (where the tags stop being IOB2), or None."""
    previous: str | None = None
    for i, tag in enumerate(tags):
        kind = _entity_type(tag)
        if tag.startswith("I-") and previous != kind:
            return i
        previous = kind
    return None


def check_iob2(tags: Sequence[str], where: str) -> None:
    """Raise DataError (naming ``where``, e.g. ``file:line``) for an ``I-X`` with no ``B-X`` or ``I-X`` before it."""
    i = iob2_break(tags)
    if i is not None:
        tag, before = tags[i], (f"after {tags[i - 1]!r}" if i else "at the start")
        raise DataError(f"{where}: tag {i + 1} {tag!r} comes {before}, with no 'B-{_entity_type(tag)}' opening it; "
                        f"not IOB2 (an IOB1 file can be converted with iob1_to_iob2)")


def read_examples(path: str | Path, format: str = "auto", text_field: str = "text", label_field: str = "label",
                  errors: str = "strict", meta_fields: Sequence[str] = (), require_label: bool = False) -> list[Example]:
    """Read one file into examples.

    Formats (``"auto"`` picks from the extension, ``.gz`` stripped): ``lines`` (``.txt``; one example per non-empty
    line, stripped), ``document`` (the whole file is one example), ``jsonl`` (``.jsonl``; one object per line with
    ``text_field`` and an optional ``label_field``, or ``{"tokens": [...], "tags": [...]}`` for tagging), ``csv`` /
    ``tsv`` (a header row; ``text_field`` and ``label_field`` name columns; quoted line breaks are fine), ``conll``
    (``.conll``; token in the first column, tag in the last, sentences separated by blank lines; ``-DOCSTART-``
    lines start a document, numbered from 0 in ``meta["doc"]``). Tags in IOB1 are converted to IOB2.
    ``meta_fields`` are copied into ``Example.meta`` (with the line number under ``"line"``). ``errors="replace"``
    reads files that are not valid UTF-8, replacing bad bytes.

    Raises DataError (naming file and line) for unreadable files, malformed rows, a missing text field or column,
    labels on some rows but not others, or (with ``require_label``) no labels at all.
    """
    path = Path(path)
    format = detect_format(path, format)
    if format == "document":
        examples = [Example(text=read_text(path, errors=errors))]
    elif format == "conll":
        examples = _read_conll(lines_of(path, errors), path)
    else:
        examples = list(iter_examples(path, format, text_field, label_field, meta_fields, errors))
    if not examples and not any(line.strip() for _, line in lines_of(path, errors)):
        raise DataError(f"{path}: the file is empty (or only whitespace); give a file with one example per line")
    if not examples:
        raise DataError(f"{path}: holds no examples; check the format ({format})")
    tagged = [e for e in examples if e.tags is not None]
    if tagged and len(tagged) != len(examples):
        odd = next(e for e in examples if e.tags is None)
        raise DataError(f"{path}:{odd.meta.get('line', '?')}: has no tokens and tags, but other lines do; "
                        f"give every line the same kind of example")
    for example in tagged:
        example.tags = iob1_to_iob2(example.tags)
    _check_labels(examples, path, label_field, require_label, tagged=bool(tagged))
    return examples


def iter_texts(path: str | Path, format: str = "auto", text_field: str = "text") -> Iterator[tuple[int, str]]:
    """(line number, text) of each example of a ``lines``, ``jsonl``, ``csv`` or ``tsv`` file, streamed; the
    labels, if any, are not read (so never become part of a text)."""
    for example in iter_examples(path, format, text_field, label_field=None):
        yield example.meta["line"], example.text


def _first_fields(path: Path) -> list[str]:
    """The field names of a JSON-lines file's first row or a CSV/TSV file's header (for error messages)."""
    format = detect_format(path)
    first = next((line for _, line in lines_of(path, errors="replace") if line.strip()), "")
    if format == "jsonl":
        try:
            row = json.loads(first)
        except json.JSONDecodeError:
            return []
        return sorted(row) if isinstance(row, dict) else []
    if format in ("csv", "tsv"):
        return [cell.strip() for cell in next(csv.reader([first], delimiter="\t" if format == "tsv" else ","))]
    return []


def _check_labels(examples: list[Example], path: Path, label_field: str, require_label: bool, tagged: bool) -> None:
    labelled = sum(e.label is not None for e in examples)
    if labelled and labelled != len(examples):
        missing = next(e for e in examples if e.label is None)
        having = next(e for e in examples if e.label is not None)
        raise DataError(f"{path}:{missing.meta.get('line', '?')}: no {label_field!r} label, but line "
                        f"{having.meta.get('line', '?')} has one; give every example a label, or none")
    if require_label and not labelled and not tagged:
        fields = _first_fields(path)
        has = f" (its fields are {fields})" if fields else ""
        raise DataError(f"{path}: no {label_field!r} labels{has}; name the label field or column with label_field= "
                        f"(--label-field)")


# --------------------------------------------------------------------------------------------- sentence pairs

def _lines(path: Path) -> list[str]:
    """The file's lines (a final line break ends the last line rather than starting an empty one)."""
    return read_text(path).removesuffix("\n").split("\n")


def read_line_pairs(source_path: str | Path, target_path: str | Path) -> list[Example]:
    """Pairs from two aligned line files: line n of ``source_path`` translates to line n of ``target_path``.

    Every line is kept, an empty one too (as an empty sentence), so that the numbering stays the files'.
    Raises DataError when the files differ in length, naming the longer one and its first line without a partner.
    """
    source_path, target_path = Path(source_path), Path(target_path)
    sources, targets = _lines(source_path), _lines(target_path)
    if len(sources) != len(targets):
        longer, shorter = (source_path, target_path) if len(sources) > len(targets) else (target_path, source_path)
        extra = min(len(sources), len(targets)) + 1
        raise DataError(f"{longer}:{extra}: {longer.name} has {max(len(sources), len(targets)):,} lines but "
                        f"{shorter} has {min(len(sources), len(targets)):,}; line {extra} of {longer.name} has no "
                        f"translation. Aligned files need one sentence per line, the same number in each")
    return [Example(text=s.strip(), target=t.strip(), meta={"line": n})
            for n, (s, t) in enumerate(zip(sources, targets, strict=True), 1)]


def read_tsv_pairs(path: str | Path, columns: Sequence[str] = ("source", "target"), source: str = "source",
                   target: str = "target") -> list[Example]:
    """Pairs from a tab-separated file without a header whose lines hold the fields named by ``columns``, in order.

    The column named ``source`` becomes ``text``, the one named ``target`` becomes ``target``, and every other named
    column is kept in ``meta`` under its name (e.g. ``columns=("en", "ko", "attribution"), source="ko",
    target="en"``). Fields are split on tabs only (no CSV quoting: quotes are part of a sentence). Blank lines are
    skipped. Raises DataError for a line with another number of fields (naming the file and line) or a file
    without pairs, ValueError for ``columns`` that do not name both sides.
    """
    columns = list(columns)
    if source not in columns or target not in columns or source == target or len(set(columns)) != len(columns):
        raise ValueError(f"columns {columns} must name distinct columns, among them source {source!r} and target "
                         f"{target!r}")
    path = Path(path)
    examples = []
    for n, line in enumerate(_lines(path), 1):
        if not line.strip():
            continue
        fields = line.split("\t")
        if len(fields) != len(columns):
            found = "one column (no tab)" if len(fields) == 1 else f"{len(fields)} tab-separated columns"
            raise DataError(f"{path}:{n}: {found}, expected {len(columns)} ({', '.join(columns)}); each line needs "
                            f"a sentence and its translation separated by a tab")
        row = dict(zip(columns, fields, strict=True))
        meta = {name: value for name, value in row.items() if name not in (source, target)}
        meta["line"] = n
        examples.append(Example(text=row[source].strip(), target=row[target].strip(), meta=meta))
    if not examples:
        raise DataError(f"{path}: holds no sentence pairs")
    return examples


# ------------------------------------------------------------------------------------------------------- corpora

def carve_valid(examples: Sequence[Example], fraction: float, seed: int, group: str | None = None
                ) -> tuple[list[Example], list[Example]]:
    """Split ``examples`` into (train, valid) with about ``len * fraction`` in valid, fixed by ``seed``.

    Stratified by label when labels exist (each label keeps its share; every label keeps at least one train
    example). With ``group`` (a meta field, such as IMDB's film, or "target": a translation pair's target sentence,
    which Tatoeba gives several sources), each group's examples stay on one side, so a
    validation slice never shares a film with train, as the test split does not: groups are drawn in a seeded
    order and taken while they fit every label's share. Both parts come back in a seeded shuffled order, so that a
    prefix (``train[:400]``) is a fair sample. Raises ConfigError for a fraction outside (0, 1) and DataError for
    fewer than two examples, or an example without the group field."""
    if not 0 < fraction < 1:
        raise ConfigError(f"valid_fraction must be between 0 and 1, got {fraction}")
    if len(examples) < 2:
        raise DataError(f"{len(examples)} example(s) are too few to carve a validation slice from; give a validation "
                        f"file (--valid FILE) or more examples")
    rng = random.Random(seed)
    by_label: dict[str, list[int]] = defaultdict(list)
    for i, example in enumerate(examples):
        by_label[example.label if example.label is not None else ""].append(i)
    target = max(1, round(len(examples) * fraction))
    # largest-remainder allocation: per-label quotas summing to the target, each label keeping one train example
    wanted = {label: len(ids) * fraction for label, ids in by_label.items()}
    cap = {label: len(ids) - 1 for label, ids in by_label.items()}
    quota = {label: min(int(w), cap[label]) for label, w in wanted.items()}
    for label in sorted(by_label, key=lambda k: (quota[k] - wanted[k], k)):
        if sum(quota.values()) >= target:
            break
        if quota[label] < cap[label]:
            quota[label] += 1
    valid_ids = _by_groups(examples, group, quota, rng) if group else _by_labels(by_label, quota, rng)
    if not valid_ids:
        raise DataError(f"no {group!r} group is small enough to carve a validation of {fraction:.0%} from "
                        f"{len(examples)} examples; give a validation file (--valid FILE) or more examples")
    chosen = set(valid_ids)
    train_ids = [i for i in range(len(examples)) if i not in chosen]
    rng.shuffle(train_ids)
    rng.shuffle(valid_ids)
    return [examples[i] for i in train_ids], [examples[i] for i in valid_ids]


def _by_labels(by_label: dict[str, list[int]], quota: dict[str, int], rng: random.Random) -> list[int]:
    valid_ids: list[int] = []
    for label in sorted(by_label):
        ids = by_label[label][:]
        rng.shuffle(ids)
        valid_ids += ids[: quota[label]]
    return valid_ids


def _by_groups(examples: Sequence[Example], group: str, quota: dict[str, int], rng: random.Random) -> list[int]:
    """Whole groups, in a seeded order, taken while each of their labels stays within its quota."""
    groups: dict[str, list[int]] = defaultdict(list)
    for i, example in enumerate(examples):
        value = example.target if group == "target" else (example.meta or {}).get(group)
        if value is None:
            raise DataError(f"line {example.meta.get('line', '?')}: no {group!r} to carve the validation by; give every "
                            "example that field (valid_group), or carve without it")
        groups[str(value)].append(i)
    order = sorted(groups)
    rng.shuffle(order)
    taken: Counter[str] = Counter()
    valid_ids: list[int] = []
    for name in order:
        counts = Counter(examples[i].label if examples[i].label is not None else "" for i in groups[name])
        if all(taken[label] + n <= quota[label] for label, n in counts.items()):
            taken.update(counts)
            valid_ids += groups[name]
            if sum(taken.values()) >= sum(quota.values()):
                break
    return valid_ids


def _infer_task(examples: Sequence[Example]) -> str:
    """The task of examples read without one: tags make a tagger's, labels a classifier's, text alone an LM's."""
    if any(e.tags is not None for e in examples):
        return task_reading("tags")
    return task_reading("labels" if any(e.label is not None for e in examples) else "text")


@dataclass
class Corpus:
    """Train, validation and (when present) test examples of one corpus, with its task and declared labels.

    ``valid_is_carved`` is True when valid was carved from train (reports say so); ``card`` holds the corpus card
    and the folder it was read from.
    """

    train: list[Example]
    valid: list[Example]
    test: list[Example] | None = None
    name: str = "custom"
    task: str | None = None
    labels: list[str] | None = None
    valid_is_carved: bool = False
    card: dict = field(default_factory=dict)
    reading: Reading = field(default_factory=Reading)

    @classmethod
    def from_files(cls, train: str | Path, valid: str | Path | None = None, test: str | Path | None = None,
                   text_field: str = "text", label_field: str = "label", format: str = "auto",
                   task: str | None = None, valid_fraction: float = 0.1, seed: int = 0,
                   errors: str = "strict", meta_fields: Sequence[str] = (), valid_group: str | None = None,
                   target: str | Path | None = None) -> Corpus:
        """A corpus from your own files (see ``read_examples`` for formats). Without ``valid``, a stratified,
        seeded ``valid_fraction`` of train becomes valid (``valid_is_carved``), each ``valid_group`` (a field or
        column, such as the film a review is about) kept on one side. ``task`` is inferred when None (tags -> tag,
        labels -> classify, else lm); with ``task="tag"`` a ``.txt`` file is read as CoNLL columns. For
        ``task="translate"`` a file is a TSV of source and target columns, or ``train`` and ``target`` are two
        aligned line files; the carved validation keeps each target sentence on one side.

        Raises DataError for unreadable files, or when the files do not fit the task (no labels for classify, no
        tags for tag), and ConfigError for an unknown task. ``meta_fields``: more fields of JSON-lines or CSV rows
        to keep in each example's ``meta``.
        """
        if task is not None and task not in TASK_NAMES:
            raise ConfigError(f"task must be one of {', '.join(TASK_NAMES)}, got {task!r}")

        meta_fields = [*meta_fields, *([valid_group] if valid_group else [])]
        kind = reads(task)
        if kind == "pairs":
            valid_group = valid_group or "target"

        def read(path: str | Path) -> list[Example]:
            if kind == "pairs":
                return read_line_pairs(path, target) if target and path == train else read_tsv_pairs(path)
            return read_examples(path, format=detect_format(path, format, task), text_field=text_field,
                                 label_field=label_field, errors=errors, require_label=kind == "labels",
                                 meta_fields=meta_fields)

        train_examples = read(train)
        task = task or _infer_task(train_examples)
        if reads(task) == "tags" and train_examples[0].tags is None:
            raise DataError(f"{train}: task {task!r} needs tokens and tags: CoNLL columns (token ... tag) or JSON lines "
                            f"with 'tokens' and 'tags'")
        carved = valid is None
        if carved:
            train_examples, valid_examples = carve_valid(train_examples, valid_fraction, seed, group=valid_group)
        else:
            valid_examples = read(valid)
        files = {"train": str(train), "valid": str(valid) if valid else None, "test": str(test) if test else None}
        return cls(train=train_examples, valid=valid_examples, test=read(test) if test else None, task=task,
                   valid_is_carved=carved, card={"name": "custom", "task": task, "files": files},
                   reading=Reading(format, text_field, label_field, valid_group=valid_group))

    @classmethod
    def from_hf(cls, dataset: Any, text_field: str = "text", label_field: str = "label", tokens_field: str = "tokens",
                tags_field: str = "tags", valid_fraction: float = 0.1, seed: int = 0) -> Corpus:
        """A corpus from a Hugging Face ``datasets.Dataset`` (all train) or ``DatasetDict`` (splits ``train``,
        ``validation`` / ``valid`` / ``dev``, ``test``). ClassLabel features are mapped to their names, and their
        order becomes ``labels``. Without a validation split one is carved from train (stratified, seeded).
        Raises DataError for a missing train split or missing columns."""
        splits = dict(dataset.items()) if hasattr(dataset, "items") else {"train": dataset}
        if "train" not in splits:
            raise DataError(f"the dataset has no 'train' split (it has {', '.join(splits)}); rename one to 'train'")
        valid_name = next((s for s in ("validation", "valid", "dev") if s in splits), None)
        labels: list[str] | None = None
        converted = {}
        for split in ("train", valid_name, "test"):
            if split and split in splits:
                converted[split], found = _hf_examples(splits[split], split, text_field, label_field,
                                                       tokens_field, tags_field)
                labels = labels or found
        carved = valid_name is None
        if carved:
            train, valid = carve_valid(converted["train"], valid_fraction, seed)
        else:
            train, valid = converted["train"], converted[valid_name]
        task = _infer_task(train)
        return cls(train=train, valid=valid, test=converted.get("test"), name="hf", task=task,
                   labels=labels if reads(task) == "labels" else None, valid_is_carved=carved,
                   card={"name": "hf", "task": task, "splits": list(splits)})


def _class_names(feature: Any) -> list[str] | None:
    names = getattr(feature, "names", None)
    return list(names) if names else None


def _hf_examples(rows: Any, split: str, text_field: str, label_field: str, tokens_field: str,
                 tags_field: str) -> tuple[list[Example], list[str] | None]:
    """Examples of one Hugging Face split and the label names its ClassLabel feature declares."""
    columns = list(rows.column_names)
    features = rows.features
    if tokens_field in columns and tags_field in columns:
        names = _class_names(getattr(features[tags_field], "feature", None))
        examples = []
        for n, (tokens, tags) in enumerate(zip(rows[tokens_field], rows[tags_field], strict=True), 1):
            tags = [names[t] if names and isinstance(t, int) else str(t) for t in tags]
            example = _tag_example(list(tokens), tags, f"{split} row {n}")
            example.tags = iob1_to_iob2(example.tags)
            examples.append(example)
        return examples, None
    if text_field not in columns:
        raise DataError(f"split {split!r} has no {text_field!r} column (nor {tokens_field!r} and {tags_field!r}); "
                        f"its columns are {columns}; pass text_field=...")
    names = _class_names(features[label_field]) if label_field in columns else None
    labels = rows[label_field] if label_field in columns else [None] * len(rows)
    examples = []
    for n, (text, label) in enumerate(zip(rows[text_field], labels, strict=True), 1):
        if names and isinstance(label, int):
            label = names[label] if 0 <= label < len(names) else None  # -1 marks an unlabelled row
        examples.append(Example(text=text, label=as_label(label, f"{split} row {n}")))
    return examples, names


# --------------------------------------------------------------------------------------------- cards and loading

def _mark_clean(examples: list[Example]) -> None:
    """Reuters: Keras took the body of the next article for 975 labels; ``clean`` marks text and label agreeing."""
    for example in examples:
        example.meta["clean"] = example.meta.get("text_newid") == example.meta.get("newid")


_POSTPROCESS = {"reuters": _mark_clean}


def _read_split(card: dict, folder: Path, split: str) -> list[Example] | None:
    """Examples of one split named on the card (None when any of its files is absent)."""
    paths = [folder / name for name in card["files"].get(split, [])]
    if not paths or not all(p.is_file() for p in paths):
        return None
    if card["format"] == "parallel":   # aligned line files: [source, target]
        return read_line_pairs(*paths)
    examples = []
    for path in paths:
        if card["format"] == "tsv_pairs":
            examples += read_tsv_pairs(path, columns=card["columns"], source=card["source"], target=card["target"])
            continue
        part = read_examples(path, format=card["format"], text_field=card.get("text_field", "text"),
                             label_field=card.get("label_field", "label"), meta_fields=card.get("meta_fields", ()))
        if len(paths) > 1:
            for example in part:
                example.meta["source"] = path.name.split(".")[0]
        examples += part
    if card.get("groups") and split == "train":
        if (folder / card["groups"]["file"]).is_file():
            _join_groups(card, folder, examples)
        else:   # a download without it (none serves it): say what the validation then is
            card.pop("valid_group", None)
            print(f"{card['name']}: {folder / card['groups']['file']} is absent, so the validation is carved without "
                  f"keeping each {card['groups'].get('what', 'group')} on one side (it reads higher than the test "
                  "split)", file=sys.stderr)
    names = card.get("label_names")
    if names:
        for example in examples:
            if example.label not in names:
                raise DataError(f"{paths[0]}:{example.meta.get('line', '?')}: label {example.label!r} is not one of {sorted(names)} that "
                                f"{card['card_path']} maps to names")
            example.label = names[example.label]
    _POSTPROCESS.get(card["name"], lambda _: None)(examples)
    return examples


def _join_groups(card: dict, folder: Path, examples: list[Example]) -> None:
    """The card's ``[groups]`` table: each example's group (``valid_group``) from a TSV of its own, joined on the
    named fields (``label`` is the label as the file writes it) among its rows that match ``where``."""
    spec, field_name = card["groups"], card["valid_group"]
    path = folder / spec["file"]
    rows = _csv_examples(lines_of(path), path, "\t", spec["join"][0], None, [*spec["join"], field_name,
                                                                              *spec.get("where", {})])
    groups = {tuple(str(r.meta[k]) for k in spec["join"]): r.meta[field_name] for r in rows
              if all(str(r.meta.get(k)) == str(v) for k, v in spec.get("where", {}).items())}
    for example in examples:
        key = tuple(str(example.label if k == "label" else example.meta.get(k)) for k in spec["join"])
        if key not in groups:
            raise DataError(f"{path}: no {field_name!r} for the example at line {example.meta.get('line', '?')} "
                            f"({dict(zip(spec['join'], key, strict=True))}); the groups file does not fit the corpus")
        example.meta[field_name] = groups[key]


def _card_labels(card: dict, folder: Path) -> list[str] | None:
    if card.get("labels_file"):
        path = folder / card["labels_file"]
        try:
            labels = json.loads(read_text(path))
        except json.JSONDecodeError as error:
            raise DataError(f"{path}: not valid JSON ({error}); it should be a list of label names") from None
        if not isinstance(labels, list):
            raise DataError(f"{path}: should be a JSON list of label names")
        return [as_label(x, str(path)) for x in labels]
    return list(card["labels"]) if card.get("labels") else None


def corpus_from_card(card: dict, folder: str | Path, valid_fraction: float | None = None, seed: int = 0) -> Corpus:
    """Read the corpus that ``card`` describes from ``folder`` (see ``load_corpus``)."""
    folder = Path(folder)
    info = {**card, "folder": str(folder)}
    if card["format"] == "series":
        meta = {"path": str(folder / card["files"]["train"][0]), "time_column": card["time_column"],
                "value_column": card["value_column"]}
        return Corpus(train=[Example(meta=meta)], valid=[], name=card["name"], task=card["task"], card=info)
    train = _read_split(card, folder, "train")
    if train is None:
        raise DataError(f"{folder}: lacks {', '.join(card['files']['train'])} of corpus {card['name']!r}")
    fraction = valid_fraction if valid_fraction is not None else card.get("valid_fraction", 0.1)
    valid = _read_split(card, folder, "valid")
    carved = valid is None
    if carved and card.get("valid_split") == "tail":
        # one long text (a character LM): the last `fraction` of its characters, as nanoGPT does
        text = "".join(e.text or "" for e in train)
        cut = int(len(text) * (1 - fraction))
        train, valid = [Example(text=text[:cut])], [Example(text=text[cut:])]
    elif carved:
        train, valid = carve_valid(train, fraction, seed, group=card.get("valid_group"))
    labels = _card_labels(card, folder)
    reading = Reading(card["format"], card.get("text_field", "text"), card.get("label_field", "label"),
                      label_names=card.get("label_names"), label_order=labels if card.get("labels_file") else None,
                      valid_group=card.get("valid_group"))
    return Corpus(train=train, valid=valid, test=_read_split(card, folder, "test"), name=card["name"],
                  task=card["task"], labels=labels, valid_is_carved=carved, card=info, reading=reading)


def load_corpus(name: str, data_dir: str | Path | None = None, valid_fraction: float | None = None, seed: int = 0,
                path: str | Path | None = None) -> Corpus:
    """Load a named corpus (``textrnn list`` shows them; or a card file ``path/to/card.toml``) from wherever
    ``datasource.find_corpus`` finds it (``path`` is the corpus folder itself, skipping the search).

    Splits come from the card: a held-out test file is used only when present; without a valid file a seeded
    (stratified) slice of train becomes valid (``valid_fraction`` or the card's default; ``valid_is_carved``).
    ``energy`` returns one train example whose ``meta`` names the CSV and its columns (read it with
    ``read_series``). Raises DataError when the corpus cannot be found or read.
    """
    card = read_card(name)
    folder = find_corpus(card, path=path, data_dir=data_dir)
    return corpus_from_card(card, folder, valid_fraction=valid_fraction, seed=seed)


def load_unlabelled(name: str, data_dir: str | Path | None = None) -> list[str]:
    """The unlabelled texts of a corpus (IMDB's 50,000 ``unsup`` reviews), e.g. for word2vec.

    Raises DataError when the corpus has none or the file is absent."""
    card = read_card(name)
    if "unlabelled" not in card["files"]:
        raise DataError(f"corpus {card['name']!r} has no unlabelled texts; only "
                        f"{', '.join(c for c in _names_with_unlabelled())} have")
    folder = find_corpus(card, data_dir=data_dir)
    examples = _read_split({**card, "label_names": None}, folder, "unlabelled")
    if examples is None:
        raise DataError(f"{folder}: lacks {', '.join(card['files']['unlabelled'])}; download it into {folder}/")
    return [e.text or "" for e in examples]


def load_extra_text(spec: str, corpus: str, data_dir: str | Path | None = None, setting: str = "data.extra"
                    ) -> list[str]:
    """Unlabelled text for word2vec or an LM, named by ``data.extra``: a comma-separated list of ``unsup`` (the
    recipe's own corpus's unlabelled texts), names of other corpora, whose train and validation texts are read
    without their labels (e.g. ``"reuters,ptb"``: more news text for the CoNLL tagger's word vectors),
    ``NAME:unsup`` for another corpus's unlabelled texts (``"imdb:unsup"``: 50,000 more reviews),
    ``NAME:FILE`` for the lines of one train file of a corpus of several, named without its extension
    (``"korean:sae4k_utterances"``: one source of several, for its register or its licence), and
    ``NAME:FIELD`` for a text kept in another corpus's meta fields (``"reuters:raw_text"``: the newswires as
    written, with case and punctuation, where Reuters' text field is lower-cased).

    The recipe's own corpus cannot be named: its validation texts would leak into the vectors. ``setting`` is the
    name errors give (``data.extra`` or ``data.unlabelled``)."""
    texts: list[str] = []
    for name in (part.strip() for part in spec.split(",")):
        if not name:
            continue
        if name == "unsup":
            texts += load_unlabelled(corpus, data_dir=data_dir)
            continue
        if ":" in name:
            other, _, part = name.partition(":")
            if part == "unsup":
                texts += load_unlabelled(other, data_dir=data_dir)
                continue
            if other == corpus:
                raise ConfigError(f"{setting}: {name!r} names the recipe's own corpus; its validation texts would leak")
            files = source_files(read_card(other))
            texts += (_file_texts(other, files[part], data_dir) if part in files
                      else _meta_texts(name, other, part, data_dir, setting))
            continue
        if name == corpus:
            raise ConfigError(f"{setting} names the recipe's own corpus {corpus!r}: its validation texts would leak "
                              "into training; name other corpora, or 'unsup' for its unlabelled texts")
        other = load_corpus(name, data_dir=data_dir)
        texts += [e.text if e.text is not None else " ".join(e.tokens or ()) for e in [*other.train, *other.valid]]
    return texts


def extra_parts(spec: str) -> list[str]:
    """The parts a ``data.extra`` spec names, in order (``"reuters,imdb:unsup"`` -> ``["reuters", "imdb:unsup"]``)."""
    return [part.strip() for part in spec.split(",") if part.strip()]


def licenses(corpus: str, spec: str = "") -> dict[str, str]:
    """The licence of each file a run learns from: corpus ``corpus``'s train files and those the ``data.extra``
    ``spec`` names, as ``{"corpus/file": licence}`` (a card's ``[licenses]`` table, else its one ``license``)."""
    def files(name: str, splits: tuple[str, ...]) -> tuple[dict, list[str]]:
        card = read_card(name)
        return card, [file for split in splits for file in card["files"].get(split, [])]

    chosen = [files(corpus, ("train", "valid"))] if corpus else []
    for part in extra_parts(spec):
        name, _, field_name = part.partition(":")
        if part == "unsup":
            chosen.append(files(corpus, ("unlabelled",)))
            continue
        card, splits = files(name, ("unlabelled",) if field_name == "unsup" else ("train", "valid"))
        one = source_files(card).get(field_name)   # NAME:FILE: that file alone
        chosen.append((card, [one] if one else splits))
    found: dict[str, str] = {}
    for card, names in chosen:
        table = card.get("licenses") or {}
        for file in names:
            found[f"{card['name']}/{file}"] = table.get(file, card.get("license", "not stated on its card"))
    return found


def source_files(card: dict) -> dict[str, str]:
    """The train files of a corpus of several, by the name its lines' meta ``source`` gives them (the file's name
    without extension: ``{"sae4k_utterances": "sae4k_utterances.txt.gz", ...}``); {} for a corpus of one."""
    files = card["files"].get("train", [])
    return {file.split("/")[-1].split(".")[0]: file for file in files} if len(files) > 1 else {}


def _file_texts(other: str, file: str, data_dir: str | Path | None) -> list[str]:
    """The texts of ``file``, one train file of corpus ``other`` (``data.extra`` NAME:FILE), its validation lines
    included."""
    one = {**read_card(other), "files": {"train": [file]}, "groups": None, "label_names": None}
    examples = _read_split(one, find_corpus(one, data_dir=data_dir), "train")   # found: the file is there
    return [e.text if e.text is not None else " ".join(e.tokens or ()) for e in examples]


def _meta_texts(name: str, other: str, field_name: str, data_dir: str | Path | None,
                setting: str = "data.extra") -> list[str]:
    """The ``field_name`` meta texts of corpus ``other``'s train and validation examples (``data.extra`` NAME:FIELD)."""
    card = read_card(other)
    if field_name not in card.get("meta_fields", []):
        fields = ", ".join(["unsup"] * ("unlabelled" in card["files"]) + list(source_files(card))
                           + list(card.get("meta_fields", [])))
        raise ConfigError(f"{setting}: {name!r}: corpus {other!r} has no text field {field_name!r}; its parts are: "
                          f"{fields or 'none'} (e.g. reuters:raw_text, imdb:unsup)")
    loaded = load_corpus(other, data_dir=data_dir)
    texts = [e.meta[field_name] for e in [*loaded.train, *loaded.valid] if isinstance(e.meta.get(field_name), str)]
    if not texts:
        raise ConfigError(f"{setting}: {name!r} holds no text (the field's values are not strings); name a text "
                          "field such as reuters:raw_text")
    return texts


def _names_with_unlabelled() -> list[str]:
    from textrnn.datasource import corpus_names

    return [n for n in corpus_names() if "unlabelled" in read_card(n)["files"]]


# -------------------------------------------------------------------------------------------------------- series

class Series(NamedTuple):
    """A regular hourly series and what cleaning did to reach it."""

    hours: np.ndarray          # datetime64[h], one per hour, no gaps
    values: np.ndarray         # float64
    duplicates: int            # rows merged into another row of the same hour (their values averaged)
    missing_hours: int         # hours absent from the file, filled by linear interpolation
    interpolated_values: int   # rows whose value was empty or NaN, filled by linear interpolation


def read_series(path: str | Path, time_column: str, value_column: str, quiet: bool = True) -> Series:
    """Read a CSV of (time, value) rows into a regular hourly series.

    Sorts by time, floors times to the hour, averages rows that share an hour, and fills missing hours and empty
    or NaN values by linear interpolation (``Series`` counts each). With ``quiet=False`` the counts go to stderr.
    Raises DataError (naming file:line) for a missing column, an unparsable time or value, or an empty/NaN value
    at either end of the series, where interpolation cannot fill it.
    """
    path = Path(path)
    times, raw_values, lines = _series_rows(path, time_column, value_column)
    stamps = _parse_times(times, lines, path, time_column)
    values = np.empty(len(raw_values))
    for i, value in enumerate(raw_values):
        try:
            values[i] = float(value) if value else np.nan
        except ValueError:
            raise DataError(f"{path}:{lines[i]}: cannot read the value {value!r} in column {value_column!r} as a "
                            f"number") from None
    hours = stamps.astype("datetime64[h]")
    unique, inverse = np.unique(hours, return_inverse=True)
    present = ~np.isnan(values)
    counts = np.bincount(inverse, weights=present, minlength=len(unique))
    sums = np.bincount(inverse, weights=np.where(present, values, 0.0), minlength=len(unique))
    with np.errstate(invalid="ignore", divide="ignore"):
        means = sums / counts  # NaN where every row of that hour was empty
    full = np.arange(unique[0], unique[-1] + np.timedelta64(1, "h"), dtype="datetime64[h]")
    series = np.full(len(full), np.nan)
    series[(unique - unique[0]).astype(np.int64)] = means
    for end in (0, -1):
        if np.isnan(series[end]):
            row = int(np.flatnonzero(hours == full[end])[0])
            raise DataError(f"{path}:{lines[row]}: the {'first' if end == 0 else 'last'} hour ({full[end]}) has no "
                            f"value, and interpolation needs a value on both sides; give a value or drop the row")
    known = ~np.isnan(series)
    positions = np.arange(len(series))
    series[~known] = np.interp(positions[~known], positions[known], series[known])
    result = Series(full, series, len(hours) - len(unique), len(full) - len(unique), int(np.isnan(means).sum()))
    if not quiet:
        print(f"{path}: {len(full):,} hours; averaged {result.duplicates} duplicate rows, interpolated "
              f"{result.missing_hours} missing hours and {result.interpolated_values} empty values", file=sys.stderr)
    return result


def _readable_time(text: str) -> bool:
    try:
        return text.upper() != "NAT" and not np.isnat(np.datetime64(text, "s"))
    except ValueError:
        return False


def _parse_times(times: list[str], lines: list[int], path: Path, column: str) -> np.ndarray:
    """Times as datetime64[s]; DataError naming the first line whose time numpy cannot read."""
    try:
        stamps = np.array(times, dtype="datetime64[s]")
        if not np.isnat(stamps).any():
            return stamps
    except ValueError:
        pass
    # the fast path failed: find the first bad row to name its line
    i = next(i for i, text in enumerate(times) if not _readable_time(text))
    raise DataError(f"{path}:{lines[i]}: cannot read the time {times[i]!r} in column {column!r}; "
                    f"write times as YYYY-MM-DD HH:MM:SS")


def _series_rows(path: Path, time_column: str, value_column: str) -> tuple[list[str], list[str], list[int]]:
    """The (time, value) cells of a CSV with their line numbers; blank lines skipped."""
    reader = csv.reader(io.StringIO(read_text(path), newline=""))
    header = [name.strip() for name in next(reader)]
    for column in (time_column, value_column):
        if column not in header:
            raise DataError(f"{path}: no column {column!r}; the columns are {header}; name the time and value "
                            f"columns (--time-column, --value-column)")
    t_at, v_at = header.index(time_column), header.index(value_column)
    times, values, lines = [], [], []
    try:
        for row in reader:
            if not any(cell.strip() for cell in row):
                continue
            if len(row) <= max(t_at, v_at):
                raise DataError(f"{path}:{reader.line_num}: {len(row)} fields, the header has {len(header)}")
            times.append(row[t_at].strip())
            values.append(row[v_at].strip())
            lines.append(reader.line_num)
    except csv.Error as error:
        raise DataError(f"{path}:{reader.line_num}: not valid CSV ({error})") from None
    if len(times) < 2:
        raise DataError(f"{path}: {len(times)} data row(s); a series needs at least two")
    return times, values, lines

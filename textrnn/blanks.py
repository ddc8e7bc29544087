"""Multiple-choice blanks: a sentence with one ``___`` and the fills to choose from, the right one first.

A blanks file (``recipes/blanks/*.tsv``) holds one item a line, ``sentence<TAB>right<TAB>wrong<TAB>wrong...``;
lines starting with ``#`` and empty lines are skipped.
"""
from __future__ import annotations

import re
from pathlib import Path

from textrnn.errors import DataError

BLANK = "___"
_UNDERSCORES = re.compile(r"_{3,}")   # "____" is a typo for the blank, not a blank and an underscore


def read_choices(path: str | Path) -> list[tuple[str, list[str]]]:
    """The items of the blanks file ``path`` as ``(sentence, [right fill, wrong fill, ...])``, in file order.

    Raises DataError naming ``file:line`` for a line whose sentence lacks exactly one ``___``, with fewer than two
    candidates, with a candidate given twice or with an empty field; and naming the file when it cannot be read or
    holds no item.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise DataError(f"{path}: cannot read the blanks file ({error})") from None
    items = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        items.append(_parse(line, f"{path}:{number}"))
    if not items:
        raise DataError(f"{path}: no items; write one a line as sentence<TAB>right<TAB>wrong<TAB>wrong")
    return items


def _parse(line: str, where: str) -> tuple[str, list[str]]:
    """One line as (sentence, candidates), or DataError naming ``where``."""
    fields = [field.strip() for field in line.split("\t")]
    if "" in fields:
        raise DataError(f"{where}: field {fields.index('') + 1} is empty; write sentence<TAB>right<TAB>wrong... "
                        f"with one tab between fields")
    sentence, candidates = fields[0], fields[1:]
    blanks = _UNDERSCORES.findall(sentence)
    if blanks != [BLANK]:
        found = repr(blanks[0]) if len(blanks) == 1 else f"{len(blanks)} blanks"
        raise DataError(f"{where}: the sentence needs exactly one blank written {BLANK} (found {found}): {sentence!r}")
    if len(candidates) < 2:
        raise DataError(f"{where}: {len(candidates)} candidate(s); give the right fill and at least one wrong one, "
                        f"separated by tabs")
    seen = set()
    for candidate in candidates:
        if candidate in seen:
            raise DataError(f"{where}: candidate {candidate!r} is given twice")
        seen.add(candidate)
    return sentence, candidates

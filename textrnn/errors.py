"""The one exception type users see: a message that names the file, line or key and the fix."""
from __future__ import annotations


class TextrnnError(Exception):
    """An error caused by input (files, flags, configs) rather than by a bug.

    The CLI prints ``str(error)`` as one line and exits with ``exit_code``; ``--debug`` shows the traceback.
    """

    exit_code = 2


class DataError(TextrnnError):
    """A corpus file that cannot be read as asked (names the file and line)."""


class ConfigError(TextrnnError):
    """A config key or value that is unknown or of the wrong type (names the key)."""


class PipelineError(TextrnnError):
    """A saved pipeline that is missing, corrupted, of another version or of another task."""


class TrainingError(TextrnnError):
    """Training that cannot go on (a non-finite loss, memory exhausted); the last good checkpoint stays."""


class ExportError(TextrnnError):
    """A run that cannot be exported as asked, or a graph that did not pass its check (the reason in the message)."""


class SaveError(TextrnnError, OSError):
    """A file that could not be written (disk full, a file-size limit, no permission); the previous one stays.

    Also an OSError, so code that catches failed writes as OSError keeps working.
    """


def closest_name(name: str, known: list[str]) -> str | None:
    """The known name closest to a mistyped one (for "did you mean ...?" hints), or None."""
    import difflib

    close = difflib.get_close_matches(name, known, n=1)
    return close[0] if close else None

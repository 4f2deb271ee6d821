"""Errors a user can act on: each names the file, line or field at fault."""

from __future__ import annotations


class SemidError(Exception):
    """Base class of every error semid raises on purpose."""


class DataError(SemidError, ValueError):
    """Bad input data. The message names the file and line (or field) at fault."""

    def __init__(self, message: str, *, source: str | None = None, line: int | None = None, unit: str = "line") -> None:
        where = ""
        if source is not None:
            where = f"{source}"
            if line is not None:
                where += f" {unit} {line}"
            where += ": "
        super().__init__(where + message)
        self.source = source
        self.line = line


class MissingResourceError(SemidError, FileNotFoundError):
    """A model, dataset or file that must be present locally is not (no downloads at run time)."""


class SemidWarning(UserWarning):
    """Legal input that is almost surely a mistake (the CLI prints it as a warning and goes on)."""

"""Errors a person can act on. The CLI prints them as one line and exits non-zero;
the GUI shows them in a dialog."""

from __future__ import annotations


class AnnotatorError(ValueError):
    """Base class of every error that is the input's or the user's to fix."""


class FormatError(AnnotatorError):
    """Bad input data; the message names the file and line (or record) and what is wrong."""

    def __init__(self, message: str, *, file: str | None = None,
                 line: int | None = None, record: str | None = None):
        self.file, self.line, self.record, self.detail = file, line, record, message
        where = file or ""
        if line is not None:
            where = f"{where}:{line}"
        if record is not None:
            where = f"{where} ({record})" if where else record
        super().__init__(f"{where}: {message}" if where else message)


class ModelNotFoundError(AnnotatorError):
    """A model id or path that is neither a local folder nor reachable on the hub."""


class CancelledError(Exception):
    """Raised inside a job when the user cancelled it; finished work stays stored."""

"""Errors a person can act on. The CLI prints them as one line and exits non-zero;
the GUI shows them in a dialog."""

from __future__ import annotations

from collections.abc import Sequence


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


class StoreError(AnnotatorError):
    """A request the store refuses (unknown document, span outside its text, ...)."""


class SpanGoneError(StoreError):
    """An edit of spans that are no longer there as the editor saw them: another process
    (typically a newer pre-label run replacing its proposals) deleted or changed them before
    this edit could be written. Nothing was written or recorded."""

    def __init__(self, message: str, *, doc_id: int | None = None,
                 span_ids: Sequence[int] = ()):
        super().__init__(message)
        self.doc_id, self.span_ids = doc_id, tuple(span_ids)


class DatabaseError(AnnotatorError):
    """The database cannot be opened: a missing folder or file, a driver that is not
    installed, a server that refuses the connection, bad credentials, a missing database."""


class CancelledError(Exception):
    """Raised inside a job when the user cancelled it; finished work stays stored."""

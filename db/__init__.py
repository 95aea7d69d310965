"""Persistence: the only package that knows SQLAlchemy. See ``db.store.Store``."""

from .engine import DatabaseError
from .store import ImportResult, SpanGoneError, Store, StoreError, open_store

__all__ = ["Store", "StoreError", "SpanGoneError", "DatabaseError", "ImportResult", "open_store"]

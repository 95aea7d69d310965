"""Persistence: the only package that knows SQLAlchemy. See ``db.store.Store``."""

from .store import ImportResult, Store, StoreError, open_store

__all__ = ["Store", "StoreError", "ImportResult", "open_store"]

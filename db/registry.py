"""Model registry: which model was trained on what, how well it did, and which one is the
project's default pre-labelling model.

Rows live in the ``models`` table, one project each. At most one row per project has
``is_default``; the default model's path is mirrored in the project setting
``default_model`` so that code that only reads settings (pre-labelling, the GUI) finds it.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from sqlalchemy import insert, select, update

from annotator.model import ModelInfo

from .store import Store, StoreError
from .tables import ModelRow

M = ModelRow.__table__
DEFAULT_MODEL_SETTING = "default_model"
DEFAULT_BACKEND_SETTING = "default_backend"


# the registered model's record is the core's (annotator.model.ModelInfo)


def _row_to_info(r: Any) -> ModelInfo:
    m = r._mapping
    return ModelInfo(
        id=m["id"], path=m["path"], backend=m["backend"], base_model=m["base_model"],
        data_hash=m["data_hash"], data_size=m["data_size"], params=m["params"] or {},
        metrics=m["metrics"] or {}, is_default=bool(m["is_default"]),
        created_at=m["created_at"],
    )


def register_model(store: Store, info: ModelInfo, *, make_default: bool = False) -> ModelInfo:
    """Insert ``info`` into the registry (``info.id`` and ``created_at`` are filled in)."""
    now = datetime.now(timezone.utc)
    with store.transaction() as c:
        info.id = int(c.execute(insert(M).values(
            project_id=store.project_id, path=info.path, backend=info.backend,
            base_model=info.base_model, data_hash=info.data_hash, data_size=info.data_size,
            params=info.params, metrics=info.metrics, is_default=False, created_at=now,
        )).inserted_primary_key[0])
    info.created_at = now
    info.is_default = False
    if make_default:
        set_default(store, info.id)
        info.is_default = True
    return info


def list_models(store: Store) -> list[ModelInfo]:
    """Registered models of the project, oldest first."""
    with store.engine.connect() as c:
        rows = c.execute(select(M).where(M.c.project_id == store.project_id).order_by(M.c.id))
        return [_row_to_info(r) for r in rows]


def get_model(store: Store, model_id: int) -> ModelInfo:
    with store.engine.connect() as c:
        r = c.execute(select(M).where(M.c.id == model_id,
                                      M.c.project_id == store.project_id)).first()
    if r is None:
        raise StoreError(f"no model {model_id} in project {store.project!r}; "
                         "see `annotator models list`")
    return _row_to_info(r)


def set_default(store: Store, model_id: int) -> ModelInfo:
    """Make model ``model_id`` the project's default pre-labelling model (and mirror its
    path in the ``default_model`` setting)."""
    info = get_model(store, model_id)
    with store.transaction() as c:
        c.execute(update(M).where(M.c.project_id == store.project_id).values(is_default=False))
        c.execute(update(M).where(M.c.id == model_id).values(is_default=True))
    store.set_setting(DEFAULT_MODEL_SETTING, info.path)
    store.set_setting(DEFAULT_BACKEND_SETTING, info.backend)
    info.is_default = True
    return info


def get_default(store: Store) -> ModelInfo | None:
    """The registered default model, or None (the ``default_model`` setting may still name
    an unregistered model path set by other means)."""
    with store.engine.connect() as c:
        r = c.execute(select(M).where(M.c.project_id == store.project_id,
                                      M.c.is_default.is_(True))).first()
    return _row_to_info(r) if r is not None else None


def update_metrics(store: Store, model_id: int, metrics: dict[str, Any]) -> None:
    with store.transaction() as c:
        c.execute(update(M).where(M.c.id == model_id,
                                  M.c.project_id == store.project_id).values(metrics=metrics))


__all__ = [
    "DEFAULT_MODEL_SETTING",
    "ModelInfo",
    "get_default",
    "get_model",
    "list_models",
    "register_model",
    "set_default",
    "update_metrics",
]

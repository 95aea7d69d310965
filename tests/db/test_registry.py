"""Model registry over the ``models`` table."""

from __future__ import annotations

import pytest

from db import Store
from db.registry import (
    DEFAULT_MODEL_SETTING,
    ModelInfo,
    get_default,
    get_model,
    list_models,
    register_model,
    set_default,
)
from db.store import StoreError


@pytest.fixture
def store(tmp_path):
    s = Store(str(tmp_path / "p.sqlite"), "proj")
    yield s
    s.close()


def test_register_list_and_default(store, tmp_path):
    a = register_model(store, ModelInfo(path="/m/a", base_model="base", data_hash="h" * 64,
                                        data_size=3, params={"epochs": 1},
                                        metrics={"new": {"micro": {"f1": .5}}}))
    assert a.id is not None and not a.is_default
    assert get_default(store) is None
    b = register_model(store, ModelInfo(path="/m/b", base_model="/m/a"), make_default=True)
    assert get_default(store).id == b.id
    assert store.get_setting(DEFAULT_MODEL_SETTING) == "/m/b"
    set_default(store, a.id)
    assert [m.is_default for m in list_models(store)] == [True, False]
    assert store.get_setting(DEFAULT_MODEL_SETTING) == "/m/a"
    got = get_model(store, a.id)
    assert got.params == {"epochs": 1} and got.metrics["new"]["micro"]["f1"] == .5
    assert got.created_at is not None


def test_registry_is_per_project(store, tmp_path):
    register_model(store, ModelInfo(path="/m/a", base_model="base"))
    other = Store(store.url, "other")
    try:
        assert list_models(other) == []
        with pytest.raises(StoreError):
            set_default(other, list_models(store)[0].id)
    finally:
        other.close()


def test_default_model_is_used_by_prelabel_for_its_own_backend(store, tmp_path):
    from annotator.errors import ModelNotFoundError
    from annotator.prelabel.job import build_prelabeler
    from annotator.schemas import load_schema

    store.set_schema(load_schema("posology"))
    missing = str(tmp_path / "gone-model")
    register_model(store, ModelInfo(path=missing, base_model="b", backend="transformers"),
                   make_default=True)
    # the default is a transformers model: pre-labelling with that backend loads it ...
    with pytest.raises(ModelNotFoundError, match="gone-model"):
        build_prelabeler(store, backend="transformers")
    # ... and the gliner2 backend does not try to load it as a GLiNER2 model
    with pytest.raises(ModelNotFoundError) as err:
        build_prelabeler(store, backend="gliner2").load()
    assert "gone-model" not in str(err.value)

"""The pre-labeling backends: one registry entry per backend, the tool's own and plugins'.

An entry owns its name (which is also its span source), its title, what it needs
(a model, a schema), its options and how to build its :class:`Prelabeler`; the CLI's
``--backend`` choices, the GUI's pre-label dialog, the span sources the store and the
compare/statistics views accept all come from here (``backends()``,
``annotator.model.sources()``). Adding a backend is one :func:`register_backend` call, or,
from another distribution, one entry point (see :mod:`annotator.plugins`).

Built-ins: ``gliner2`` (a GLiNER2 extractor, labels prompted with their descriptions),
``transformers`` (a token classifier, labels mapped onto the schema), ``lexicon`` (every
whole-word occurrence of the strings people accepted).
"""

from __future__ import annotations

from typing import Any

from annotator.errors import AnnotatorError
from annotator.model import register_source
from annotator.ports import StorePort
from annotator.schemas import load_label_map

from .base import DEFAULT_GLINER2_MODEL, Backend, Option, Prelabeler

__all__ = ["Backend", "Option", "backends", "get_backend", "load_plugins", "register_backend"]


_BACKENDS: dict[str, Backend] = {}


def register_backend(backend: Backend) -> Backend:
    """Add ``backend`` (its name becomes a span source of kind ``model``)."""
    if backend.name in _BACKENDS and _BACKENDS[backend.name] is not backend:
        raise AnnotatorError(f"pre-labeling backend {backend.name!r} is registered twice"
                             + (f" (by {backend.plugin})" if backend.plugin else ""))
    register_source(backend.name, backend.title, "model")
    _BACKENDS[backend.name] = backend
    return backend


def backends() -> tuple[str, ...]:
    """Names of the registered backends, the built-in ones first, then the plugins'."""
    load_plugins()
    return tuple(_BACKENDS)


def get_backend(name: str) -> Backend:
    load_plugins()
    try:
        return _BACKENDS[name]
    except KeyError:
        raise AnnotatorError(f"unknown backend {name!r}; expected one of "
                             f"{', '.join(_BACKENDS)}") from None


# ---------------------------------------------------------------------------- plugins
_plugins_loaded = False


def load_plugins() -> None:
    """Register every ``medannotator.prelabelers`` entry point of the installed
    distributions (once per process). Only their names are read here; a plugin's module is
    imported when its backend is built, and an import error then names the plugin."""
    global _plugins_loaded
    if _plugins_loaded:
        return
    _plugins_loaded = True
    from .plugin import GROUP, plugin_backends

    for backend in plugin_backends():
        if backend.name in _BACKENDS:
            raise AnnotatorError(f"the {GROUP} entry point {backend.name!r} of {backend.plugin} "
                                 "has the name of a backend that exists already")
        register_backend(backend)


# ---------------------------------------------------------------------------- built-ins
def _build_gliner2(store: StorePort, *, model: str | None, threshold: float | None, batch_size: int,
                   window: str, device: str, descriptions: bool | None = None,
                   **kw: Any) -> Prelabeler:
    from annotator.calibrate import read_settings

    from .gliner2_backend import GLiNER2Prelabeler

    schema = store.get_schema()
    if schema is None or not schema.labels:
        raise AnnotatorError("the project has no label schema: set one before pre-labeling "
                             "(its labels and descriptions are the GLiNER2 prompt)")
    model = model or DEFAULT_GLINER2_MODEL
    recorded = read_settings(model) or {}
    if threshold is None:
        threshold = recorded.get("threshold", 0.5)
    if descriptions is None:
        descriptions = recorded.get("descriptions", True)
    labels: Any = schema.descriptions() if descriptions else list(schema.keys)
    kw = {k: v for k, v in kw.items() if not (k == "quantize" and not v)}
    return GLiNER2Prelabeler(model, labels, threshold=threshold, batch_size=batch_size,
                             window=window, device=device, **kw)


def _build_transformers(store: StorePort, *, model: str | None, threshold: float | None,
                        batch_size: int, window: str, device: str,
                        label_map: str | None = None, **kw: Any) -> Prelabeler:
    from .transformers_backend import TransformersPrelabeler

    if not model:
        raise AnnotatorError("the transformers backend needs --model (a hub id or a folder)")
    schema = store.get_schema()
    return TransformersPrelabeler(
        model, label_map=load_label_map(label_map) if label_map else None,
        schema_keys=schema.keys if schema is not None else None,
        threshold=0.5 if threshold is None else threshold, batch_size=batch_size,
        window=window, device=device, **kw)


def _build_lexicon(store: StorePort, *, case_insensitive: bool = False, **_ignored: Any
                   ) -> Prelabeler:
    from .lexicon import LexiconPrelabeler

    return LexiconPrelabeler.from_store(store, case_insensitive=case_insensitive)


register_backend(Backend(
    "gliner2", "GLiNER2", _build_gliner2, default_model=DEFAULT_GLINER2_MODEL,
    help="a GLiNER2 extractor prompted with the schema's labels (and their descriptions)",
    trainer="gliner2",
    options=(
        Option("descriptions", bool, None, "prompt with the label descriptions (default: what "
               "`train` recorded with the model, else with descriptions)",
               title="Label descriptions"),
        Option("quantize", str, None, "CPU only: a faster, approximate encoder",
               choices=("int8", "bf16"), title="Quantize"),
    )))
register_backend(Backend(
    "transformers", "Transformers", _build_transformers, needs_model=True,
    help="a Hugging Face token classifier whose labels are mapped onto the schema",
    trainer="transformers",
    options=(Option("label_map", str, None, "map model labels onto the schema (a shipped "
                    "name or a JSON file)", title="Label map"),)))
register_backend(Backend(
    "lexicon", "Lexicon", _build_lexicon, uses_model=False,
    help="every whole-word occurrence of the strings people accepted in this project",
    options=(Option("case_insensitive", bool, False, "match accepted strings ignoring case",
                    title="Ignore case"),)))

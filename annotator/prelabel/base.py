"""The pre-labeler interface shared by the GLiNER2, transformers and lexicon backends.

A pre-labeler turns document texts into ``proposed`` spans in *document* character offsets
(half-open, Python code points). Every span it returns satisfies
``text[span.start:span.end] == surface`` (checked by :mod:`annotator.prelabel.align`), carries
``source``, ``source_version`` and ``score``, and nothing misaligned is ever returned.
"""

from __future__ import annotations

import hashlib
import json
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from annotator.model import Span
from annotator.options import Option

DEFAULT_GLINER2_MODEL = "doctolib-lab/finemed-entity-extractor-fr"

# files that define a model's behaviour; README, stamps and hidden files are not hashed
_MODEL_FILE_SUFFIXES = (".json", ".safetensors", ".bin", ".model", ".txt", ".pt", ".pth",
                        ".msgpack", ".h5", ".onnx")


@dataclass
class DocPrediction:
    """What a pre-labeler found in one document, with its bookkeeping.

    ``windows``: model passes the document needed; ``tokens``: its length in the model's own
    tokens; ``truncated``: part of the text was not seen (only ``window="middle"`` does that);
    ``covered``: ``(start, end)`` character range the model saw; ``dropped``/``repaired``:
    spans whose offsets did not match their surface and were dropped or fixed.
    """

    spans: list[Span] = field(default_factory=list)
    windows: int = 1
    tokens: int = 0
    truncated: bool = False
    covered: tuple[int, int] | None = None
    dropped: int = 0
    repaired: int = 0
    unmapped: int = 0

    def stats(self) -> dict[str, Any]:
        return {
            "windows": self.windows,
            "tokens": self.tokens,
            "truncated": self.truncated,
            "covered": list(self.covered) if self.covered else None,
            "spans": len(self.spans),
            "dropped_misaligned": self.dropped,
            "repaired": self.repaired,
            "unmapped": self.unmapped,
        }


class Prelabeler(ABC):
    """A source of proposed spans.

    Subclasses set ``source`` (a :class:`annotator.model.Source` value) and
    ``source_version`` (what produced the spans: model id or path plus a content hash of its
    files, threshold and window mode), and implement :meth:`predict_docs`.
    """

    source: str = ""
    source_version: str = ""

    @abstractmethod
    def predict_docs(self, texts: Sequence[str]) -> list[DocPrediction]:
        """One :class:`DocPrediction` per text, spans in document offsets."""

    def predict(self, texts: Sequence[str]) -> list[list[Span]]:
        """Spans per text, in document character offsets, status ``proposed``."""
        return [d.spans for d in self.predict_docs(texts)]

    def config(self) -> dict[str, Any]:
        """Everything that changes the output; hashed into the job's run key."""
        return {"source": self.source, "source_version": self.source_version}

    def run_key(self) -> str:
        """Stable id of this configuration: ``<source>:<sha256 of config()>[:24]``."""
        blob = json.dumps(self.config(), sort_keys=True, ensure_ascii=False, default=str)
        return f"{self.source}:{hashlib.sha256(blob.encode('utf-8')).hexdigest()[:24]}"


def hash_model_files(directory: str | Path) -> str:
    """SHA-256 over the names and contents of the files defining a model folder.

    Symlinks are followed (the Hugging Face cache stores blobs behind links). Hidden files
    (build stamps) and documentation are left out so that the hash names the weights,
    configuration and tokenizer only.
    """
    root = Path(directory)
    digest = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        rel = path.relative_to(root)
        if any(part.startswith(".") for part in rel.parts):
            continue
        if path.suffix.lower() not in _MODEL_FILE_SUFFIXES or path.name.lower() == "readme.txt":
            continue
        digest.update(str(rel.as_posix()).encode("utf-8") + b"\0")
        with path.open("rb") as fh:
            digest.update(hashlib.file_digest(fh, "sha256").digest())
    return digest.hexdigest()


def local_model_dir(model: str) -> Path | None:
    """The local folder holding ``model``: the path itself, or its Hugging Face cache snapshot."""
    p = Path(model).expanduser()
    if p.is_dir():
        return p
    try:
        from huggingface_hub import snapshot_download
        from huggingface_hub.errors import HFValidationError

        return Path(snapshot_download(model, local_files_only=True))
    except (OSError, ValueError, HFValidationError):  # not cached / not a repo id: no hash
        return None


def model_version(model: str) -> str:
    """``<model id or path>@<first 12 hex digits of hash_model_files>`` (``@unhashed`` if the
    files cannot be found locally)."""
    d = local_model_dir(model)
    ref = str(Path(model).expanduser().resolve()) if Path(model).expanduser().is_dir() else model
    return f"{ref}@{hash_model_files(d)[:12]}" if d is not None else f"{ref}@unhashed"


def looks_like_path(model: str) -> bool:
    """True for things a user meant as a folder (absolute, relative, home) rather than a hub id."""
    return (model.startswith(("/", ".", "~")) or "\\" in model or model.count("/") > 1
            or Path(model).expanduser().exists())


# ---------------------------------------------------------------------------- registry entries
@dataclass(frozen=True)
class Backend:
    """``build(store, model=..., threshold=..., batch_size=..., window=..., device=...,
    **options) -> Prelabeler``. ``needs_model``: no default model exists (``--model`` is
    required); ``uses_model``: the backend takes a model at all; ``trainer``: the ``train``
    backend that retrains its models, if any; ``plugin``: the distribution it comes from."""

    name: str
    title: str
    build: Callable[..., Prelabeler]
    help: str = ""
    uses_model: bool = True
    needs_model: bool = False
    default_model: str | None = None
    options: tuple[Option, ...] = field(default_factory=tuple)
    trainer: str | None = None
    plugin: str | None = None

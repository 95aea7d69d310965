"""Retrain the extractor from the project's own reviewed data and keep a model registry.

``train_job`` selects gold documents, splits them deterministically (``annotator.split``),
exports the training part as GLiNER2 records (``annotator.formats.gliner2.to_record``;
per-class descriptions OFF by default: the FineMed extractor trained best without them and
is used with them at inference), trains with gliner2's trainer, saves a folder that
``GLiNER2.from_pretrained(out)`` loads, evaluates base and new model on the held-out split
and registers the new model. Chunks that would overflow the encoder are cut again
(``annotator.train_prompt``). With ``backend="transformers"`` a token classifier is
fine-tuned on the BIO export instead (``annotator.train_transformers``). It refuses to make
the new model the project default when any label's F1 drops by more than ``max_regression``
(absolute) unless ``force``.

Gold documents (``gold_documents``): by default the ``reviewed`` documents with their
``accepted`` spans (a reviewed document without spans is a negative example), so nothing a
machine proposed and nobody decided reaches training; ``status`` and ``review_status`` widen
it explicitly.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
import time
from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from .errors import AnnotatorError
from .evaluate import Report, evaluate, regressions, tokenize
from .jobs import Job, Progress
from .model import Document, LabelSchema
from .split import assign_splits, parse_split

DEFAULT_SPLIT = "train=0.8,dev=0.1,test=0.1"
BACKENDS = ("gliner2", "transformers")
TRAINING_INFO = "annotator_training.json"


@dataclass
class TrainResult:
    """What ``train_job`` did. ``base``/``new`` are ``Report.to_dict()`` on ``eval_split``."""

    out: str
    model_id: int | None = None
    steps: int = 0
    seconds: float = 0.0
    seconds_per_step: float = 0.0
    n_train: int = 0
    n_eval: int = 0
    eval_split: str = ""
    data_hash: str = ""
    base: dict | None = None
    new: dict | None = None
    regressed: dict[str, list[float]] = field(default_factory=dict)
    made_default: bool = False
    note: str = ""
    # gliner2: the prompt style / threshold sweep on the held-out split (annotator.calibrate)
    calibration: dict[str, Any] | None = None
    warnings: list[str] = field(default_factory=list)
    base_report: Report | None = field(default=None, repr=False)
    new_report: Report | None = field(default=None, repr=False)

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d.pop("base_report")
        d.pop("new_report")
        return d


def gold_documents(store: Any, status: str | Sequence[str] | None = "accepted",
                   review_status: str | Sequence[str] | None = "reviewed") -> list[Document]:
    """Gold documents with ``spans`` = their spans of ``status`` (never ``rejected``).

    Default: the ``reviewed`` documents, each with its ``accepted`` spans; a reviewed document
    without one is a negative example. Widened (``review_status`` other statuses, or
    ``"all"``), a document of those statuses counts when it holds at least one such span.
    Arguments are comma-separated strings or lists, as ``export --status/--review-status``.
    """
    from .io import status_filters

    span_status, reviews = status_filters(status, None, review_status)
    docs = []
    for doc in store.iter_documents(review_status=reviews, span_status=span_status):
        doc.spans = [s for s in doc.spans if s.status != "rejected"]
        if doc.spans or doc.review_status == "reviewed":
            docs.append(doc)
    return docs


def split_documents(docs: Sequence[Document], split: str, seed: int) -> dict[str, list[Document]]:
    """``{split name: documents}``, deterministic for ``seed`` (see ``annotator.split``)."""
    ratios = parse_split(split)
    out: dict[str, list[Document]] = {name: [] for name in ratios}
    for doc, name in zip(docs, assign_splits([d.hash for d in docs], ratios, seed)):
        out[name].append(doc)
    return out


def chunk_document(doc: Document, max_words: int) -> list[Document]:
    """Cut a long document into pieces of at most ~``max_words`` word tokens for training
    (gliner2 does not truncate subwords, so a long text would overflow the encoder).

    Cuts fall between tokens, never inside a span, preferably after a line break or a
    sentence end; span offsets are shifted into each piece and every span is kept. Where
    spans leave no cut within the budget, the piece grows until one is possible.
    """
    toks = tokenize(doc.text)
    if len(toks) <= max_words:
        return [doc]
    starts = [ts for ts, _ in toks]
    inside = [False] * len(toks)  # a cut before token i would fall inside a span's hull
    for sp in doc.spans:
        for i in range(bisect_right(starts, sp.start), bisect_left(starts, sp.end)):
            inside[i] = True
    pieces, first = [], 0
    while first < len(toks):
        last = min(first + max_words, len(toks))
        cut = last
        if last < len(toks):
            ok = [i for i in range(first + 1, last + 1) if not inside[i]]
            good = [i for i in ok if doc.text[toks[i - 1][0]:toks[i][0]].count("\n")
                    or doc.text[toks[i - 1][0]:toks[i - 1][1]] in ".;!?"]
            if good or ok:
                cut = (good or ok)[-1]
            else:  # a span longer than the budget: the piece grows until it ends
                cut = next((i for i in range(last + 1, len(toks)) if not inside[i]), len(toks))
        start = toks[first][0] if pieces else 0
        end = toks[cut][0] if cut < len(toks) else len(doc.text)
        spans = [replace(sp, start=sp.start - start, end=sp.end - start, id=None,
                         fragments=tuple((a - start, b - start) for a, b in sp.fragments)
                         if sp.fragments else None)
                 for sp in doc.spans if start <= sp.start and sp.end <= end]
        pieces.append(Document(text=doc.text[start:end], name=f"{doc.name}#{len(pieces)}",
                               spans=spans, id=doc.id))
        first = cut
    return pieces


def to_records(docs: Sequence[Document], schema: LabelSchema, *, descriptions: bool = False,
               max_words: int = 128) -> list[dict]:
    """GLiNER2 training records (exact-offset mentions, every schema label listed) via
    ``annotator.formats.gliner2``, long documents cut with ``chunk_document``."""
    from .formats.gliner2 import to_record

    return [to_record(piece, schema, descriptions=descriptions)
            for d in docs for piece in chunk_document(d, max_words)]


def data_hash(records: Sequence[dict]) -> str:
    """SHA-256 over the canonical JSON of the training records, in order."""
    h = hashlib.sha256()
    for r in records:
        h.update(json.dumps(r, sort_keys=True, ensure_ascii=False).encode("utf-8") + b"\n")
    return h.hexdigest()


def _gold_map(docs: Sequence[Document]) -> dict[int, list]:
    return {d.id: list(d.spans) for d in docs}


def predict(model: Any, model_ref: str, texts: Sequence[str], schema: LabelSchema,
            threshold: float = 0.5, descriptions: bool = True) -> list[list]:
    """Spans per text from an in-memory GLiNER2 model through the real pre-labelling path
    (windows over long texts, labels with their descriptions unless ``descriptions`` is
    False, offsets checked)."""
    from .prelabel.gliner2_backend import GLiNER2Prelabeler

    labels: Any = schema.descriptions() if descriptions else list(schema.keys)
    labeler = GLiNER2Prelabeler(model_ref, labels, threshold=threshold, extractor=model)
    return labeler.predict(list(texts))


def _eval_model(model: Any, model_ref: str, docs: Sequence[Document], schema: LabelSchema,
                threshold: float, descriptions: bool = True) -> Report:
    """Predict in memory (nothing is stored) and score against the gold spans (strict)."""
    model.eval()
    preds = predict(model, model_ref, [d.text for d in docs], schema, threshold, descriptions)
    return evaluate(_gold_map(docs), {d.id: p for d, p in zip(docs, preds)},
                    labels=schema.keys)


def decide_default(base: Report | None, new: Report | None, *, max_regression: float,
                   force: bool) -> tuple[bool, dict[str, tuple[float, float]], str]:
    """``(make it default?, regressed labels, note)``. Labels whose F1 drops by more than
    ``max_regression`` block the default unless ``force``; without an evaluation nothing
    blocks it."""
    if base is None or new is None:
        return True, {}, "no held-out documents: not evaluated"
    bad = regressions(base, new, max_regression)
    if not bad:
        return True, {}, ""
    lines = ", ".join(f"{lab} {b:.3f}->{a:.3f}" for lab, (b, a) in sorted(bad.items()))
    if force:
        return True, bad, f"labels regressed ({lines}); made default anyway (--force)"
    return False, bad, (f"labels regressed by more than {max_regression}: {lines}; not made "
                        "the default (use --force, or `annotator models set-default ID`)")


def train_job(
    store: Any, *, base_model: str, out: str, epochs: int = 3, lr: float = 5e-5,
    task_lr: float = 5e-4, batch_size: int = 8, lora: bool = False, status: str = "accepted",
    review_status: str = "reviewed",
    split: str = DEFAULT_SPLIT, seed: int = 42, descriptions: bool = False,
    backend: str = "gliner2", max_regression: float = 0.05, make_default: bool = True,
    force: bool = False, eval_split: str = "test", max_steps: int = -1,
    max_len: int | None = None, threshold: float = 0.5, chunk_words: int = 128,
    device: str = "auto",
) -> Job:
    """Train, evaluate, save and register a model (see module doc). Returns ``TrainResult``.

    Progress: one ``Progress`` per optimizer step (``stats["loss"]``), plus evaluation
    phases. Closing the job stops training at the next step and saves nothing.
    """
    if backend not in BACKENDS:
        raise AnnotatorError(f"unknown backend {backend!r}; expected one of {BACKENDS}")
    from .prelabel.loading import resolve_device

    device = resolve_device(device)  # an unavailable device fails before any work
    if backend == "transformers" and lora:
        raise AnnotatorError("--lora is only implemented for the gliner2 backend")
    schema = store.get_schema()
    if schema is None:
        raise AnnotatorError(f"project {store.project!r} has no label schema: import data first")
    docs = gold_documents(store, status, review_status)
    parts = split_documents(docs, split, seed)
    train_docs = parts.get("train", [])
    if not train_docs:
        raise AnnotatorError(f"no training documents: {len(docs)} gold documents (documents "
                             f"{review_status!r} with spans {status!r}) and split {split!r}; "
                             "mark reviewed documents (`annotator review mark reviewed ...`) "
                             "or widen with --review-status")
    held = parts.get(eval_split, [])
    result = TrainResult(out=str(Path(out).expanduser().resolve()), n_train=len(train_docs),
                         n_eval=len(held), eval_split=eval_split)
    if backend == "transformers":
        from .train_transformers import bio_records, train_token_classifier

        records, export = bio_records(train_docs, max_words=chunk_words)
        result.data_hash = data_hash(records)
        extra = yield from train_token_classifier(
            result, base_model=base_model, records=records, held=held, schema=schema,
            epochs=epochs, lr=lr, task_lr=task_lr, batch_size=batch_size, seed=seed,
            max_steps=max_steps, threshold=threshold, device=device)
        extra = {**extra, "bio_export": export}
    else:
        records, extra = yield from _train_gliner2(
            result, base_model=base_model, train_docs=train_docs, held=held, schema=schema,
            epochs=epochs, lr=lr, task_lr=task_lr, batch_size=batch_size, seed=seed,
            lora=lora, descriptions=descriptions, max_steps=max_steps, max_len=max_len,
            threshold=threshold, chunk_words=chunk_words, device=device)
    out_dir = Path(result.out)
    result.base = result.base_report.to_dict() if result.base_report else None
    result.new = result.new_report.to_dict() if result.new_report else None
    ok, bad, result.note = decide_default(result.base_report, result.new_report,
                                          max_regression=max_regression, force=force)
    result.regressed = {k: list(v) for k, v in bad.items()}
    params = {"epochs": epochs, "lr": lr, "task_lr": task_lr, "batch_size": batch_size,
              "lora": lora, "status": status, "review_status": review_status, "split": split,
              "seed": seed,
              "descriptions": descriptions, "max_steps": max_steps, "max_len": max_len,
              "eval_split": eval_split, "threshold": threshold, "steps": result.steps,
              "chunk_words": chunk_words, "n_train_docs": len(train_docs),
              "seconds": round(result.seconds, 3), "schema": schema.name,
              "schema_version": schema.version, "backend": backend, "device": device,
              **extra}
    metrics = {"base": result.base, "new": result.new, "eval_split": eval_split,
               "n_eval": len(held), "regressed": result.regressed}
    (out_dir / TRAINING_INFO).write_text(json.dumps(
        {"base_model": base_model, "data_hash": result.data_hash, "data_size": len(records),
         "params": params, "metrics": metrics}, indent=2, ensure_ascii=False), "utf-8")

    from db.registry import ModelInfo, register_model

    info = register_model(store, ModelInfo(
        path=result.out, base_model=base_model, backend=backend, data_hash=result.data_hash,
        data_size=len(records), params=params, metrics=metrics),
        make_default=make_default and ok)
    result.model_id, result.made_default = info.id, info.is_default
    yield Progress(result.steps, result.steps, "done")
    return result


def _train_gliner2(result: TrainResult, *, base_model: str, train_docs: list[Document],
                   held: list[Document], schema: LabelSchema, epochs: int, lr: float,
                   task_lr: float, batch_size: int, seed: int, lora: bool, descriptions: bool,
                   max_steps: int, max_len: int | None, threshold: float,
                   chunk_words: int, device: str = "cpu") -> Job:
    """The GLiNER2 branch of ``train_job``: load, check the prompt fits
    (``train_prompt.fit_records``), evaluate the base, train, save to ``result.out``,
    evaluate the saved model. Returns ``(records, extra registry params)``."""
    from .train_gliner2 import load_base_model, pin_count_head, train_in_thread
    from .train_prompt import fit_records

    yield Progress(0, None, "loading base model")
    model, bare = load_base_model(base_model)
    pin_count_head(model)
    model.to(device)
    records, recut = fit_records(model, train_docs, schema, descriptions=descriptions,
                                 max_words=chunk_words)
    result.data_hash = data_hash(records)
    if held:
        yield Progress(0, None, f"evaluating the base model on {len(held)} "
                                f"{result.eval_split} docs")
        try:
            result.base_report = _eval_model(model, base_model, held, schema, threshold)
        except AnnotatorError as exc:  # descriptions too long for this encoder
            result.warnings.append(f"base model evaluated with label names only: {exc}")
            result.base_report = _eval_model(model, base_model, held, schema, threshold,
                                             descriptions=False)

    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="annotator-train-") as work:
        steps = train_in_thread(model, records, epochs=epochs, lr=lr, task_lr=task_lr,
                                batch_size=batch_size, seed=seed, lora=lora,
                                max_steps=max_steps, max_len=max_len, work_dir=work,
                                device=device)
        while True:
            try:
                st = next(steps)
            except StopIteration as stop:
                model = stop.value
                break
            result.steps = st.step
            yield Progress(st.step, st.total or None, "training", {"loss": round(st.loss, 4)})
    result.seconds = time.perf_counter() - started
    result.seconds_per_step = result.seconds / max(1, result.steps)
    pin_count_head(model)

    out_dir = Path(result.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    model.eval()
    model.save_pretrained(str(out_dir))

    extra: dict[str, Any] = {"base_from_bare_encoder": bare, "chunks_recut_to_fit": recut}
    if held:
        from gliner2 import GLiNER2

        from .calibrate import calibrate, write_settings

        yield Progress(0, None, f"checking the new model's prompt style and threshold on "
                                f"{len(held)} {result.eval_split} docs")
        saved = GLiNER2.from_pretrained(str(out_dir)).to(device)
        cal = calibrate(saved, result.out, held, schema)
        write_settings(out_dir, cal)
        result.calibration = cal.as_dict()
        extra["prelabel"] = {"descriptions": cal.descriptions, "threshold": cal.threshold}
        # the new model is scored as `prelabel --model DIR` will run it: recorded settings
        result.new_report = _eval_model(saved, result.out, held, schema, cal.threshold,
                                        cal.descriptions)
        if cal.predicts_nothing:
            result.warnings.append(
                f"the new model predicts nothing on the {len(held)} {result.eval_split} "
                "documents, with or without descriptions, at any threshold: train longer, "
                "on more gold, or from a pretrained GLiNER2")
    return records, extra

"""Import and export jobs shared by the CLI and the GUI.

``import_job`` parses the whole input first (collecting ``file:line`` problems), checks
labels against the project schema, and then writes everything in ONE transaction (schema
change included): an import commits whole or leaves the database unchanged.

``export_job`` streams documents out of the store through a format writer, optionally split
by document (deterministic for a seed), and returns what it wrote and what it dropped.
"""

from __future__ import annotations

import contextlib
from collections import Counter
from collections.abc import Collection
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Annotated, Any

from annotator import publish
from annotator.errors import AnnotatorError, FormatError
from annotator.formats import check_options, format_names, get_format
from annotator.formats.base import Errors, Parsed
from annotator.jobs import Job, Progress
from annotator.model import REVIEW_STATUSES, STATUSES, LabelSchema, Status
from annotator.params import Param
from annotator.ports import StorePort
from annotator.schemas import load_label_map, load_schema

DEFAULT_SCHEMA = "finemed-fr"
PROGRESS_EVERY = 1000


@dataclass
class ImportSummary:
    """What an import did. ``dropped_spans`` counts spans whose label the map sends to null."""

    format: str
    path: str
    schema: str
    documents_read: int = 0
    added: int = 0
    skipped_duplicates: int = 0
    spans: int = 0
    dropped_spans: dict[str, int] = field(default_factory=dict)
    new_labels: list[str] = field(default_factory=list)
    doc_ids: list[int] = field(default_factory=list)

    def as_dict(self, with_ids: bool = False) -> dict[str, Any]:
        d = asdict(self)
        if not with_ids:
            d.pop("doc_ids")
        return d


@dataclass
class ExportSummary:
    format: str
    out: list[str] = field(default_factory=list)
    documents: int = 0
    spans: int = 0
    dropped: dict[str, int] = field(default_factory=dict)
    splits: dict[str, dict[str, Any]] = field(default_factory=dict)
    # the filters applied (None = every status): gold unless widened explicitly
    span_status: list[str] | None = None
    review_status: list[str] | None = None
    # what a trainer will read differently (counts; examples in `details`), and notes
    warnings: dict[str, int] = field(default_factory=dict)
    details: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    records: int = 0  # gliner v1: records written (long documents give several)

    def as_dict(self, with_details: bool = True) -> dict[str, Any]:
        d = asdict(self)
        if not with_details:
            d.pop("details")
        return d


# The parameters a person sets (annotator.params): the `import` / `export` flags and the
# Import / Export dialogs' fields are made from these (format options: the format registry).
Format = Annotated[str, Param(help="the tool's own formats, then installed plugins' (entry "
                                   "point group medannotator.formats)", flag="format",
                              choices=format_names)]


def import_job(store: StorePort, *, fmt: Format,
               path: Annotated[str, Param(help="file or folder to import", positional=True,
                                          title="File or folder", widget="open")],
               schema: Annotated[str | None, Param(
                   help="label schema set on a project that has none (default: finemed-fr; "
                        "medmentions-st21pv for pubtator)",
                   title="Label schema (new project)", empty="the format's")] = None,
               label_map: Annotated[str | None, Param(
                   help="label map: a shipped name or a JSON file (null drops a label)",
                   advanced=True)] = None,
               add_labels: Annotated[bool, Param(
                   help="extend the project schema with labels it lacks",
                   title="Add the labels the project lacks", advanced=True)] = False,
               as_proposed: Annotated[bool, Param(
                   help="store imported spans as proposed instead of accepted",
                   title="Import spans as suggestions")] = False,
               **options: Any) -> Job:
    """Import ``path`` in format ``fmt`` into ``store`` (all or nothing).

    ``options`` are format-specific (e.g. ``csv_text_col``, ``csv_label_cols``).
    Returns an ``ImportSummary``.
    """
    spec = get_format(fmt)
    legacy = {k: options.pop(k) for k in ("csv_label_cols",) if k in options}
    options = {**check_options(spec, "read", options), **legacy}
    path = Path(path)
    current = store.get_schema()
    if current is None:
        target = load_schema(schema or spec.default_schema or DEFAULT_SCHEMA)
    elif schema and load_schema(schema).name != current.name:
        raise AnnotatorError(f"project {store.project!r} already uses schema "
                             f"{current.name!r}; import into another --project to use "
                             f"{schema!r}")
    else:
        target = current
    lmap = load_label_map(label_map) if label_map else None

    return (yield from _import(store, spec, fmt, path, target, current, lmap, add_labels,
                               as_proposed, options))


def _import(store: StorePort, spec: Any, fmt: str, path: Path, target: LabelSchema,
            current: LabelSchema | None, lmap: Any, add_labels: bool, as_proposed: bool,
            options: dict[str, Any]) -> Job:
    from annotator.formats.validate import check_records

    errors = Errors()
    parsed: list[Parsed] = []
    try:
        for p in spec.read(path, errors, **options):
            parsed.append(p)
            if len(parsed) % PROGRESS_EVERY == 0:
                yield Progress(len(parsed), None, "reading")
    except UnicodeDecodeError as exc:  # a reader without its own check: name the input
        raise FormatError(f"not UTF-8: {exc.reason} at byte {exc.start}",
                          file=str(path)) from None
    except OSError as exc:
        raise AnnotatorError(f"cannot read {exc.filename or path}: "
                             f"{exc.strerror or exc}") from None
    except MemoryError:
        raise AnnotatorError(f"cannot read {path}: too large to hold in memory; import it "
                             "in several parts") from None
    check_records(parsed, errors)  # the one validation step, before anything is stored
    errors.raise_if_any()

    dropped: Counter[str] = Counter()
    unknown: dict[str, tuple[str, int]] = {}  # label -> (first place, count)
    known = frozenset(target.keys)
    for p in parsed:
        if lmap is None and not as_proposed and all(sp.label in known for sp in p.doc.spans):
            continue  # the common case: nothing to map, drop, re-status or report
        kept, kept_where = [], []
        for sp, where in zip(p.doc.spans, p.where):
            if lmap is not None and sp.label in lmap:
                mapped = lmap.map(sp.label)
                if mapped is None:
                    dropped[sp.label] += 1
                    continue
                if mapped != sp.label:
                    sp.meta = {**sp.meta, "original_label": sp.label}
                    sp.label = mapped
            if sp.label not in known:
                first, n = unknown.get(sp.label, (where, 0))
                unknown[sp.label] = (first, n + 1)
            if as_proposed:
                sp.status = Status.PROPOSED.value
            kept.append(sp)
            kept_where.append(where)
        p.doc.spans, p.where = kept, kept_where
    new_labels: list[str] = []
    if unknown and add_labels:
        new_labels = list(unknown)
        target = target.with_labels(new_labels)
    elif unknown:
        for label, (where, n) in unknown.items():
            errors.add_at(where, f"label {label!r} is not in schema {target.name!r} "
                                 f"({n} span{'s' if n > 1 else ''}); map it with --label-map, "
                                 f"extend the schema with --add-labels, or pick --schema")
        errors.raise_if_any()

    summary = ImportSummary(format=fmt, path=str(path), schema=target.name,
                            documents_read=len(parsed), dropped_spans=dict(dropped),
                            new_labels=new_labels)
    yield Progress(0, len(parsed), "writing")
    with store.transaction() as c:
        if current is None or new_labels:
            store.set_schema(target, conn=c)
        res = store.import_documents_fast((p.doc for p in parsed), conn=c)
    summary.added, summary.skipped_duplicates = res.added, res.skipped_duplicates
    summary.spans, summary.doc_ids = res.spans, res.doc_ids
    yield Progress(len(parsed), len(parsed), "done", {"added": res.added})
    return summary


GOLD_SPAN_STATUS = ("accepted",)
GOLD_REVIEW_STATUS = ("reviewed",)


def _split_values(value: str | Collection[str] | None) -> list[str]:
    values = [value] if isinstance(value, str) else list(value or [])
    return [v.strip() for s in values for v in s.split(",") if v.strip()]


def status_filters(status: str | Collection[str] | None, fmt: str | None,
                   review_status: str | Collection[str] | None = None
                   ) -> tuple[list[str] | None, list[str] | None]:
    """``(span statuses, document review statuses)`` an export (or training, evaluation)
    takes; ``None`` means every status.

    Default: gold, i.e. the ``accepted`` spans of ``reviewed`` documents, for every format
    but the lossless ``jsonl`` (``fmt="jsonl"``: everything). Widening is explicit:
    ``status`` lists span statuses (``accepted,proposed,rejected`` or ``all``; document
    statuses are still understood there, as before), ``review_status`` lists document
    statuses (``reviewed,in_progress,todo,skipped`` or ``all``).
    """
    values = _split_values(status)
    reviews = _split_values(review_status)
    span = [v for v in values if v in STATUSES]
    review = [v for v in values if v in REVIEW_STATUSES]
    bad = [v for v in values if v not in STATUSES and v not in REVIEW_STATUSES and v != "all"]
    if bad:
        raise AnnotatorError(f"unknown --status {', '.join(bad)}; span statuses: "
                             f"{', '.join(STATUSES)} or all")
    bad = [v for v in reviews if v not in REVIEW_STATUSES and v != "all"]
    if bad:
        raise AnnotatorError(f"unknown --review-status {', '.join(bad)}; document statuses: "
                             f"{', '.join(REVIEW_STATUSES)} or all")
    review += [v for v in reviews if v in REVIEW_STATUSES]
    lossless = fmt == "jsonl"
    if "all" in values:
        span_out = None
    elif span:
        span_out = span
    else:
        span_out = None if lossless else list(GOLD_SPAN_STATUS)
    if "all" in reviews:
        review_out = None
    elif review:
        review_out = list(dict.fromkeys(review))
    else:
        review_out = None if lossless else list(GOLD_REVIEW_STATUS)
    return span_out, review_out


def _staging_path(target: Path) -> Path:
    """A hidden sibling of ``target`` that the export is written to (``annotator.publish``)."""
    return publish.staging_path(target)


def _publish(staged: Path, target: Path, fmt: str = "") -> None:
    """Move a finished export into place atomically, a folder as well as a file: a reader
    sees the earlier export or the new one, never a mix (``annotator.publish.publish``)."""
    publish.publish(staged, target, fmt)


def _target_name(filename: Any, staged: dict[str, Path], targets: dict[str, Path]) -> str:
    """The path to name in an error: the user's target, never the staged sibling."""
    if filename:
        for name, path in staged.items():
            if str(filename).startswith(str(path)):
                return str(targets[name]) + str(filename)[len(str(path)):]
        return str(filename)
    return ", ".join(str(t) for t in targets.values())


def _abandon(writers: dict[str, Any], staged: dict[str, Path],
             closed: Collection[str] = ()) -> None:
    for name, w in writers.items():
        if name not in closed:
            with contextlib.suppress(Exception):
                w.close()
    for path in staged.values():
        publish.abandon(path)


SpanStatuses = Annotated[str | None, Param(
    help="span statuses (accepted, proposed, rejected, or all), comma-separated; default: "
         "accepted (jsonl: all)", title="Span statuses")]
ReviewStatuses = Annotated[str | None, Param(
    help="document statuses (reviewed, in_progress, todo, skipped, or all), comma-separated; "
         "default: reviewed (jsonl: all). The default export is the gold: accepted spans of "
         "reviewed documents", title="Document statuses")]
Sources = Annotated[str | None, Param(help="span sources, comma-separated")]
Split = Annotated[str | None, Param(
    help="e.g. train=0.8,dev=0.1,test=0.1 (ratios sum to 1): writes NAME.<ext> per split "
         "into the folder --out", title="Split into a folder (e.g. train=0.8,dev=0.1,test=0.1)",
    empty="no split: one file")]
SplitSeed = Annotated[int, Param(help="seed of the document split", advanced=True)]


def export_job(store: StorePort, *, fmt: Format,
               out: Annotated[str, Param(
                   help="output file, or folder (brat, text, --split); required unless "
                        "--dry-run", title="Write to", widget="save")],
               status: SpanStatuses = None, review_status: ReviewStatuses = None,
               source: Sources = None, split: Split = None, seed: SplitSeed = 42,
               descriptions: bool = False, mentions: str = "offsets",
               writer_options: dict[str, Any] | None = None, **format_options: Any) -> Job:
    """Export the project to ``out`` in format ``fmt``; returns an ``ExportSummary``.

    With ``split`` (``"train=0.8,dev=0.1,test=0.1"``), documents are split deterministically
    by seed and written to ``out/<split><ext>`` (a folder per split for folder formats).
    ``mentions`` is ``"offsets"`` or ``"strings"`` (GLiNER2 plain strings).
    ``writer_options`` go to the format's writer (gliner: ``max_words``, ``max_width``).
    ``format_options`` are the format's registered export options (``FormatSpec.
    write_options``; gliner2: ``descriptions``, ``plain_strings``; gliner: ``max_words``,
    ``max_width``), checked against the format: the CLI's flags and the GUI's fields.
    ``status`` / ``review_status``: see :func:`status_filters` (default: gold, the accepted
    spans of reviewed documents; jsonl: everything).
    """
    descriptions, mentions, writer_options = export_options(
        fmt, format_options, descriptions=descriptions, mentions=mentions,
        writer_options=writer_options)
    return (yield from _export(store, fmt=fmt, out=out, status=status,
                               review_status=review_status, source=source,
                               writer_options=writer_options, split=split, seed=seed,
                               descriptions=descriptions, mentions=mentions))


def export_options(fmt: str, format_options: dict[str, Any], *, descriptions: bool = False,
                   mentions: str = "offsets", writer_options: dict[str, Any] | None = None
                   ) -> tuple[bool, str, dict[str, Any]]:
    """The registered export options of format ``fmt`` (checked: ``check_options``) merged
    into ``(descriptions, mentions, writer_options)``."""
    if descriptions:  # the keyword of old callers is the gliner2 option: checked as such
        format_options = {"descriptions": True, **format_options}
    opts = check_options(get_format(fmt), "write", format_options)
    descriptions = bool(opts.pop("descriptions", False))
    if opts.pop("plain_strings", False):
        mentions = "strings"
    return descriptions, mentions, {**(writer_options or {}),
                                    **{k: v for k, v in opts.items() if v is not None}}


def _export(store: StorePort, *, fmt: str, out: str | Path, status: str | None,
            review_status: str | None, source: str | None, split: str | None, seed: int,
            descriptions: bool, mentions: str,
            writer_options: dict[str, Any] | None = None) -> Job:
    from .split import assign_splits, check_split_folder, parse_split

    if mentions not in ("offsets", "strings"):
        raise AnnotatorError(f"mentions must be 'offsets' or 'strings', not {mentions!r}")
    spec = get_format(fmt)
    schema = store.get_schema() or load_schema(DEFAULT_SCHEMA)
    span_status, review_status = status_filters(status, fmt, review_status)
    sources = [s for s in (source or "").split(",") if s] or None
    out = Path(out)
    opts = {"schema": schema, "descriptions": descriptions,
            "plain_strings": mentions == "strings", **(writer_options or {})}

    if split:
        parse_split(split)  # refuse bad ratios before anything is read or written
        out = check_split_folder(out, [spec.ext])
        id_hash = store.doc_ids_and_hashes(review_status)
        total = len(id_hash)
        names = assign_splits([h for _, h in id_hash], parse_split(split), seed)
        split_of = {i: name for (i, _), name in zip(id_hash, names)}
        targets = {name: out / f"{name}{spec.ext}" for name in parse_split(split)}
    else:
        total = store.count_documents(review_status)
        split_of = None
        targets = {"all": out}
    # Writers write to staged siblings of their targets, which replace the targets only once
    # every writer has closed cleanly: an export that fails (full disk, bad path) or is
    # cancelled leaves no truncated file behind and a previous export where it was.
    # Leftovers of killed exports to these targets go first (an interrupted folder publish
    # is rolled back); see annotator.publish.
    for path in targets.values():
        publish.recover(path)
    staged = {name: _staging_path(path) for name, path in targets.items()}
    writers: dict[str, Any] = {}
    try:
        for name, path in staged.items():
            writers[name] = spec.writer(path, **opts)
    except OSError as exc:
        _abandon(writers, staged)
        raise AnnotatorError(f"cannot write {targets[name]}: {exc.strerror or exc}") from None
    summary = ExportSummary(format=fmt, out=[str(p) for p in targets.values()],
                            span_status=span_status, review_status=review_status)
    done = 0
    reports: dict[str, Any] = {}
    try:
        if fmt == "gliner2" and not split:  # driver rows, one pass per batch
            for docs, span_rows in store.iter_span_batches(
                    review_status=review_status, span_status=span_status,
                    span_source=sources):
                writers["all"].write_batch(docs, span_rows)
                done += len(docs)
                yield Progress(done, total, "exporting")
        elif fmt == "gliner2":  # offsets and labels only: the light stream, no dataclasses
            for doc_id, text, spans in store.iter_span_tuples(
                    review_status=review_status, span_status=span_status,
                    span_source=sources):
                writers[split_of[doc_id] if split_of else "all"].write_spans(text, spans)
                done += 1
                if done % PROGRESS_EVERY == 0:
                    yield Progress(done, total, "exporting")
        else:
            for doc in store.iter_export_documents(review_status=review_status,
                                                   span_status=span_status, span_source=sources):
                writers[split_of[doc.id] if split_of else "all"].write(doc)
                done += 1
                if done % PROGRESS_EVERY == 0:
                    yield Progress(done, total, "exporting")
        for name, w in writers.items():
            reports[name] = w.close()
        for name, path in staged.items():
            _publish(path, targets[name], fmt)
    except OSError as exc:
        _abandon(writers, staged, closed=set(reports))
        where = _target_name(exc.filename, staged, targets)
        raise AnnotatorError(f"cannot write {where}: {exc.strerror or exc}; nothing was "
                             "exported (an earlier export there is unchanged)") from None
    except BaseException:  # cancelled (GeneratorExit) or failed: remove what was staged
        _abandon(writers, staged, closed=set(reports))
        raise
    dropped: Counter[str] = Counter()
    warnings: Counter[str] = Counter()
    for name, rep in reports.items():
        summary.documents += rep.get("documents", 0)
        summary.spans += rep.get("spans", 0)
        summary.records += rep.get("records", 0)
        dropped.update(rep.get("dropped", {}))
        warnings.update(rep.get("warnings", {}))
        summary.details.extend({**d, "file": str(targets[name])}
                               for d in rep.get("details", []))
        summary.notes.extend(rep.get("notes", []))
        if split_of:
            summary.splits[name] = {**rep, "path": str(targets[name])}
    summary.dropped = dict(dropped)
    summary.warnings = dict(warnings)
    yield Progress(done, total, "done")
    return summary

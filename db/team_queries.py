"""Team work in the store: assignments, annotators' layers, adjudication into the gold.

An annotator's **layer** is a project of its own in the same database, named
``<project>::<annotator>`` (``list_projects`` leaves these out). Assigning a document to an
annotator copies the document (same text, name, metadata and hash) into their layer with
the machine proposals it holds at that moment (``proposed`` spans only: what people already
decided in the shared project, e.g. imported gold, is not shown, so that the layers stay
independent). Everything the tool does on a project then works on a layer unchanged: the
review desk, the history and undo, ``review accept|reject|mark``; the layer's document
status is the annotator's own review status. The shared project stays the gold layer:
adjudication writes there, and export and train read it as always.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import insert, select

from annotator.errors import AnnotatorError
from annotator.model import Span
from annotator.team import (
    DocAdjudication,
    TeamAgreement,
    adjudication_plan,
    check_annotator_name,
    plan_assignment,
    span_key,
    team_agreement,
)

from .store import LAYER_SEP, SPAN_COLUMNS, D, P, S, Store, row_to_span
from .tables import AssignmentRow

A = AssignmentRow.__table__

ADJUDICATOR = "adjudication"  # the annotator recorded on spans auto-agree takes into gold


def layer_project(project: str, annotator: str) -> str:
    return f"{project}{LAYER_SEP}{check_annotator_name(annotator)}"


def _now() -> datetime:
    return datetime.now(timezone.utc)


def shared_store(store: Store) -> Store:
    """The shared (gold) project of ``store``: itself, or the project an annotator's layer
    belongs to."""
    if LAYER_SEP not in store.project:
        return store
    return store.sibling(store.project.split(LAYER_SEP, 1)[0])


def layer_owner(store: Store) -> str | None:
    """The annotator whose layer ``store`` is; None for a shared project."""
    return store.project.split(LAYER_SEP, 1)[1] if LAYER_SEP in store.project else None


def annotators(store: Store) -> list[str]:
    """The annotators with at least one document assigned in this project."""
    with store.engine.connect() as c:
        return list(c.execute(select(A.c.annotator).where(A.c.project_id == store.project_id)
                              .distinct().order_by(A.c.annotator)).scalars())


def layer_store(store: Store, annotator: str) -> Store | None:
    """The store of ``annotator``'s layer of this project; None when nothing is assigned
    to them here."""
    if annotator not in annotators(store):
        return None
    return store.sibling(layer_project(store.project, annotator))


def work_store(store: Store, who: str) -> Store:
    """Where ``who``'s decisions go: their layer when documents of this project are
    assigned to them, else the project itself (a curator, or a team of one)."""
    layer = layer_store(store, who)
    return store if layer is None else layer


def gold_state(store: Store, doc_id: int) -> dict[tuple[int, int, str], str]:
    """``gold_decisions`` of one document of the shared project, on its own connection."""
    return gold_states(store, [doc_id])[doc_id]


def gold_states(store: Store, doc_ids: Sequence[int]
                ) -> dict[int, dict[tuple[int, int, str], str]]:
    """``gold_decisions`` of many documents, a query per 500 of them."""
    with store.engine.connect() as c:
        return gold_decisions(c, doc_ids)


def assignments(store: Store) -> dict[int, dict[str, int]]:
    """``{shared doc id: {annotator: layer doc id}}``."""
    out: dict[int, dict[str, int]] = defaultdict(dict)
    with store.engine.connect() as c:
        for r in c.execute(select(A.c.doc_id, A.c.annotator, A.c.layer_doc_id)
                           .where(A.c.project_id == store.project_id)):
            out[r.doc_id][r.annotator] = r.layer_doc_id
    return dict(out)


def layer_statuses(store: Store) -> dict[int, dict[str, str]]:
    """``{shared doc id: {annotator: review status in their layer}}``."""
    out: dict[int, dict[str, str]] = defaultdict(dict)
    L = D.alias("layer_doc")
    with store.engine.connect() as c:
        for r in c.execute(select(A.c.doc_id, A.c.annotator, L.c.review_status)
                           .join(L, L.c.id == A.c.layer_doc_id)
                           .where(A.c.project_id == store.project_id)):
            out[r.doc_id][r.annotator] = r.review_status
    return dict(out)


@dataclass
class AssignResult:
    assigned: int = 0  # new (document, annotator) pairs
    documents: int = 0  # documents that got at least one new annotator
    proposals_copied: int = 0
    load: dict[str, int] = field(default_factory=dict)  # documents per annotator, in all

    def as_dict(self) -> dict[str, Any]:
        return {"assigned": self.assigned, "documents": self.documents,
                "proposals_copied": self.proposals_copied, "load": dict(self.load)}


def assign(store: Store, names: Sequence[str], per_document: int, *, seed: int = 42,
           doc_ids: Sequence[int] | None = None, by: str | None = None) -> AssignResult:
    """Give every document (or ``doc_ids``) ``per_document`` of ``names`` with a balanced
    load (``annotator.team.plan_assignment``), in one transaction: each new assignment
    copies the document and its proposals into the annotator's layer. Existing assignments
    are kept and count toward the load; rerunning with the same arguments adds nothing."""
    if not store.project_exists:
        raise AnnotatorError(f"project {store.project!r} has no documents to assign")
    if LAYER_SEP in store.project:
        raise AnnotatorError(f"{store.project!r} is an annotator's layer; assign documents "
                             "of the shared project")
    res = AssignResult()
    with store.transaction() as c:
        if doc_ids is None:
            ids = list(c.execute(select(D.c.id).where(D.c.project_id == store.project_id)
                                 .order_by(D.c.id)).scalars())
        else:
            ids = sorted(set(doc_ids))
        current: dict[int, set[str]] = defaultdict(set)
        for r in c.execute(select(A.c.doc_id, A.c.annotator)
                           .where(A.c.project_id == store.project_id)):
            current[r.doc_id].add(r.annotator)
        plan = plan_assignment(ids, names, per_document, existing=current, seed=seed)
        schema, = c.execute(select(P.c.schema).where(P.c.id == store.project_id)).one()
        layers: dict[str, Store] = {}
        for name in names:
            lay = store.sibling(layer_project(store.project, name))
            if not lay.project_exists:  # the layer's project row, in this transaction
                lay._pid = lay._create_project(c)
            if schema is not None:
                c.execute(P.update().where(P.c.id == lay.project_id).values(schema=schema))
            layers[name] = lay
        now = _now()
        for doc_id, who in sorted(plan.items()):
            doc = c.execute(select(D).where(D.c.id == doc_id)).one()
            props = [row_to_span(r) for r in c.execute(
                select(*SPAN_COLUMNS).where(S.c.doc_id == doc_id, S.c.status == "proposed")
                .order_by(S.c.start, S.c.end, S.c.id))]
            for name in who:
                lay = layers[name]
                layer_doc = c.execute(select(D.c.id).where(D.c.project_id == lay.project_id,
                                                           D.c.hash == doc.hash)).scalar()
                if layer_doc is None:
                    layer_doc = c.execute(insert(D).values(
                        project_id=lay.project_id, name=doc.name or f"doc{doc_id}", text=doc.text,
                        meta={**(doc.meta or {}), "layer_of": doc_id},
                        review_status="todo", hash=doc.hash, length=doc.length,
                        density=doc.density, created_at=now, updated_at=now)
                    ).inserted_primary_key[0]
                    if props:
                        c.execute(insert(S), [{
                            "doc_id": layer_doc, "start": sp.start, "end": sp.end,
                            "label": sp.label,
                            "fragments": [list(f) for f in sp.fragments] if sp.fragments
                            else None,
                            "source": sp.source, "source_version": sp.source_version,
                            "score": sp.score, "status": "proposed", "annotator": None,
                            "meta": {**(sp.meta or {}), "shared_span": sp.id},
                            "created_at": now, "updated_at": now} for sp in props])
                        res.proposals_copied += len(props)
                c.execute(insert(A).values(project_id=store.project_id, doc_id=doc_id,
                                           annotator=name, layer_doc_id=layer_doc,
                                           assigned_by=by, assigned_at=now))
                res.assigned += 1
            res.documents += 1
    for name, n in _load(store).items():
        res.load[name] = n
    return res


def _load(store: Store) -> dict[str, int]:
    from sqlalchemy import func

    with store.engine.connect() as c:
        return {r.annotator: int(r.n) for r in c.execute(
            select(A.c.annotator, func.count().label("n"))
            .where(A.c.project_id == store.project_id).group_by(A.c.annotator)
            .order_by(A.c.annotator))}


def _accepted_by_layer_doc(store: Store, layer_doc_ids: Iterable[int]) -> dict[int, list[Span]]:
    ids = sorted(set(layer_doc_ids))
    out: dict[int, list[Span]] = defaultdict(list)
    with store.engine.connect() as c:
        for i in range(0, len(ids), 500):
            for r in c.execute(select(*SPAN_COLUMNS).where(
                    S.c.doc_id.in_(ids[i:i + 500]), S.c.status == "accepted")
                    .order_by(S.c.doc_id, S.c.start, S.c.end, S.c.id)):
                out[r.doc_id].append(row_to_span(r))
    return out


@dataclass
class TeamView:
    """What the annotators did, keyed by the shared document id."""

    texts: dict[int, str]
    names: dict[int, str]
    assigned: dict[int, list[str]]
    reviewed: dict[str, set[int]]
    layers: dict[str, dict[int, list[Span]]]


def team_view(store: Store, doc_ids: Sequence[int] | None = None) -> TeamView:
    assigned_map = assignments(store)
    statuses = layer_statuses(store)
    if doc_ids is not None:
        keep = set(doc_ids)
        assigned_map = {d: v for d, v in assigned_map.items() if d in keep}
    spans = _accepted_by_layer_doc(store, [ld for v in assigned_map.values()
                                           for ld in v.values()])
    texts, names = {}, {}
    ids = sorted(assigned_map)
    with store.engine.connect() as c:
        for i in range(0, len(ids), 500):
            for r in c.execute(select(D.c.id, D.c.name, D.c.text)
                               .where(D.c.id.in_(ids[i:i + 500]))):
                texts[r.id], names[r.id] = r.text, r.name
    reviewed: dict[str, set[int]] = defaultdict(set)
    layers: dict[str, dict[int, list[Span]]] = defaultdict(dict)
    for d, who in assigned_map.items():
        for name, layer_doc in who.items():
            layers[name][d] = spans.get(layer_doc, [])
            if statuses.get(d, {}).get(name) == "reviewed":
                reviewed[name].add(d)
    return TeamView(texts, names, {d: sorted(v) for d, v in assigned_map.items()},
                    dict(reviewed), dict(layers))


def agreement_by_annotator(store: Store) -> TeamAgreement:
    v = team_view(store)
    if not v.assigned:
        raise AnnotatorError(f"project {store.project!r}: no document is assigned to "
                             "annotators (annotator assign --annotators A,B ...)")
    return team_agreement(v.texts, v.layers, v.reviewed)


@dataclass
class AdjudicationResult:
    adjudicated: int = 0  # agreed spans on complete documents (in the gold after this run)
    written: int = 0  # of those, taken into the gold by this run
    kept: int = 0  # agreed spans a person had already rejected in the gold: left alone
    pending: int = 0  # spans some but not all assigned annotators accepted
    unresolved: int = 0  # of those, not decided in the gold yet (curation)
    documents: int = 0  # documents whose annotators all reviewed them
    waiting: int = 0  # assigned documents some annotator has not reviewed yet
    completed: int = 0  # documents without pending spans, marked reviewed in the gold
    pending_spans: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"adjudicated": self.adjudicated, "pending": self.pending,
                "unresolved": self.unresolved, "written": self.written, "kept": self.kept,
                "documents": self.documents,
                "waiting": self.waiting, "completed": self.completed,
                "pending_spans": self.pending_spans}


def plans(store: Store, doc_ids: Sequence[int] | None = None
          ) -> tuple[TeamView, list[DocAdjudication], int]:
    """The adjudication plan of every assigned document all its annotators reviewed, and
    how many assigned documents wait for a review."""
    v = team_view(store, doc_ids)
    out, waiting = [], 0
    for d, who in sorted(v.assigned.items()):
        if not all(d in v.reviewed.get(n, set()) for n in who):
            waiting += 1
            continue
        out.append(adjudication_plan(d, {n: v.layers[n].get(d, []) for n in who}))
    return v, out, waiting


def take_into_gold(store: Store, doc_id: int, spans: Sequence[Span], *, annotator: str,
                   conn: Any = None, override: bool = False) -> tuple[int, int]:
    """Accept ``spans`` (keys from the annotators' layers) in the gold of ``doc_id``: a
    proposal with the same offsets and label is accepted, an absent span is added; a span a
    person rejected in the gold is left alone unless ``override`` (a curator's explicit
    decision). Returns (written, kept)."""
    return _decide_in_gold(store, doc_id, spans, "accepted", annotator=annotator, conn=conn,
                           override=override)


def _decide_in_gold(store: Store, doc_id: int, spans: Sequence[Span], status: str, *,
                    annotator: str, conn: Any, override: bool) -> tuple[int, int]:
    """Give each of ``spans`` ``status`` in the gold of ``doc_id``: an absent span is added
    with it, a proposal with the same offsets and label gets it; one a person decided the
    other way changes only with ``override``. Returns (written, kept)."""
    written = kept = 0
    with store.transaction(conn) as c:
        gold = {span_key(r): row_to_span(r) for r in c.execute(
            select(*SPAN_COLUMNS).where(S.c.doc_id == doc_id).order_by(S.c.id))}
        for sp in spans:
            have = gold.get(span_key(sp))
            if have is None:
                store.add_span(doc_id, Span(sp.start, sp.end, sp.label, fragments=sp.fragments,
                                            source=sp.source, source_version=sp.source_version,
                                            score=sp.score, status=status,
                                            annotator=annotator,
                                            meta={"adjudicated": True}), conn=c)
                written += 1
            elif have.status == status:
                continue
            elif have.status == "proposed" or override:
                store.update_span(have.id, status=status, annotator=annotator, conn=c)
                written += 1
            else:
                kept += 1
    return written, kept


def gold_decisions(c: Any, doc_ids: Sequence[int]
                   ) -> dict[int, dict[tuple[int, int, str], str]]:
    """``{doc id: {(start, end, label): status}}`` of the spans people decided in the gold
    of ``doc_ids`` (accepted or rejected; proposals left out)."""
    ids = sorted(set(doc_ids))
    out: dict[int, dict[tuple[int, int, str], str]] = {d: {} for d in ids}
    for i in range(0, len(ids), 500):
        for r in c.execute(select(S.c.doc_id, S.c.start, S.c.end, S.c.label, S.c.status)
                           .where(S.c.doc_id.in_(ids[i:i + 500]), S.c.status != "proposed")
                           .order_by(S.c.id)):
            out[r.doc_id][(r.start, r.end, r.label)] = r.status
    return out


def resolve(store: Store, doc_id: int, spans: Sequence[Span], decision: str, *,
            annotator: str) -> int:
    """A curator's decision on spans of the annotators' layers, in the gold of ``doc_id``:
    ``accepted`` takes them in (as ``take_into_gold``), ``rejected`` rejects the gold span
    with the same offsets and label, or records the rejection as a rejected span when the
    gold has none (so the disagreement counts as resolved). Returns spans changed."""
    return _decide_in_gold(store, doc_id, spans, decision, annotator=annotator, conn=None,
                           override=True)[0]


def adjudicate_auto_agree(store: Store, *, annotator: str = ADJUDICATOR,
                          doc_ids: Sequence[int] | None = None) -> AdjudicationResult:
    """Take into the gold every span all assigned annotators of a document accepted, on
    the documents they all reviewed; a document left without pending spans is marked
    reviewed in the gold (so export and train take it), one with pending spans moves to
    in progress. One transaction."""
    v, doc_plans, waiting = plans(store, doc_ids)
    res = AdjudicationResult(documents=len(doc_plans), waiting=waiting)
    with store.transaction() as c:
        # decisions on the pending keys, read once (taking agreed keys in leaves them alone)
        decisions = gold_decisions(c, [pl.doc_id for pl in doc_plans])
        for pl in doc_plans:
            agreed = [pl.spans[k][0] for k in pl.agreed]
            w, k = take_into_gold(store, pl.doc_id, agreed, annotator=annotator, conn=c)
            res.adjudicated += len(pl.agreed)
            res.written += w
            res.kept += k
            res.pending += len(pl.pending)
            text = v.texts[pl.doc_id]
            decided = decisions[pl.doc_id]
            open_ = 0
            for key, who in pl.pending.items():
                gold = decided.get(key)
                open_ += gold is None
                res.pending_spans.append({
                    "document": v.names[pl.doc_id], "start": key[0], "end": key[1],
                    "label": key[2], "text": text[key[0]:key[1]], "accepted_by": who,
                    "not_by": [n for n in pl.annotators if n not in who], "gold": gold})
            res.unresolved += open_
            status = c.execute(select(D.c.review_status).where(D.c.id == pl.doc_id)).scalar()
            target = "reviewed" if not open_ else "in_progress"
            if status != target and status not in ("reviewed", "skipped"):
                c.execute(D.update().where(D.c.id == pl.doc_id)
                          .values(review_status=target, updated_at=_now()))
                if target == "reviewed":
                    res.completed += 1
    return res

"""``review`` sub-commands: bulk decisions for curators and scripts.

``annotator review accept|reject [filters]`` decides proposals in bulk and prints how many;
``annotator review mark STATUS NAME...`` sets documents' review status. Documents are named
as ``export --format jsonl`` writes them. Every span decision is an event in the history;
each call is one batch that ``annotator review history`` lists and ``annotator review undo``
(or the review desk's Edit > Bulk decisions…) undoes. An annotator with documents assigned
(``annotator assign``) decides, marks and undoes in their own layer.
"""

from __future__ import annotations

import argparse
from typing import Any

from annotator.cli.common import annotator_name, open_store, print_json, work_store
from annotator.errors import AnnotatorError
from annotator.model import REVIEW_STATUSES


def _csv(value: str | None) -> list[str] | None:
    items = [v.strip() for v in (value or "").split(",") if v.strip()]
    return items or None


def register(sub: Any) -> None:
    p = sub.add_parser("review", help="decide proposals in bulk, mark documents reviewed")
    rsub = p.add_subparsers(dest="review_command",
                            metavar="{accept,reject,mark,history,undo}")
    rsub.required = True
    for verb, help_ in (("accept", "accept matching proposals"),
                        ("reject", "reject matching proposals")):
        d = rsub.add_parser(verb, help=help_)
        d.add_argument("--source", default=None, help="span sources, comma-separated")
        d.add_argument("--label", default=None, help="label keys, comma-separated")
        d.add_argument("--min-score", type=float, default=None,
                       help="only proposals scored at least this (unscored ones excluded)")
        d.add_argument("--max-score", type=float, default=None,
                       help="only proposals scored at most this (unscored ones excluded)")
        d.add_argument("--doc", action="append", default=None, metavar="NAME",
                       help="a document name (repeatable); default: every document")
        d.add_argument("--annotator", dest="annotator_sub", default=None,
                       help="who decides (default: the global --annotator, else settings)")
        d.add_argument("--json", action="store_true", help="print the result as JSON")
        d.set_defaults(func=cmd_decide, decision="accepted" if verb == "accept" else "rejected")
    m = rsub.add_parser("mark", help="set the review status of documents")
    m.add_argument("status", choices=REVIEW_STATUSES)
    m.add_argument("names", nargs="+", metavar="NAME", help="document names")
    m.add_argument("--annotator", dest="annotator_sub", default=None,
                   help="who marks them (default: the global --annotator, else settings)")
    m.add_argument("--json", action="store_true", help="print the result as JSON")
    m.set_defaults(func=cmd_mark)
    h = rsub.add_parser("history", help="list bulk decisions, newest first")
    h.add_argument("--limit", type=int, default=20)
    h.add_argument("--annotator", dest="annotator_sub", default=None,
                   help="whose layer to list when documents are assigned to them (default: "
                        "the global --annotator, else settings)")
    h.add_argument("--json", action="store_true", help="print the list as JSON")
    h.set_defaults(func=cmd_history)
    u = rsub.add_parser("undo", help="undo a bulk decision (default: the newest one)")
    u.add_argument("batch", nargs="?", default=None,
                   help="its id, or the start of it, as 'review history' prints it")
    u.add_argument("--annotator", dest="annotator_sub", default=None,
                   help="who undoes it (default: the global --annotator, else settings)")
    u.add_argument("--json", action="store_true", help="print the result as JSON")
    u.set_defaults(func=cmd_undo)


def cmd_decide(args: argparse.Namespace) -> int:
    from db.review_queries import decide_proposals, resolve_document_names

    if (args.min_score is not None and args.max_score is not None
            and args.min_score > args.max_score):
        raise AnnotatorError(f"--min-score {args.min_score} is above --max-score "
                             f"{args.max_score}: nothing could match")
    who = annotator_name(args)
    with open_store(args) as shared:
        store = work_store(shared, who)
        labels = _csv(args.label)
        schema = store.get_schema()
        if labels and schema is not None:
            unknown = [lab for lab in labels if lab not in schema]
            if unknown:
                raise AnnotatorError(f"--label {', '.join(unknown)}: not in schema "
                                     f"{schema.name!r} (labels: {', '.join(schema.keys)})")
        doc_ids = None
        if args.doc:
            doc_ids = [i for ids in resolve_document_names(store, args.doc).values()
                       for i in ids]
        res = decide_proposals(store, args.decision, sources=_csv(args.source), labels=labels,
                               min_score=args.min_score, max_score=args.max_score,
                               doc_ids=doc_ids, annotator=who)
    if args.json:
        print_json({**res.as_dict(), "annotator": who})
    else:
        verb = "accepted" if args.decision == "accepted" else "rejected"
        print(f"{verb} {res.spans} proposal{'s' if res.spans != 1 else ''} on "
              f"{res.documents} document{'s' if res.documents != 1 else ''} (as {who})"
              + (f"; undo with: annotator review undo {res.batch[:8]}" if res.batch else ""))
    return 0


def cmd_mark(args: argparse.Namespace) -> int:
    from db.review_queries import mark_documents_batch, resolve_document_names

    who = annotator_name(args)
    with open_store(args) as shared:
        store = work_store(shared, who)
        found = resolve_document_names(store, args.names)
        ids = [i for v in found.values() for i in v]
        changed, batch = mark_documents_batch(store, ids, args.status, annotator=who)
    if args.json:
        print_json({"status": args.status, "documents": len(ids), "changed": changed,
                    "annotator": who, "batch": batch})
    else:
        print(f"marked {len(ids)} document{'s' if len(ids) != 1 else ''} {args.status} "
              f"({changed} changed, as {who})"
              + (f"; undo with: annotator review undo {batch[:8]}" if batch else ""))
    return 0


def cmd_history(args: argparse.Namespace) -> int:
    from db.review_queries import list_batches

    with open_store(args) as shared:
        store = work_store(shared, annotator_name(args))
        batches = list_batches(store, args.limit)
    if args.json:
        print_json([b.as_dict() for b in batches])
        return 0
    if not batches:
        print("no bulk decision yet")
    for b in batches:
        undone = f"  (undone by {b.undone_by[:8]})" if b.undone_by else ""
        print(f"{b.id[:8]}  {b.at:%Y-%m-%d %H:%M:%S}  {b.annotator or '?'}: "
              f"{b.describe()}{undone}")
    return 0


def cmd_undo(args: argparse.Namespace) -> int:
    from db.review_queries import undo_batch

    who = annotator_name(args)
    with open_store(args) as shared:
        res = undo_batch(work_store(shared, who), args.batch, annotator=who)
    if args.json:
        print_json(res.as_dict())
    else:
        print(f"undid {res.batch[:8]}: {res.spans} spans and {res.documents} documents put "
              f"back (as {who})"
              + (f"; {res.changed_since} changed since, left as they are"
                 if res.changed_since else ""))
    return 0

"""Team commands: ``assign`` documents to annotators, ``adjudicate`` their layers into the
gold. Agreement between annotators is ``annotator agreement --by annotator``
(annotator/cli/train.py); each annotator reviews in their own layer with the ``review``
commands and ``--annotator NAME`` (see ``db.team_queries``)."""

from __future__ import annotations

import argparse
from typing import Any

from annotator.cli.common import annotator_name, open_store, print_json


def register(sub: Any) -> None:
    p = sub.add_parser(
        "assign", help="give each document N annotators, each in a layer of their own",
        description="Assign every document (or --doc ones) to --per-document of the given "
                    "annotators with a balanced load. Each assignment copies the document "
                    "and its current proposals into the annotator's layer; what they decide "
                    "there is theirs alone. Existing assignments are kept and counted.")
    p.add_argument("--annotators", required=True, metavar="A,B,...",
                   help="annotator names, comma-separated")
    p.add_argument("--per-document", type=int, default=1, metavar="N",
                   help="annotators per document (default 1)")
    p.add_argument("--seed", type=int, default=42, help="order of the documents and ties")
    p.add_argument("--doc", action="append", default=None, metavar="NAME",
                   help="a document name (repeatable); default: every document")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(func=cmd_assign)

    p = sub.add_parser(
        "adjudicate", help="build the gold from the annotators' layers",
        description="On every assigned document all its annotators marked reviewed, take "
                    "into the gold each span all of them accepted (--auto-agree) and list "
                    "the spans some but not all accepted; a document left with none is "
                    "marked reviewed in the gold. The review desk's Team > Curation resolves "
                    "the rest one key at a time.")
    p.add_argument("--auto-agree", action="store_true", required=True,
                   help="take the spans every assigned annotator accepted into the gold")
    p.add_argument("--doc", action="append", default=None, metavar="NAME",
                   help="a document name (repeatable); default: every assigned document")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(func=cmd_adjudicate)


def _csv(value: str) -> list[str]:
    return [v.strip() for v in value.split(",") if v.strip()]


def _doc_ids(store: Any, names: list[str] | None) -> list[int] | None:
    if not names:
        return None
    from db.review_queries import resolve_document_names

    return [i for ids in resolve_document_names(store, names).values() for i in ids]


def cmd_assign(args: argparse.Namespace) -> int:
    from db.team_queries import assign

    with open_store(args) as store:
        res = assign(store, _csv(args.annotators), args.per_document, seed=args.seed,
                     doc_ids=_doc_ids(store, args.doc), by=annotator_name(args))
    if args.json:
        print_json(res.as_dict())
        return 0
    print(f"assigned {res.assigned} (document, annotator) pairs on {res.documents} "
          f"documents; {res.proposals_copied} proposals copied into the layers")
    for name, n in res.load.items():
        print(f"  {name:<20}{n:6d} documents")
    return 0


def cmd_adjudicate(args: argparse.Namespace) -> int:
    from db.team_queries import adjudicate_auto_agree

    with open_store(args) as store:
        res = adjudicate_auto_agree(store, annotator=annotator_name(args),
                                    doc_ids=_doc_ids(store, args.doc))
    if args.json:
        print_json(res.as_dict())
        return 0
    print(f"{res.documents} documents reviewed by all their annotators ({res.waiting} still "
          f"waiting): {res.adjudicated} agreed spans in the gold ({res.written} taken now"
          + (f", {res.kept} a person had rejected there left alone" if res.kept else "")
          + f"), {res.pending} pending; {res.completed} documents completed")
    for p in res.pending_spans[:50]:
        print(f"  {p['document']}  [{p['start']}, {p['end']}) {p['label']:<18} "
              f"{p['text']!r}  accepted by {', '.join(p['accepted_by'])}; "
              f"not by {', '.join(p['not_by'])}")
    if len(res.pending_spans) > 50:
        print(f"  … and {len(res.pending_spans) - 50} more (--json lists them all)")
    return 0

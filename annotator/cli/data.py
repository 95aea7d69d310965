"""``import``, ``export``, ``stats`` and ``schema`` sub-commands."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from annotator.cli.common import open_store, print_json, run_job
from annotator.errors import AnnotatorError


def register(sub: Any) -> None:
    from annotator.formats import format_names

    names = format_names()  # the tool's own, then installed plugins' (medannotator.formats)
    p = sub.add_parser("import", help="import annotated or raw documents (all or nothing)")
    p.add_argument("--format", required=True, choices=names)
    p.add_argument("path", help="file or folder to import")
    p.add_argument("--schema", default=None,
                   help="label schema set on a project that has none (default: finemed-fr; "
                        "medmentions-st21pv for pubtator)")
    p.add_argument("--label-map", default=None,
                   help="label map: a shipped name or a JSON file (null drops a label)")
    p.add_argument("--add-labels", action="store_true",
                   help="extend the project schema with labels it lacks")
    p.add_argument("--as-proposed", action="store_true",
                   help="store imported spans as proposed instead of accepted")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.set_defaults(func=cmd_import, format_options=add_format_options(p, "read"))

    p = sub.add_parser("export", help="export documents and spans")
    p.add_argument("--format", required=True, choices=names)
    p.add_argument("--out", default=None,
                   help="output file, or folder (brat, text, --split); required unless "
                        "--dry-run")
    p.add_argument("--dry-run", action="store_true",
                   help="write nothing: say which documents and spans the export takes, per "
                        "label and source, and what the format cannot carry")
    p.add_argument("--status", default=None,
                   help="span statuses (accepted, proposed, rejected, or all), "
                        "comma-separated; default: accepted (jsonl: all)")
    p.add_argument("--review-status", default=None,
                   help="document statuses (reviewed, in_progress, todo, skipped, or all), "
                        "comma-separated; default: reviewed (jsonl: all). The default export "
                        "is the gold: accepted spans of reviewed documents")
    p.add_argument("--source", default=None, help="span sources, comma-separated")
    p.add_argument("--split", default=None,
                   help="e.g. train=0.8,dev=0.1,test=0.1 (ratios sum to 1): writes "
                        "NAME.<ext> per split into the folder --out")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--json", action="store_true",
                   help="print the summary as JSON (with the spans a trainer reads "
                        "differently in 'details')")
    p.set_defaults(func=cmd_export, format_options=add_format_options(p, "write"))

    p = sub.add_parser("stats", help="document and span counts")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_stats)

    p = sub.add_parser("schema", help="shipped label schemas")
    ssub = p.add_subparsers(dest="schema_command", metavar="{list,show}")
    ssub.required = True
    sp = ssub.add_parser("list", help="list shipped schemas")
    sp.set_defaults(func=cmd_schema_list)
    sp = ssub.add_parser("show", help="print a schema as JSON")
    sp.add_argument("name")
    sp.set_defaults(func=cmd_schema_show)


def add_format_options(p: argparse.ArgumentParser, kind: str) -> list[str]:
    """One flag per registered format option (``FormatSpec.read_options`` for import,
    ``write_options`` for export; ``--NAME``, ``_`` as ``-``); returns their names."""
    from annotator.formats import format_options

    names = []
    for key, (opt, owners) in format_options(kind).items():
        flag, text = "--" + key.replace("_", "-"), f"{', '.join(owners)}: {opt.help}"
        if opt.multiple:
            p.add_argument(flag, dest=key, action="append", default=None, help=text,
                           metavar="VALUE")
        elif opt.type is bool:
            p.add_argument(flag, dest=key, action="store_true", default=False, help=text)
        else:
            p.add_argument(flag, dest=key, type=opt.type, default=opt.default,
                           metavar="N" if opt.type is int else "VALUE", help=text)
        names.append(key)
    return names


def cmd_import(args: argparse.Namespace) -> int:
    from annotator.io import import_job

    options = {k: getattr(args, k) for k in args.format_options}
    with open_store(args) as store:
        summary = run_job(import_job(store, fmt=args.format, path=args.path, schema=args.schema,
                                     label_map=args.label_map, add_labels=args.add_labels,
                                     as_proposed=args.as_proposed, **options), "import")
    if args.json:
        print_json(summary.as_dict())
    else:
        dropped = sum(summary.dropped_spans.values())
        print(f"imported {summary.added} documents, {summary.spans} spans "
              f"(schema {summary.schema}); skipped {summary.skipped_duplicates} duplicate "
              f"texts; dropped {dropped} spans by label map"
              + (f"; new labels: {', '.join(summary.new_labels)}" if summary.new_labels else ""))
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from annotator.io import export_job

    options = {"status": args.status, "review_status": args.review_status,
               "source": args.source, "split": args.split, "seed": args.seed,
               **{k: getattr(args, k) for k in args.format_options}}
    if args.dry_run:
        from annotator.gold_preview import preview_job

        with open_store(args) as store:
            preview = run_job(preview_job(store, fmt=args.format, **options), "counting")
        if args.json:
            print_json(preview.as_dict())
        else:
            print("\n".join(preview.lines()))
        return 0
    if not args.out:
        raise AnnotatorError("export needs --out (or --dry-run to see what it would write)")
    with open_store(args) as store:
        summary = run_job(export_job(store, fmt=args.format, out=args.out, **options),
                          "export")
    if args.json:
        print_json(summary.as_dict())
    else:
        print(f"exported {summary.documents} documents, {summary.spans} spans to "
              f"{', '.join(summary.out)}")
        for name, part in summary.splits.items():  # --split: one line per file written
            print(f"  {name}: {part.get('documents', 0)} documents, {part.get('spans', 0)} "
                  f"spans -> {part['path']}")
        if summary.documents == 0 and summary.review_status:
            print(f"no document is {' or '.join(summary.review_status)}: the default export "
                  "is the gold (accepted spans of reviewed documents); mark documents "
                  "reviewed, or widen with --review-status all", file=sys.stderr)
        if summary.records and summary.records != summary.documents:
            print(f"{summary.records} records (long documents windowed)")
        if summary.dropped:
            print("dropped: " + ", ".join(f"{k} {v}" for k, v in summary.dropped.items()))
        for note in summary.notes:
            print(f"note: {note} (the spans: --json)", file=sys.stderr)
    return 0


def cmd_stats(args: argparse.Namespace) -> int:
    with open_store(args) as store:
        stats = store.stats()
    if args.json:
        print_json(stats)
        return 0
    print(f"project {stats['project']}: {stats['documents']} documents "
          f"({stats['reviewed']} reviewed), {stats['spans']} spans")
    for key in ("documents_by_status", "spans_by_status", "spans_by_source", "spans_by_label",
                "runs_by_status"):
        if stats[key]:
            print(f"  {key.replace('_', ' ')}: "
                  + ", ".join(f"{k} {v}" for k, v in stats[key].items()))
    if stats["runs_by_status"].get("interrupted"):
        print("  interrupted runs (their process died) continue where they stopped when the "
              "same command is run again")
    return 0


def cmd_schema_list(args: argparse.Namespace) -> int:
    from annotator.schemas import list_schemas, load_schema

    for name in list_schemas():
        s = load_schema(name)
        print(f"{name}\t{s.version}\t{s.language}\t{len(s.labels)} labels")
    return 0


def cmd_schema_show(args: argparse.Namespace) -> int:
    from annotator.schemas import load_schema

    print(json.dumps(load_schema(args.name).to_dict(), ensure_ascii=False, indent=2))
    return 0

"""``import``, ``export``, ``stats`` and ``schema`` sub-commands."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from annotator.cli.common import open_store, print_json, run_job
from annotator.cli.params import add_job_params, job_kwargs, later
from annotator.errors import AnnotatorError


def register(sub: Any) -> None:
    p = sub.add_parser("import", help="import annotated or raw documents (all or nothing)")
    later(p, _import_arguments)
    p = sub.add_parser("export", help="export documents and spans")
    later(p, _export_arguments)

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


def _import_arguments(p: argparse.ArgumentParser) -> None:
    from annotator.io import import_job

    params = add_job_params(p, import_job)  # the job's declared parameters
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.set_defaults(func=cmd_import, job_params=params,
                   format_options=add_format_options(p, "read"))


def _export_arguments(p: argparse.ArgumentParser) -> None:
    from annotator.io import export_job

    params = add_job_params(p, export_job, optional=("out",))  # --dry-run needs no --out
    p.add_argument("--dry-run", action="store_true",
                   help="write nothing: say which documents and spans the export takes, per "
                        "label and source, and what the format cannot carry")
    p.add_argument("--json", action="store_true",
                   help="print the summary as JSON (with the spans a trainer reads "
                        "differently in 'details')")
    p.set_defaults(func=cmd_export, job_params=params,
                   format_options=add_format_options(p, "write"))


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
        summary = run_job(import_job(store, **job_kwargs(args, import_job, args.job_params),
                                     **options), "import")
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

    options = {**job_kwargs(args, export_job, args.job_params),
               **{k: getattr(args, k) for k in args.format_options}}
    out = options.pop("out")
    if args.dry_run:
        from annotator.gold_preview import preview_job

        with open_store(args) as store:
            preview = run_job(preview_job(store, **options), "counting")
        if args.json:
            print_json(preview.as_dict())
        else:
            print("\n".join(preview.lines()))
        return 0
    if not out:
        raise AnnotatorError("export needs --out (or --dry-run to see what it would write)")
    with open_store(args) as store:
        summary = run_job(export_job(store, out=out, **options),
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

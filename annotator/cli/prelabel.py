"""``prelabel`` and ``density`` sub-commands."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from annotator.cli.common import open_store, print_json, run_job
from annotator.cli.params import add_job_params, job_kwargs, later
from annotator.errors import AnnotatorError


def add_backend_options(p: argparse.ArgumentParser) -> list[str]:
    """One flag per option of the registered backends (``--NAME``, ``_`` as ``-``; an option
    several backends share is one flag); returns the option names."""
    from annotator.prelabel.registry import backends, get_backend

    seen: dict[str, list[str]] = {}
    helps: dict[str, Any] = {}
    for name in backends():
        for opt in get_backend(name).options:
            seen.setdefault(opt.name, []).append(name)
            helps.setdefault(opt.name, opt)
    for key, owners in seen.items():
        opt = helps[key]
        flag = "--" + key.replace("_", "-")
        text = f"{', '.join(owners)}: {opt.help}"
        if opt.multiple:
            p.add_argument(flag, dest=key, action="append", default=None, metavar="KEY=VALUE",
                           help=text)
        elif opt.type is bool:
            if opt.default is None:
                p.add_argument(flag, dest=key, action=argparse.BooleanOptionalAction,
                               default=None, help=text)
            else:
                p.add_argument(flag, dest=key, action="store_true", default=False, help=text)
        else:
            p.add_argument(flag, dest=key, type=opt.type, default=opt.default,
                           choices=opt.choices,
                           metavar=None if opt.choices else key.upper(), help=text)
    return list(seen)


def register(sub: Any) -> None:
    p = sub.add_parser(
        "prelabel", help="propose spans with a model or the project lexicon",
        description="Propose spans (status 'proposed') on every document not yet done for "
                    "this configuration. Ctrl-C keeps the finished documents; the same "
                    "command continues where it stopped.")
    later(p, _prelabel_arguments)

    p = sub.add_parser(
        "density", help="medical-entity density per document and over the corpus",
        description="Density = characters covered by the union of a document's spans / its "
                    "characters (FineMed-fr). Computed for documents lacking it from their "
                    "accepted and proposed spans (every source; rejected spans never count). "
                    "--method finemed: FineMed's published formula instead, the sum over the "
                    "unique span strings of occurrences x length / characters (reported, not "
                    "stored; it can exceed 1).")
    p.add_argument("--method", default="union", choices=("union", "finemed"),
                   help="union (default, stored per document) or finemed")
    p.add_argument("--recompute", action="store_true", help="recompute every document")
    p.add_argument("--source", default=None,
                   help="count only spans of these sources, comma-separated (e.g. gliner2)")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.set_defaults(func=cmd_density)


def _prelabel_arguments(p: argparse.ArgumentParser) -> None:
    from annotator.prelabel.job import prelabel_job
    from annotator.prelabel.ray_engine import ray_prelabel_job

    params = add_job_params(p, prelabel_job)  # the job's own declared parameters
    p.add_argument("--engine", default="local", choices=("local", "ray"),
                   help="local (default): this process; ray: an actor pool on Ray Data "
                        "(needs the 'scale' extra), same spans and run key")
    ray = p.add_argument_group("ray engine")
    ray_params = add_job_params(ray, ray_prelabel_job, skip=params)
    p.add_argument("--json", action="store_true", help="print the totals as JSON")
    p.set_defaults(func=cmd_prelabel, job_params=params, ray_params=ray_params,
                   backend_options=add_backend_options(p))


def cmd_prelabel(args: argparse.Namespace) -> int:
    from annotator.prelabel.job import prelabel_job
    from annotator.prelabel.registry import get_backend

    mine = {o.name for o in get_backend(args.backend).options}
    options = {k: getattr(args, k) for k in args.backend_options if k in mine}
    for k in args.backend_options:  # another backend's option, given: refused by name
        if k not in mine and getattr(args, k) not in (None, False):
            raise AnnotatorError(f"--{k.replace('_', '-')} is not an option of backend "
                                 f"{args.backend!r}")
    # the options given, else the user's settings (threshold, batch size, device)
    kwargs = job_kwargs(args, prelabel_job, args.job_params)
    job_fn: Any = prelabel_job
    if args.engine == "ray":
        from annotator.prelabel.ray_engine import ray_prelabel_job

        kwargs.update(job_kwargs(args, ray_prelabel_job, args.ray_params))
        job_fn = ray_prelabel_job
    store = open_store(args)
    try:
        job = job_fn(store, **kwargs, **options)
        totals = run_job(job, f"prelabel ({args.backend})")
    finally:
        store.close()
    if args.json:
        print_json(totals)
    else:
        print(f"{totals['docs']} documents pre-labeled ({totals['already_done']} already done, "
              f"{totals['reviewed_left_alone']} reviewed left alone), "
              f"{totals['spans']} spans proposed, {totals['windows']} windows, "
              f"{totals['truncated_docs']} documents truncated (window={args.window}), "
              f"{totals['dropped_misaligned']} misaligned spans dropped "
              f"({totals['repaired']} repaired), {totals['failed']} failed")
        if totals.get("done_concurrently"):
            print(f"{totals['done_concurrently']} of those documents were written meanwhile by "
                  "another process running the same configuration: its proposals kept")
        print(f"source version: {totals['source_version']}")
    return 1 if totals["failed"] else 0


def _fmt(v: Any) -> str:
    return "-" if v is None else f"{v:.4f}"


def cmd_density(args: argparse.Namespace) -> int:
    from annotator.prelabel.job import density_job

    store = open_store(args)
    try:
        sources = [s.strip() for s in args.source.split(",") if s.strip()] if args.source else None
        summary = run_job(density_job(store, recompute=args.recompute, sources=sources,
                                      method=args.method), f"density ({args.method})")
    finally:
        store.close()
    if args.json:
        print_json(summary)
        return 0
    out = sys.stdout
    out.write(f"documents with a density ({summary['method']}): {summary['count']} "
              f"(computed now: {summary['computed']}; empty: {summary['missing']})\n")
    out.write(f"mean {_fmt(summary['mean'])}  median {_fmt(summary['median'])}  "
              f"min {_fmt(summary['min'])}  max {_fmt(summary['max'])}  "
              f"stdev {_fmt(summary['stdev'])}\n")
    if summary["quantiles"]:
        out.write("quantiles: " + "  ".join(f"{k} {_fmt(v)}" for k, v in
                                           summary["quantiles"].items()) + "\n")
    peak = max((b["count"] for b in summary["histogram"]), default=0) or 1
    for b in summary["histogram"]:
        bar = "#" * round(40 * b["count"] / peak)
        out.write(f"  [{b['lo']:.1f}, {b['hi']:.1f}{']' if b['hi'] >= 1 else ')'} "
                  f"{b['count']:>7} {bar}\n")
    if summary.get("above_one"):
        out.write(f"  above 1: {summary['above_one']} (counted in the last bin)\n")
    return 0

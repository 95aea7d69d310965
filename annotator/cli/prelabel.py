"""``prelabel`` and ``density`` sub-commands."""

from __future__ import annotations

import argparse
import functools
import sys
from typing import Any

from annotator.cli.common import open_store, print_json, run_job
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
    from annotator.prelabel.base import DEFAULT_GLINER2_MODEL
    from annotator.prelabel.registry import backends

    p = sub.add_parser(
        "prelabel", help="propose spans with a model or the project lexicon",
        description="Propose spans (status 'proposed') on every document not yet done for "
                    "this configuration. Ctrl-C keeps the finished documents; the same "
                    "command continues where it stopped.")
    p.add_argument("--model", default=None, metavar="ID_OR_PATH",
                   help=f"hub id or local folder (gliner2 default: {DEFAULT_GLINER2_MODEL}; "
                        "not used by lexicon)")
    p.add_argument("--backend", default="gliner2", choices=backends(),
                   help="the tool's own (gliner2, transformers, lexicon) or an installed "
                        "plugin's (entry point group medannotator.prelabelers)")
    p.add_argument("--threshold", type=float, default=None,
                   help="minimum span score (default: the prelabel_threshold setting, else "
                        "the threshold `train` recorded with the model, else 0.5)")
    p.add_argument("--batch-size", type=int, default=None, metavar="N",
                   help="documents per step and windows per forward pass (default: the "
                        "prelabel_batch_size setting, 8)")
    p.add_argument("--window", default="full", choices=("full", "middle"),
                   help="full: every token, in overlapping 512-token windows; middle: only the "
                        "middle 512 tokens (FineMed's density protocol)")
    p.add_argument("--overlap", type=int, default=64, help="tokens shared by adjacent windows")
    p.add_argument("--device", default=None,
                   help="cpu, cuda, cuda:N, mps, or auto (cuda when torch sees a GPU); "
                        "default: the device setting, else cpu")
    p.add_argument("--limit", type=int, default=None, metavar="N",
                   help="process at most N documents in this call")
    p.add_argument("--include-reviewed", action="store_true",
                   help="also add proposals to reviewed documents (left alone by default); "
                        "decided spans are never touched either way")
    p.add_argument("--engine", default="local", choices=("local", "ray"),
                   help="local (default): this process; ray: an actor pool on Ray Data "
                        "(needs the 'scale' extra), same spans and run key")
    p.add_argument("--ray-address", default=None, metavar="ADDR",
                   help="ray: the cluster's head, HOST:6379 (or auto: the cluster this "
                        "machine is a node of; default: RAY_ADDRESS, else a new local Ray)")
    p.add_argument("--workers", type=int, default=2, metavar="N",
                   help="ray: actors, each loading the model once (default 2)")
    p.add_argument("--gpus-per-worker", type=float, default=0.0, metavar="G",
                   help="ray: GPUs per actor (e.g. 1 with --device cuda; default 0)")
    p.add_argument("--json", action="store_true", help="print the totals as JSON")
    p.set_defaults(func=cmd_prelabel, backend_options=add_backend_options(p))

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


def cmd_prelabel(args: argparse.Namespace) -> int:
    from annotator.prelabel.job import prelabel_job
    from annotator.prelabel.registry import get_backend
    from annotator.settings import load_settings

    spec = get_backend(args.backend)
    mine = {o.name for o in spec.options}
    options = {k: getattr(args, k) for k in args.backend_options if k in mine}
    for k in args.backend_options:  # another backend's option, given: refused by name
        if k not in mine and getattr(args, k) not in (None, False):
            raise AnnotatorError(f"--{k.replace('_', '-')} is not an option of backend "
                                 f"{args.backend!r}")
    if spec.uses_model:
        options["overlap"] = args.overlap
    user = load_settings(prelabel_threshold=args.threshold, prelabel_batch_size=args.batch_size,
                         device=args.device)  # the options given, else the user's settings
    store = open_store(args)
    try:
        if args.engine == "ray":
            from annotator.prelabel.ray_engine import ray_prelabel_job

            prelabel_job = functools.partial(  # noqa: F811
                ray_prelabel_job, ray_address=args.ray_address, workers=args.workers,
                gpus_per_worker=args.gpus_per_worker)
        job = prelabel_job(store, model=args.model, backend=args.backend,
                           threshold=user.prelabel_threshold,
                           batch_size=user.prelabel_batch_size, window=args.window,
                           device=user.device or "cpu", limit=args.limit,
                           include_reviewed=args.include_reviewed, **options)
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

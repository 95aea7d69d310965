"""``prelabel`` and ``density`` sub-commands."""

from __future__ import annotations

import argparse
import functools
import sys
from typing import Any

from annotator.cli.common import open_store, print_json, run_job


def register(sub: Any) -> None:
    from annotator.prelabel.base import DEFAULT_GLINER2_MODEL

    p = sub.add_parser(
        "prelabel", help="propose spans with a model or the project lexicon",
        description="Propose spans (status 'proposed') on every document not yet done for "
                    "this configuration. Ctrl-C keeps the finished documents; the same "
                    "command continues where it stopped.")
    p.add_argument("--model", default=None, metavar="ID_OR_PATH",
                   help=f"hub id or local folder (gliner2 default: {DEFAULT_GLINER2_MODEL}; "
                        "not used by lexicon)")
    p.add_argument("--backend", default="gliner2", choices=("gliner2", "transformers", "lexicon"))
    p.add_argument("--threshold", type=float, default=None,
                   help="minimum span score (default: the threshold `train` recorded with the "
                        "model, else 0.5)")
    p.add_argument("--descriptions", action=argparse.BooleanOptionalAction, default=None,
                   help="gliner2: prompt with the label descriptions (default: what `train` "
                        "recorded with the model, else with descriptions)")
    p.add_argument("--batch-size", type=int, default=8, metavar="N",
                   help="documents per step and windows per forward pass")
    p.add_argument("--window", default="full", choices=("full", "middle"),
                   help="full: every token, in overlapping 512-token windows; middle: only the "
                        "middle 512 tokens (FineMed's density protocol)")
    p.add_argument("--overlap", type=int, default=64, help="tokens shared by adjacent windows")
    p.add_argument("--label-map", default=None, metavar="FILE",
                   help="transformers: map model labels onto the schema (shipped name or JSON)")
    p.add_argument("--device", default="cpu",
                   help="cpu (default), cuda, cuda:N, mps, or auto (cuda when torch sees a GPU)")
    p.add_argument("--quantize", default=None, choices=("int8", "bf16"),
                   help="gliner2 on CPU: a faster, approximate encoder (int8 dynamic "
                        "quantization or bfloat16 autocast); spans may differ slightly from "
                        "the exact float32 run")
    p.add_argument("--limit", type=int, default=None, metavar="N",
                   help="process at most N documents in this call")
    p.add_argument("--case-insensitive", action="store_true",
                   help="lexicon: match accepted strings ignoring case")
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
    p.set_defaults(func=cmd_prelabel)

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

    store = open_store(args)
    try:
        if args.engine == "ray":
            from annotator.prelabel.ray_engine import ray_prelabel_job

            prelabel_job = functools.partial(  # noqa: F811
                ray_prelabel_job, ray_address=args.ray_address, workers=args.workers,
                gpus_per_worker=args.gpus_per_worker)
        job = prelabel_job(store, model=args.model, backend=args.backend,
                           threshold=args.threshold, batch_size=args.batch_size,
                           window=args.window, label_map=args.label_map, device=args.device,
                           limit=args.limit, case_insensitive=args.case_insensitive,
                           include_reviewed=args.include_reviewed,
                           descriptions=args.descriptions,
                           **({"overlap": args.overlap} if args.backend != "lexicon" else {}),
                           **({"quantize": args.quantize} if args.quantize else {}))
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

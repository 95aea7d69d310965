"""A fault-injecting OpenAI-compatible chat server: a test double at a process boundary.

Run: ``python -m annotator.llm.fake_server --port P [--latency 0.2] [--reject-json-schema]``.
It answers ``POST /v1/chat/completions`` deterministically: pass 1 (no ``<pass1>`` block in the
prompt) returns every document word listed in ``LEXICON`` under the label whose key sorts first
among the request's labels, plus one invented entity (a hallucination); pass 2 returns the
pass-1 entities it was given, minus that invented one. Labels are read from the
``response_format`` JSON schema, else from the ``- key: description`` lines of the prompt.

A request of the FineMed protocol (its schema or prompt has an ``"entity"`` key) is answered
in the FineMed shapes: pass 1 ``{"entities": [{"entity": <first label>, "text": [...]}]}`` with
the lexicon words found, except those of ``FINEMED_MISSED``, then the invented entity and the
first word again (a duplicate); pass 2 ``{"reasoning": {...}, "entities": [...]}`` with the
pass-1 groups it was given, minus the invented entity, plus the ``FINEMED_MISSED`` words found,
and one reasoning line per change.

Control endpoints (tests and the benchmark use them; never in production):
- ``POST /_control`` ``{"script": [...], "latency": s, "reject_json_schema": bool}``: replaces
  the settings and clears the log. Each script step applies to one chat request, in order:
  ``{"status": 500}``, ``{"status": 429, "retry_after": 1}``, ``{"broken": true}`` (HTTP 200 with
  invalid JSON content), ``{"sleep": s}`` (answers normally after ``s`` seconds),
  ``{"answer": obj}`` (HTTP 200 whose content is ``obj`` as JSON). The client's JSON-mode
  probe (``client.PROBE_PROMPT``) takes its steps from ``"probe_script"`` instead, and is
  answered ``{"ok": true}``; it is logged with ``"probe": true``.
- ``GET /_log``: ``{"count": n, "requests": [{"body", "auth", "at"}]}``.

``ThreadingHTTPServer``: one thread per connection, so capacity grows with concurrency.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

LEXICON = ("pneumonie", "amoxicilline", "diabète", "insuline", "poumon", "IRM", "fièvre",
           "paracétamol", "hypertension", "rein", "scanner", "glycémie", "cœur", "tumeur")
INVENTED = "entité inventée"
FINEMED_MISSED = ("cœur", "rein")  # pass 1 leaves them out, pass 2 adds them
_DOC = re.compile(r"<document>\n(.*?)\n</document>", re.DOTALL)
_PASS1 = re.compile(r"<pass1>\n(.*?)\n</pass1>", re.DOTALL)
_LABEL_LINE = re.compile(r"^- (\S+?)(?::|$)", re.MULTILINE)
_WORD = re.compile(r"\w+")


class State:
    def __init__(self, latency: float = 0.0, reject_json_schema: bool = False) -> None:
        self.lock = threading.Lock()
        self.latency, self.reject_json_schema = latency, reject_json_schema
        self.script: list[dict[str, Any]] = []
        self.probe_script: list[dict[str, Any]] = []
        self.log: list[dict[str, Any]] = []


def _is_probe(body: dict) -> bool:
    from annotator.llm.client import PROBE_PROMPT

    msgs = body.get("messages") or []
    return bool(msgs) and msgs[-1].get("content") == PROBE_PROMPT


def _labels(body: dict, prompt: str) -> list[str]:
    try:
        props = body["response_format"]["json_schema"]["schema"]["properties"]
        return list(props["entities"]["items"]["properties"]["label"]["enum"])
    except (KeyError, TypeError):
        return _LABEL_LINE.findall(prompt) or ["ENTITY"]


def _finemed_labels(body: dict) -> list[str] | None:
    try:
        props = body["response_format"]["json_schema"]["schema"]["properties"]
        return list(props["entities"]["items"]["properties"]["entity"]["enum"])
    except (KeyError, TypeError):
        return None


def finemed_answer(body: dict, prompt: str) -> dict[str, Any]:
    """The deterministic FineMed-shaped answer for a request."""
    label = min(_finemed_labels(body) or _LABEL_LINE.findall(prompt) or ["disease"])
    doc = _DOC.search(prompt)
    words = set(_WORD.findall(doc.group(1) if doc else ""))
    p1 = _PASS1.search(prompt)
    if not p1:
        found = [w for w in LEXICON if w in words and w not in FINEMED_MISSED]
        texts = found + [INVENTED] + found[:1]
        return {"entities": [{"entity": label, "text": texts}]}
    groups = json.loads(p1.group(1)).get("entities", [])
    removed = [t for g in groups for t in g.get("text", []) if t == INVENTED]
    kept = [{"entity": g["entity"], "text": [t for t in g.get("text", []) if t != INVENTED]}
            for g in groups]
    missed = [w for w in FINEMED_MISSED if w in words]
    if missed:
        kept.append({"entity": label, "text": missed})
    return {"reasoning": {
        "false_positives": [f"« {t} » n'est pas dans le document" for t in removed],
        "reclassifications": [],
        "missed_entities": [f"« {w} » ajouté ({label})" for w in missed]},
        "entities": [g for g in kept if g["text"]]}


def answer(body: dict) -> dict[str, Any]:
    """The deterministic entity list for a request."""
    prompt = "\n".join(m.get("content") or "" for m in body.get("messages", []))
    if _finemed_labels(body) is not None or '"entity":' in prompt:
        return finemed_answer(body, prompt)
    label = min(_labels(body, prompt))
    p1 = _PASS1.search(prompt)
    if p1:
        ents = json.loads(p1.group(1)).get("entities", [])
        return {"entities": [e for e in ents if e.get("text") != INVENTED]}
    doc = _DOC.search(prompt)
    words = set(_WORD.findall(doc.group(1) if doc else ""))
    ents = [{"text": w, "label": label} for w in LEXICON if w in words]
    return {"entities": ents + [{"text": INVENTED, "label": label}]}


def _completion(body: dict, content: str) -> dict[str, Any]:
    n_prompt = sum(len((m.get("content") or "").split()) for m in body.get("messages", []))
    n_out = len(content.split())
    return {
        "id": "chatcmpl-fake", "object": "chat.completion", "created": int(time.time()),
        "model": body.get("model", "fake"),
        "choices": [{"index": 0, "finish_reason": "stop",
                     "message": {"role": "assistant", "content": content}}],
        "usage": {"prompt_tokens": n_prompt, "completion_tokens": n_out,
                  "total_tokens": n_prompt + n_out},
    }


def make_handler(state: State):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # no 40 ms delayed-ACK stall between header and body

        def log_message(self, *args: Any) -> None:  # quiet
            pass

        def _send(self, status: int, obj: Any, headers: dict[str, str] | None = None) -> None:
            data = json.dumps(obj, ensure_ascii=False).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(data)

        def _body(self) -> dict:
            n = int(self.headers.get("Content-Length") or 0)
            return json.loads(self.rfile.read(n) or b"{}")

        def do_GET(self) -> None:
            if self.path == "/_log":
                with state.lock:
                    self._send(200, {"count": len(state.log), "requests": list(state.log)})
            elif self.path in ("/health", "/v1/models"):
                self._send(200, {"status": "ok", "data": [{"id": "fake", "object": "model"}]})
            else:
                self._send(404, {"error": {"message": "not found"}})

        def do_POST(self) -> None:
            body = self._body()
            if self.path == "/_control":
                with state.lock:
                    state.script = list(body.get("script", []))
                    state.probe_script = list(body.get("probe_script", []))
                    state.latency = float(body.get("latency", state.latency))
                    state.reject_json_schema = bool(body.get("reject_json_schema", False))
                    state.log.clear()
                self._send(200, {"ok": True})
                return
            if not self.path.rstrip("/").endswith("/chat/completions"):
                self._send(404, {"error": {"message": "not found"}})
                return
            probe = _is_probe(body)
            with state.lock:
                state.log.append({"body": body, "auth": self.headers.get("Authorization"),
                                  "at": time.time(), "probe": probe})
                steps = state.probe_script if probe else state.script
                step = steps.pop(0) if steps else {}
                latency, reject = state.latency, state.reject_json_schema
            time.sleep(latency + float(step.get("sleep", 0)))
            rf = (body.get("response_format") or {}).get("type")
            if reject and rf == "json_schema":
                self._send(500, {"error": {"message": "response_format json_schema is not "
                                                      "supported", "type": "server_error"}})
            elif step.get("status"):
                hdrs = {}
                if "retry_after" in step:
                    hdrs["Retry-After"] = str(step["retry_after"])
                msg = "scripted failure"
                if step.get("echo_auth"):  # as servers that quote the rejected key do
                    msg += f" (Authorization: {self.headers.get('Authorization')})"
                self._send(int(step["status"]), {"error": {"message": msg}}, hdrs)
            elif "answer" in step:
                self._send(200, _completion(body, json.dumps(step["answer"],
                                                             ensure_ascii=False)))
            elif step.get("broken"):
                self._send(200, _completion(body, '{"entities": [{"text": "pneu'))
            elif probe:
                self._send(200, _completion(body, '{"ok": true}'))
            else:
                self._send(200, _completion(body, json.dumps(answer(body), ensure_ascii=False)))

    return Handler


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128


def serve(port: int, latency: float = 0.0, reject_json_schema: bool = False,
          host: str = "127.0.0.1") -> None:
    state = State(latency, reject_json_schema)
    server = _Server((host, port), make_handler(state))
    print(f"fake OpenAI-compatible server on http://{host}:{server.server_port}/v1",
          flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--latency", type=float, default=0.0)
    ap.add_argument("--reject-json-schema", action="store_true")
    a = ap.parse_args(argv)
    serve(a.port, a.latency, a.reject_json_schema, a.host)
    return 0


if __name__ == "__main__":
    sys.exit(main())

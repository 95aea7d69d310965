"""The silver job against the fault-injecting fake server (a separate process)."""

import json
import logging
from pathlib import Path

import pytest

from annotator.jobs import drive
from annotator.llm.client import AuthError
from annotator.llm.fake_server import INVENTED
from annotator.llm.request_record import calls_with_bodies
from annotator.llm.silver import silver_job

FAST = {"model": "fake", "schema": "finemed-fr", "retry_base_delay": 0.01}


def run(store, url, **kw):
    return drive(silver_job(store, base_url=url, **(FAST | kw)))


def test_two_passes_grounded_audited_and_rerun_makes_no_call(store_any, fake_server):
    store = store_any
    res = run(store, fake_server.url)
    assert (res.done, res.failed, res.total) == (4, 0, 4)
    assert res.hallucinations == 4  # one invented entity per document in pass 1
    log = fake_server.log()
    assert len(log) == 8 and res.calls == 8
    for doc in store.iter_documents():
        calls = calls_with_bodies(store, doc_id=doc.id)
        assert [c["pass_no"] for c in calls] == [1, 2]
        p1_answer = json.loads(calls[0]["response"]["choices"][0]["message"]["content"])
        p2_prompt = calls[1]["request"]["body"]["messages"][1]["content"]
        assert json.dumps(p1_answer, ensure_ascii=False) in p2_prompt  # pass 2 saw pass 1
        assert calls[0]["hallucinations"][0]["text"] == INVENTED
        assert all(c["usage"]["total_tokens"] > 0 for c in calls)
        assert "Authorization" not in json.dumps(calls, default=str)
        for sp in doc.spans:
            assert sp.status == "proposed" and sp.source in ("llm_pass1", "llm_pass2")
            assert doc.text[sp.start:sp.end] != INVENTED
            assert sp.source_version == res.source_version
            assert "finemed-fr@1.0" in sp.source_version and "extract/v1" in sp.source_version
    assert {d["status"] for i in store.document_ids() for d in store.doc_runs(i)} == {"done"}
    stats = store.runs("silver")[-1]["stats"]
    assert stats["hallucinations"] == 4 and stats["hallucination_examples"][0]["text"] == INVENTED

    again = run(store, fake_server.url)
    assert (again.skipped, again.done, again.calls) == (4, 0, 0)
    assert len(fake_server.log()) == 8  # zero new HTTP calls


def test_label_order_recorded_and_differs_across_documents(store, fake_server):
    run(store, fake_server.url, passes=1, seed=7)
    orders = [tuple(c["request"]["label_order"]) for c in calls_with_bodies(store)]
    assert len(set(orders)) > 1
    for c in calls_with_bodies(store):  # the order used is the one in the prompt
        prompt = c["request"]["body"]["messages"][1]["content"]
        pos = [prompt.index(f"- {k}:") for k in c["request"]["label_order"]]
        assert pos == sorted(pos)


def test_500_then_success_and_429_retry_after_honoured(store, fake_server):
    fake_server.control(script=[{"status": 500}, {"status": 429, "retry_after": 1}])
    res = run(store, fake_server.url, concurrency=1, doc_ids=[1], passes=1)
    assert (res.done, res.failed) == (1, 0)
    log = fake_server.log()
    assert len(log) == 3
    assert log[2]["at"] - log[1]["at"] >= 0.95  # waited Retry-After (backoff base is 0.01 s)
    # the endpoint answered the JSON-mode probe in json_schema mode: the call's 500 is a
    # fault, retried in the same mode (a call never switches mode)
    assert [r["body"]["response_format"]["type"] for r in log] == ["json_schema"] * 3
    assert res.json_mode == "json_schema" and res.json_mode_probe == ["json_schema: answered"]
    call = calls_with_bodies(store, doc_id=1)[0]
    assert call["request"]["attempts"] == 3 and call["request"]["mode"] == "json_schema"
    assert "HTTP 500" in call["request"]["retried_errors"][0]
    assert "HTTP 429" in call["request"]["retried_errors"][1]


def test_broken_json_retried_then_failed_with_reason(store, fake_server):
    fake_server.control(script=[{"broken": True}] * 3)
    res = run(store, fake_server.url, doc_ids=[1], max_retries=2, passes=1)
    assert (res.done, res.failed) == (0, 1)
    assert len(fake_server.log()) == 3
    assert "not JSON" in res.failures[1] and "after 3 attempts" in res.failures[1]
    assert store.get_document(1).spans == []  # nothing stored for a failed document
    (mark,) = store.doc_runs(1)
    assert mark["status"] == "failed" and "not JSON" in mark["error"]
    assert calls_with_bodies(store, doc_id=1)[0]["error"].startswith("invalid answer")
    fake_server.control()
    again = run(store, fake_server.url, doc_ids=[1, 2], max_retries=2, passes=1)
    assert (again.done, again.skipped) == (2, 0)  # the failed document is tried again
    assert store.get_document(1).spans
    assert run(store, fake_server.url, doc_ids=[1, 2], passes=1).skipped == 2


def test_timeout_is_retried(store, fake_server):
    fake_server.control(script=[{"sleep": 2.5}])
    res = run(store, fake_server.url, doc_ids=[1], passes=1, timeout=1)
    assert (res.done, res.failed) == (1, 0)
    errs = calls_with_bodies(store, doc_id=1)[0]["request"]["retried_errors"]
    assert errs == ["request timed out"]


def test_json_schema_rejected_falls_back_to_json_mode_and_remembers(store, fake_server):
    fake_server.control(reject_json_schema=True)
    res = run(store, fake_server.url, concurrency=1)
    assert (res.done, res.failed) == (4, 0)
    # the probe: json_schema refused, JSON mode answered, json_schema refused again
    probes = [r["body"]["response_format"]["type"] for r in fake_server.log(probes=True)
              if r["probe"]]
    assert probes == ["json_schema", "json_object", "json_schema"]
    assert res.json_mode == "json_object"
    assert [p.split(":")[0] for p in res.json_mode_probe] == probes
    assert "refused (HTTP 500" in res.json_mode_probe[0]
    # then every call of the run goes out in JSON mode, none refused first
    kinds = [r["body"]["response_format"]["type"] for r in fake_server.log()]
    assert kinds == ["json_object"] * 8
    for c in calls_with_bodies(store):
        assert c["request"]["mode"] == "json_object"
        assert '"enum"' in c["request"]["body"]["messages"][1]["content"]  # schema in prompt
    stats = store.runs("silver")[-1]["stats"]  # the verdict is in the run's record
    assert stats["json_mode"] == "json_object" and len(stats["json_mode_probe"]) == 3


def test_a_transient_error_on_the_probe_is_not_a_verdict(store, fake_server):
    # a 500 on the first json_schema probe, then answers: the second json_schema try settles it
    fake_server.control(probe_script=[{"status": 500}])
    res = run(store, fake_server.url, doc_ids=[1], passes=1)
    assert res.json_mode == "json_schema" and res.done == 1
    assert [p.split(" ")[1] for p in res.json_mode_probe] == ["refused", "answered",
                                                               "answered"]
    # a 429 on the probe is waited out (Retry-After) and the probe asked again
    fake_server.control(probe_script=[{"status": 429, "retry_after": 1}])
    res = run(store, fake_server.url, doc_ids=[2], passes=1)
    probes = [r for r in fake_server.log(probes=True) if r["probe"]]
    assert len(probes) == 2 and probes[1]["at"] - probes[0]["at"] >= 0.95
    assert res.json_mode_probe[-1] == "json_schema: answered" and res.done == 1
    assert res.json_mode_probe[0].startswith("json_schema: retried (HTTP 429")


def test_refused_credentials_on_the_probe_stop_the_run_before_any_call(store, fake_server):
    fake_server.control(probe_script=[{"status": 401}])
    with pytest.raises(AuthError, match="refused the credentials"):
        run(store, fake_server.url, doc_ids=[1, 2], passes=1)
    assert fake_server.log() == []  # no document was sent
    assert store.runs("silver")[-1]["status"] == "failed"
    assert store.doc_runs(1) == []  # and none is marked: a rerun does them


def test_json_mode_is_learnt_per_run_not_per_process(store, fake_server):
    fake_server.control(reject_json_schema=True)
    assert run(store, fake_server.url, doc_ids=[1], passes=1).done == 1
    assert fake_server.log()[-1]["body"]["response_format"]["type"] == "json_object"
    fake_server.control()  # the same endpoint now answers json_schema (a server upgrade)
    assert run(store, fake_server.url, doc_ids=[2], passes=1).done == 1
    assert [r["body"]["response_format"]["type"] for r in fake_server.log()] == ["json_schema"]
    assert calls_with_bodies(store, doc_id=2)[0]["request"]["mode"] == "json_schema"


def test_dead_endpoint_stops_the_run_before_any_document(store):
    """The probe gets no answer: the run stops with the reason, before any document is sent
    or marked (the same command, once the endpoint is up, does them all)."""
    from netutil import free_port

    from annotator.llm.client import ConnectionFailedError

    url = f"http://127.0.0.1:{free_port()}/v1"
    with pytest.raises(ConnectionFailedError, match=r"cannot reach .*no document was sent"):
        run(store, url, max_retries=1, timeout=2)
    assert store.stats()["spans"] == 0
    assert all(store.doc_runs(i) == [] for i in store.document_ids())
    (r,) = store.runs("silver")
    assert r["status"] == "failed" and r["stats"]["json_mode"] is None
    assert [line.split(" ")[1] for line in r["stats"]["json_mode_probe"]] == ["retried",
                                                                              "connection"]


def test_a_slow_probe_is_waited_for(store, fake_server, monkeypatch):
    """The probe is bounded by the request timeout and retries, not by the loop thread's
    default wait for a call (made shorter here than the probe's answer)."""
    from annotator.llm import silver

    monkeypatch.setattr(silver._LoopThread.call, "__defaults__", (0.5,))
    fake_server.control(probe_script=[{"sleep": 1.5}])
    res = run(store, fake_server.url, doc_ids=[1], passes=1, timeout=10)
    assert res.done == 1 and res.json_mode_probe == ["json_schema: answered"]


def test_auth_error_stops_the_job(store, fake_server):
    fake_server.control(script=[{"status": 401}] * 20)
    with pytest.raises(AuthError, match="credentials"):
        run(store, fake_server.url, concurrency=1)
    assert store.runs("silver")[-1]["status"] == "failed"


def test_cancel_keeps_finished_documents(store, fake_server):
    fake_server.control(latency=0.3)
    job = silver_job(store, base_url=fake_server.url, concurrency=1, passes=1, **FAST)
    next(job)  # start
    p = next(job)  # first document finished and committed
    assert p.done == 1
    job.close()
    run_row = store.runs("silver")[-1]
    assert run_row["status"] == "cancelled"
    done = store.done_doc_ids("silver", run_row["run_key"])
    assert 1 <= len(done) < 4
    res = run(store, fake_server.url, passes=1)
    assert res.skipped == len(done) and res.done == 4 - len(done)


def test_ctrl_c_stops_requests_in_flight_at_once(tmp_path, fr_docs, fake_server):
    """SIGINT reaches a CLI run whose requests are all in flight (the job waits on them): it
    stops within a fraction of the server's latency, as cancelled, having stored nothing."""
    import signal
    import subprocess
    import sys
    import time

    from db import Store

    latency = 8.0
    fake_server.control(latency=latency)
    db = tmp_path / "sigint.db"
    with Store(str(db)) as st:
        st.import_documents(fr_docs)
    proc = subprocess.Popen([sys.executable, "-m", "annotator", "--db", str(db), "silver",
                             "--base-url", fake_server.url, "--model", "fake", "--schema",
                             "finemed-fr", "--passes", "1"],
                            cwd=Path(__file__).resolve().parents[2],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while len(fake_server.log()) < len(fr_docs) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(fake_server.log()) == len(fr_docs)  # every document's request is in flight
        t0 = time.monotonic()
        proc.send_signal(signal.SIGINT)  # our child, by its pid
        rc = proc.wait(timeout=latency)
        took = time.monotonic() - t0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    err = proc.stderr.read().decode()
    assert rc == 130, err
    assert took < latency / 2, f"{took:.1f} s after SIGINT"
    with Store(str(db)) as st:
        (row,) = st.runs("silver")
        assert row["status"] == "cancelled"
        assert st.done_doc_ids("silver", row["run_key"]) == set()


def test_api_key_sent_but_never_stored_or_logged(tmp_path, fr_docs, fake_server, caplog,
                                                 capsys, monkeypatch):
    from annotator.cli import main

    secret = "sk-test-Zq8SECRET0123456789"
    db = tmp_path / "key.db"
    monkeypatch.setenv("MY_LLM_KEY", secret)
    caplog.set_level(logging.DEBUG)
    from db import Store

    with Store(str(db)) as st:
        st.import_documents(fr_docs[:2])
    # error paths too, one of them a server that quotes the key back in its error body
    fake_server.control(script=[{"status": 500}, {"status": 500, "echo_auth": True}])
    rc = main(["--db", str(db), "-v", "silver", "--base-url", fake_server.url, "--model", "fake",
               "--schema", "finemed-fr", "--api-key-env", "MY_LLM_KEY", "--json"])
    out = capsys.readouterr()
    assert rc == 0, out.err
    assert json.loads(out.out)["done"] == 2
    assert {r["auth"] for r in fake_server.log()} == {f"Bearer {secret}"}  # it was used
    for path in tmp_path.iterdir():  # the database file and any journal
        assert secret.encode() not in path.read_bytes()
    with Store(str(db)) as st:  # the retried errors are audited, the quoted key blanked
        retried = json.dumps([c["request"] for c in calls_with_bodies(st)])
    assert "Authorization: Bearer ***" in retried
    assert secret not in caplog.text and secret not in out.out + out.err


def test_error_body_quoting_the_key_is_audited_with_the_key_blanked(store, fake_server):
    """A refused request (HTTP 400: not retried, the document fails) keeps the server's error
    body in the audit; a server that quotes the Authorization header must not put the key in
    the database that way."""
    secret = "sk-test-QUOTED0123456789abcdef"
    # per document: a 400 in json_schema mode is taken for a refusal of the mode and retried
    # in JSON mode, where the second 400 fails the document
    fake_server.control(script=[{"status": 400, "echo_auth": True}] * 8)
    res = run(store, fake_server.url, passes=1, api_key=secret)
    assert res.failed == 4 and res.done == 0
    assert {r["auth"] for r in fake_server.log()} == {f"Bearer {secret}"}
    failed = [c for c in calls_with_bodies(store) if c["error"]]
    assert len(failed) == 4
    for c in failed:
        assert "Authorization: Bearer ***" in c["response"]["error"]["message"]
    assert secret.encode() not in Path(store.url.removeprefix("sqlite:///")).read_bytes()

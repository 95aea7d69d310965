"""Batch files for offline engines (issue 14 item 3): a round trip through request lines, an
engine and output lines stores what the online path stores for the same answers.

The engine here is ``run_batch`` below, in the role of vLLM's ``run_batch``: it POSTs each
request line's body to the fake OpenAI-compatible server (a separate process, the test
double) and writes the output lines in vLLM's shape. Failed lines are written as an engine
writes them (HTTP 500 with an error body, or an ``error`` field).
"""

from __future__ import annotations

import json
import sqlite3
import urllib.request
from pathlib import Path

import pytest

from annotator.cli import main
from annotator.jobs import drive
from annotator.llm.batch import PASS1_KIND, batch_export_job, batch_import_job
from annotator.llm.silver import KIND, silver_job

FAST = {"model": "fake", "schema": "finemed-fr"}


def run_batch(server, src: Path, dst: Path, *, fail: dict[str, str] | None = None,
              drop: set[str] = frozenset()) -> list[dict]:
    """Answer every request line of ``src`` into ``dst``; ``fail``: custom_id -> message of
    lines that fail, ``drop``: custom_ids left out (an engine that lost them)."""
    out, bodies = [], []
    for i, line in enumerate(src.read_text(encoding="utf-8").splitlines()):
        req = json.loads(line)
        assert req["method"] == "POST" and req["url"] == "/v1/chat/completions"
        cid = req["custom_id"]
        bodies.append(req["body"])
        if cid in drop:
            continue
        if fail and cid in fail:
            out.append({"id": f"batch-{i}", "custom_id": cid, "response": {
                "status_code": 500, "request_id": f"req-{i}",
                "body": {"error": {"message": fail[cid]}}}, "error": None})
            continue
        http = urllib.request.Request(server.url + "/chat/completions",
                                      data=json.dumps(req["body"]).encode(),
                                      headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(http, timeout=10) as r:
            body = json.loads(r.read())
        out.append({"id": f"batch-{i}", "custom_id": cid, "response": {
            "status_code": 200, "request_id": f"req-{i}", "body": body}, "error": None})
    dst.write_text("".join(json.dumps(o, ensure_ascii=False) + "\n" for o in out),
                   encoding="utf-8")
    return bodies


def _spans(store) -> dict[str, list[tuple]]:
    return {d.name: sorted((s.start, s.end, s.label, s.source, s.source_version, s.status,
                            s.score, json.dumps(s.meta, sort_keys=True)) for s in d.spans)
            for d in store.iter_documents()}


def _round(store, server, tmp_path, pass_no, tag, **kw):
    req, res = tmp_path / f"{tag}-p{pass_no}.jsonl", tmp_path / f"{tag}-p{pass_no}.out.jsonl"
    exp = drive(batch_export_job(store, pass_no=pass_no, out=req, **(FAST | kw)))
    bodies = run_batch(server, req, res)
    imp = drive(batch_import_job(store, paths=[res]))
    return exp, imp, bodies


@pytest.fixture
def online(tmp_path, fr_docs):
    from db import Store

    st = Store(str(tmp_path / "online.db"))
    st.import_documents(fr_docs)
    yield st
    st.close()


@pytest.mark.parametrize("protocol", ["v1", "finemed"])
def test_batch_round_trip_stores_what_the_online_path_stores(store_any, online, fake_server,
                                                             tmp_path, protocol):
    store = store_any  # the batch run on SQLite and on PostgreSQL, online on SQLite
    res = drive(silver_job(online, base_url=fake_server.url, protocol=protocol, **FAST))
    assert res.done == 4
    online_bodies = [r["body"] for r in fake_server.log()]
    fake_server.control()

    exp1, imp1, bodies1 = _round(store, fake_server, tmp_path, 1, protocol, protocol=protocol)
    assert exp1.run_key == res.run_key  # the same run as online
    assert (exp1.documents, imp1.pass1_done, imp1.done) == (4, 4, 0)
    assert not any(d.spans for d in store.iter_documents())  # documents are written whole
    exp2, imp2, bodies2 = _round(store, fake_server, tmp_path, 2, protocol, protocol=protocol)
    assert (exp2.documents, imp2.done, imp2.failed) == (4, 4, 0)

    key = lambda b: json.dumps(b, sort_keys=True)  # noqa: E731
    assert sorted(map(key, bodies1 + bodies2)) == sorted(map(key, online_bodies))
    assert sum(len(v) for v in _spans(online).values()) > 8  # both passes proposed spans
    assert _spans(store) == _spans(online)
    assert store.done_doc_ids(KIND, res.run_key) == set(store.document_ids())
    assert imp2.hallucinations == res.hallucinations
    # nothing is left to export: a rerun of the online job would make no call either
    again = drive(batch_export_job(store, pass_no=1, out=tmp_path / "again.jsonl",
                                   protocol=protocol, **FAST))
    assert again.documents == 0 and again.skipped == 4


def test_failed_lines_mark_documents_failed_and_a_new_file_finishes_them(store, online,
                                                                        fake_server, tmp_path):
    drive(silver_job(online, base_url=fake_server.url, **FAST))
    fake_server.control()
    req, out = tmp_path / "p1.jsonl", tmp_path / "p1.out.jsonl"
    exp = drive(batch_export_job(store, pass_no=1, out=req, **FAST))
    first = json.loads(req.read_text().splitlines()[0])["custom_id"]
    failed_doc = int(first.split(":")[1])
    run_batch(fake_server, req, out, fail={first: "CUDA out of memory"})
    imp = drive(batch_import_job(store, paths=[out]))
    assert (imp.pass1_done, imp.failed) == (3, 1)
    assert "CUDA out of memory" in imp.failures[failed_doc]
    marks = {r["kind"]: r for r in store.doc_runs(failed_doc)}
    assert marks[KIND]["status"] == "failed" and "HTTP 500" in marks[KIND]["error"]
    assert not store.get_document(failed_doc).spans
    # the same file again changes nothing, failed line included
    again = drive(batch_import_job(store, paths=[out]))
    assert (again.already, again.failed, again.pass1_done) == (4, 0, 0)
    # the failed document is exported again (it is not done), with the others' pass 2
    _round(store, fake_server, tmp_path, 2, "rest")
    retry = drive(batch_export_job(store, pass_no=1, out=tmp_path / "retry.jsonl", **FAST))
    assert retry.documents == 1 and exp.run_key == retry.run_key
    run_batch(fake_server, tmp_path / "retry.jsonl", tmp_path / "retry.out.jsonl")
    assert drive(batch_import_job(store, paths=[tmp_path / "retry.out.jsonl"])).pass1_done == 1
    _, last, _ = _round(store, fake_server, tmp_path, 2, "last")
    assert last.done == 1
    assert _spans(store) == _spans(online)


def _tables(path):
    with sqlite3.connect(path) as c:
        return {t: c.execute(f"SELECT * FROM {t} ORDER BY id").fetchall()
                for t in ("spans", "llm_calls", "doc_runs")}


def test_importing_the_same_file_twice_changes_nothing(store, fake_server, tmp_path):
    _round(store, fake_server, tmp_path, 1, "a")
    _, imp, _ = _round(store, fake_server, tmp_path, 2, "a")
    assert imp.done == 4
    db = store.url.split("///", 1)[1]
    before = _tables(db)
    again = drive(batch_import_job(store, paths=[tmp_path / "a-p2.out.jsonl",
                                                 tmp_path / "a-p1.out.jsonl"]))
    assert (again.already, again.done, again.pass1_done) == (8, 0, 0)
    assert _tables(db) == before


def test_shards_end_between_documents_and_import_together(store, fake_server, tmp_path):
    exp = drive(batch_export_job(store, pass_no=1, out=tmp_path / "req.jsonl", shard_size=1,
                                 **FAST))
    assert [Path(f).name for f in exp.files] == [f"req-{i:05d}.jsonl" for i in range(1, 5)]
    assert not (tmp_path / "req.jsonl").exists()
    assert not list(tmp_path.glob(".*partial*"))
    outs = []
    for f in exp.files:
        outs.append(Path(f).with_suffix(".out"))
        run_batch(fake_server, Path(f), outs[-1])
    assert drive(batch_import_job(store, paths=outs)).pass1_done == 4


def test_missing_lines_leave_the_document_alone(store, fake_server, tmp_path):
    req = tmp_path / "p1.jsonl"
    drive(batch_export_job(store, pass_no=1, out=req, window_tokens=10, passes=1, **FAST))
    lines = [json.loads(line)["custom_id"] for line in req.read_text().splitlines()]
    by_doc: dict[str, list[str]] = {}
    for cid in lines:
        by_doc.setdefault(cid.split(":")[1], []).append(cid)
    doc, ids = next((d, v) for d, v in by_doc.items() if len(v) > 1)  # a windowed document
    run_batch(fake_server, req, tmp_path / "out.jsonl", drop={ids[-1]})
    imp = drive(batch_import_job(store, paths=[tmp_path / "out.jsonl"]))
    assert imp.incomplete == 1 and imp.done == len(by_doc) - 1
    assert not store.get_document(int(doc)).spans
    assert all(r["kind"] != KIND for r in store.doc_runs(int(doc)))


def test_cli_round_trip_and_bad_lines_name_file_and_line(tmp_path, fake_server, capsys,
                                                         fr_docs):
    src = tmp_path / "docs.jsonl"
    src.write_text("".join(json.dumps({"name": d.name, "text": d.text}, ensure_ascii=False)
                           + "\n" for d in fr_docs), encoding="utf-8")
    db = str(tmp_path / "cli.sqlite")
    assert main(["--db", db, "import", "--format", "jsonl", str(src),
                 "--schema", "finemed-fr"]) == 0
    req = tmp_path / "p1.jsonl"
    assert main(["--db", db, "silver-batch", "export", "--pass", "1", "--out", str(req),
                 "--model", "fake", "--passes", "1", "--json"]) == 0
    out = capsys.readouterr().out
    assert json.loads(out[out.index("{"):])["requests"] == 4
    run_batch(fake_server, req, tmp_path / "out.jsonl")
    bad = tmp_path / "bad.jsonl"
    good = (tmp_path / "out.jsonl").read_text(encoding="utf-8").splitlines()
    bad.write_text(good[0] + "\n{not json\n", encoding="utf-8")
    assert main(["--db", db, "silver-batch", "import", str(bad)]) == 2
    assert f"{bad}:2: not a JSON line" in capsys.readouterr().err
    with sqlite3.connect(db) as c:
        assert c.execute("SELECT count(*) FROM llm_calls").fetchone() == (0,)
    assert main(["--db", db, "silver-batch", "import", str(req)]) == 2  # the requests
    assert "this is a request line" in capsys.readouterr().err
    assert main(["--db", db, "silver-batch", "import", str(tmp_path / "out.jsonl")]) == 0
    assert "4 documents stored" in capsys.readouterr().out
    with sqlite3.connect(db) as c:
        assert c.execute("SELECT count(*) FROM doc_runs WHERE kind = ? AND status = 'done'",
                         (KIND,)).fetchone() == (4,)
        assert c.execute("SELECT count(*) FROM doc_runs WHERE kind = ?",
                         (PASS1_KIND,)).fetchone() == (0,)  # one pass: stored at once

"""``annotator review accept|reject|mark``: bulk decisions through the real CLI on SQLite."""

import json
import sqlite3
from pathlib import Path

from annotator.cli import main

DATA = Path(__file__).resolve().parents[1] / "data"
QUAERO = DATA / "quaero" / "corpus" / "train" / "MEDLINE"


def _project(tmp_path, capsys):
    """A project of scored proposals from two sources on three documents."""
    docs = [
        {"name": "a", "text": "fièvre et toux chez la souris", "spans": [
            {"start": 0, "end": 6, "label": "DISO", "source": "lexicon", "status": "proposed",
             "score": 0.9},
            {"start": 10, "end": 14, "label": "DISO", "source": "gliner2", "status": "proposed",
             "score": 0.4},
            {"start": 23, "end": 29, "label": "LIVB", "source": "gliner2", "status": "proposed",
             "score": 0.7}]},
        {"name": "b", "text": "douleur du nerf sciatique", "spans": [
            {"start": 0, "end": 7, "label": "DISO", "source": "lexicon", "status": "proposed",
             "score": 0.2},
            {"start": 11, "end": 25, "label": "ANAT", "source": "gliner2", "status": "proposed"}]},
        {"name": "", "text": "aspirine", "spans": [
            {"start": 0, "end": 8, "label": "CHEM", "source": "lexicon", "status": "proposed",
             "score": 0.95}]},
    ]
    f = tmp_path / "p.jsonl"
    f.write_text("".join(json.dumps(d, ensure_ascii=False) + "\n" for d in docs))
    db = str(tmp_path / "r.sqlite")
    assert main(["--db", db, "import", "--format", "jsonl", str(f), "--schema", "quaero"]) == 0
    capsys.readouterr()
    return db


def _spans(db):
    with sqlite3.connect(db) as c:
        return c.execute("SELECT d.name, s.start, s.label, s.source, s.status, s.annotator "
                         "FROM spans s JOIN documents d ON d.id = s.doc_id "
                         "ORDER BY d.id, s.start").fetchall()


def _events(db):
    with sqlite3.connect(db) as c:
        return c.execute("SELECT action, before, after, annotator FROM span_events "
                         "ORDER BY id").fetchall()


def test_accept_by_source_and_min_score_prints_count_and_records_events(tmp_path, capsys):
    db = _project(tmp_path, capsys)
    assert main(["--db", db, "review", "accept", "--source", "lexicon", "--min-score", "0.5",
                 "--annotator", "alice"]) == 0
    out = capsys.readouterr().out.strip()
    assert out.startswith("accepted 2 proposals on 2 documents (as alice); undo with: "
                          "annotator review undo ")
    spans = _spans(db)
    accepted = [(s[0], s[1]) for s in spans if s[4] == "accepted"]
    assert accepted == [("a", 0), ("", 0)]  # 0.9 and 0.95; the 0.2 lexicon one stays
    assert all(s[5] == "alice" for s in spans if s[4] == "accepted")
    ev = _events(db)
    assert len(ev) == 2 and {e[0] for e in ev} == {"update"}
    before, after = json.loads(ev[0][1]), json.loads(ev[0][2])
    assert before["status"] == "proposed" and after["status"] == "accepted"
    assert ev[0][3] == "alice"
    with sqlite3.connect(db) as c:
        statuses = dict(c.execute("SELECT name, review_status FROM documents"))
    assert statuses == {"a": "in_progress", "b": "todo", "": "in_progress"}


def test_reject_by_label_doc_and_max_score_with_global_annotator(tmp_path, capsys):
    db = _project(tmp_path, capsys)
    assert main(["--db", db, "--annotator", "bob", "review", "reject", "--label", "DISO",
                 "--max-score", "0.5", "--doc", "a", "--doc", "b", "--json"]) == 0
    res = json.loads(capsys.readouterr().out)
    assert res["spans"] == 2 and res["documents"] == 2 and res["annotator"] == "bob"
    assert res["by_label"] == {"DISO": 2}
    rejected = [(s[0], s[1], s[5]) for s in _spans(db) if s[4] == "rejected"]
    assert rejected == [("a", 10, "bob"), ("b", 0, "bob")]


def test_unscored_proposals_do_not_match_a_score_bound(tmp_path, capsys):
    db = _project(tmp_path, capsys)
    assert main(["--db", db, "review", "accept", "--doc", "b", "--min-score", "0"]) == 0
    # b holds a 0.2 lexicon span and an unscored gliner2 span: only the scored one matches
    assert [s[3] for s in _spans(db) if s[4] == "accepted"] == ["lexicon"]


def test_without_filters_every_proposal_of_every_document_is_decided(tmp_path, capsys):
    db = _project(tmp_path, capsys)
    assert main(["--db", db, "review", "accept"]) == 0
    assert "accepted 6 proposals on 3 documents" in capsys.readouterr().out
    assert {s[4] for s in _spans(db)} == {"accepted"}
    # decided spans are not decided again
    assert main(["--db", db, "review", "reject"]) == 0
    assert "rejected 0 proposals on 0 documents" in capsys.readouterr().out
    assert {s[4] for s in _spans(db)} == {"accepted"}


def test_unknown_document_or_label_is_refused_and_nothing_changes(tmp_path, capsys):
    db = _project(tmp_path, capsys)
    before = _spans(db)
    assert main(["--db", db, "review", "accept", "--doc", "a", "--doc", "nope"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "'nope'" in err and "'a'" not in err
    assert main(["--db", db, "review", "accept", "--label", "DISEASE"]) == 2
    assert "DISEASE" in capsys.readouterr().err
    assert main(["--db", db, "review", "accept", "--min-score", "0.8",
                 "--max-score", "0.2"]) == 2
    assert "--min-score" in capsys.readouterr().err
    assert main(["--db", db, "review", "mark", "reviewed", "a", "zzz"]) == 2
    assert "'zzz'" in capsys.readouterr().err
    assert _spans(db) == before and _events(db) == []
    with sqlite3.connect(db) as c:
        assert {r[0] for r in c.execute("SELECT review_status FROM documents")} == {"todo"}


def test_mark_sets_review_status_by_name_and_unnamed_as_doc_id(tmp_path, capsys):
    db = _project(tmp_path, capsys)
    with sqlite3.connect(db) as c:
        unnamed = c.execute("SELECT id FROM documents WHERE name = ''").fetchone()[0]
    assert main(["--db", db, "review", "mark", "reviewed", "a", f"doc{unnamed}"]) == 0
    assert "marked 2 documents reviewed (2 changed" in capsys.readouterr().out
    assert main(["--db", db, "review", "mark", "skipped", "b", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["changed"] == 1
    with sqlite3.connect(db) as c:
        statuses = dict(c.execute("SELECT name, review_status FROM documents"))
    assert statuses == {"a": "reviewed", "b": "skipped", "": "reviewed"}


def test_bulk_accept_on_quaero_by_document_names_as_jsonl_exports_them(tmp_path, capsys):
    db = str(tmp_path / "q.sqlite")
    assert main(["--db", db, "import", "--format", "brat", str(QUAERO), "--schema", "quaero",
                 "--as-proposed"]) == 0
    out = tmp_path / "all.jsonl"
    assert main(["--db", db, "export", "--format", "jsonl", "--out", str(out)]) == 0
    capsys.readouterr()
    recs = [json.loads(line) for line in out.read_text().splitlines()]
    first, second = recs[0], recs[1]
    assert main(["--db", db, "review", "accept", "--doc", first["name"],
                 "--doc", second["name"], "--json"]) == 0
    res = json.loads(capsys.readouterr().out)
    assert res["spans"] == len(first["spans"]) + len(second["spans"])
    with sqlite3.connect(db) as c:
        names = {r[0] for r in c.execute(
            "SELECT DISTINCT d.name FROM spans s JOIN documents d ON d.id = s.doc_id "
            "WHERE s.status = 'accepted'")}
    assert names == {first["name"], second["name"]}


def _statuses(db):
    with sqlite3.connect(db) as c:
        return {"spans": c.execute("SELECT id, status, annotator FROM spans ORDER BY id")
                .fetchall(),
                "docs": c.execute("SELECT id, review_status FROM documents ORDER BY id")
                .fetchall()}


def test_undo_puts_back_spans_and_documents_and_is_recorded(tmp_path, capsys):
    db = _project(tmp_path, capsys)
    before = _statuses(db)
    assert main(["--db", db, "review", "accept", "--source", "gliner2", "--annotator", "bob",
                 "--json"]) == 0
    batch = json.loads(capsys.readouterr().out)["batch"]
    assert _statuses(db) != before
    assert main(["--db", db, "review", "history", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [(b["id"], b["kind"], b["annotator"]) for b in listed] == [
        (batch, "accepted", "bob")]
    assert main(["--db", db, "review", "undo", batch[:8], "--annotator", "carol"]) == 0
    assert capsys.readouterr().out.startswith(
        f"undid {batch[:8]}: 3 spans and 2 documents put back (as carol)")
    assert _statuses(db) == before  # statuses, annotators and document statuses
    with sqlite3.connect(db) as c:  # the undo is in the history too, as carol
        rows = c.execute("SELECT s.annotator, b.kind FROM span_events s JOIN "
                         "decision_batches b ON b.id = s.batch ORDER BY s.id").fetchall()
    assert rows == [("bob", "accepted")] * 3 + [("carol", "undo")] * 3
    assert main(["--db", db, "review", "undo", batch]) == 2  # not twice
    assert "already undone" in capsys.readouterr().err


def test_undo_leaves_what_changed_after_the_decision(tmp_path, capsys):
    db = _project(tmp_path, capsys)
    assert main(["--db", db, "review", "accept", "--source", "lexicon"]) == 0
    assert main(["--db", db, "review", "reject", "--source", "gliner2"]) == 0
    assert main(["--db", db, "review", "mark", "reviewed", "a", "b"]) == 0
    with sqlite3.connect(db) as c:  # a person relabels one of the accepted spans
        c.execute("UPDATE spans SET label = 'CHEM' WHERE source = 'lexicon' AND start = 0 "
                  "AND doc_id = (SELECT id FROM documents WHERE name = 'b')")
    capsys.readouterr()
    assert main(["--db", db, "review", "undo"]) == 0  # the newest: the mark
    assert "0 spans and 2 documents put back" in capsys.readouterr().out
    assert main(["--db", db, "review", "history", "--json"]) == 0
    lexicon = next(b for b in json.loads(capsys.readouterr().out) if b["kind"] == "accepted")
    assert main(["--db", db, "review", "undo", lexicon["id"]]) == 0
    out = capsys.readouterr().out
    assert "2 spans" in out and "1 changed since, left as they are" in out
    spans = _spans(db)
    assert [(s[0], s[2], s[4]) for s in spans if s[3] == "lexicon"] == [
        ("a", "DISO", "proposed"), ("b", "CHEM", "accepted"), ("", "CHEM", "proposed")]
    assert {s[4] for s in spans if s[3] == "gliner2"} == {"rejected"}  # not undone


def test_undo_without_decisions_says_so(tmp_path, capsys):
    db = _project(tmp_path, capsys)
    assert main(["--db", db, "review", "undo"]) == 2
    assert "no bulk decision to undo" in capsys.readouterr().err
    assert main(["--db", db, "review", "undo", "ffff"]) == 2
    assert "no bulk decision 'ffff'" in capsys.readouterr().err


def test_export_dry_run_counts_the_gold_and_writes_nothing(tmp_path, capsys):
    db = _project(tmp_path, capsys)
    assert main(["--db", db, "review", "accept", "--source", "lexicon"]) == 0
    assert main(["--db", db, "review", "mark", "reviewed", "a"]) == 0
    capsys.readouterr()
    assert main(["--db", db, "export", "--format", "conll", "--dry-run", "--json"]) == 0
    preview = json.loads(capsys.readouterr().out)
    assert (preview["documents"], preview["spans"]) == (1, 1)  # a's accepted lexicon span
    assert preview["by_label"] == {"DISO": 1} and preview["review_status"] == ["reviewed"]
    assert main(["--db", db, "export", "--format", "conll", "--dry-run", "--review-status",
                 "all", "--status", "accepted,proposed"]) == 0
    out = capsys.readouterr().out
    assert "Takes every document, spans accepted or proposed." in out
    assert "3 documents, 6 spans" in out
    assert not [p for p in tmp_path.iterdir() if p.suffix == ".conll"]
    assert main(["--db", db, "export", "--format", "conll"]) == 2
    assert "export needs --out" in capsys.readouterr().err

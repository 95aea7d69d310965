"""The loop from suggestion to gold to model on QUAERO, through the real CLI.

The QUAERO EMEA leaflet 425_6 (GFDL, see tests/data/LICENSES.md) is cut into its lines, each a
document whose QUAERO entities are imported as proposals: a curator bulk-accepts most of them
and marks those documents reviewed, rejects some proposals elsewhere; the default export is
exactly the reviewed documents without a proposal; a lexicon rerun adds nothing to them and
never proposes a rejected span again; training checks its prompt style and threshold on the
held-out split, and the saved model, pre-labelling with what it recorded, beats the base there.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from annotator.cli import main
from annotator.evaluate import evaluate
from annotator.formats.base import Errors
from annotator.formats.brat import read
from annotator.model import Span
from annotator.split import assign_splits, parse_split

EMEA = Path(__file__).resolve().parents[1] / "data" / "quaero" / "corpus" / "train" / "EMEA"
SPLIT = "train=0.6,test=0.4"


def _lines_as_jsonl(path: Path) -> list[dict]:
    """Each non-empty line of the leaflet as a document, with the entities inside it."""
    doc = next(iter(read(EMEA, Errors()))).doc
    recs, pos = [], 0
    for i, line in enumerate(doc.text.split("\n")):
        start, end = pos, pos + len(line)
        pos = end + 1
        spans = [{"start": s.start - start, "end": s.end - start, "label": s.label}
                 for s in doc.spans if not s.fragments and start <= s.start and s.end <= end]
        if len(line.split()) >= 3 and spans:
            recs.append({"name": f"425_6/line{i:03d}", "text": line, "spans": spans})
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in recs), "utf-8")
    return recs


def _run(args, capsys):
    rc = main(args)
    out = capsys.readouterr()
    assert rc == 0, out.err
    return out.out


def _rows(db, sql, *params):
    with sqlite3.connect(db) as c:
        return c.execute(sql, params).fetchall()


@pytest.mark.slow
def test_suggestion_to_gold_to_model_on_quaero(tmp_path, capsys, tiny_gliner2_bert):
    recs = _lines_as_jsonl(tmp_path / "emea.jsonl")
    assert len(recs) >= 20
    db = str(tmp_path / "loop.sqlite")
    base = ["--db", db, "--annotator", "curator"]
    _run([*base, "import", "--format", "jsonl", str(tmp_path / "emea.jsonl"),
          "--schema", "quaero", "--as-proposed"], capsys)
    names = [r["name"] for r in recs]
    reviewed = names[:-4]

    # the curator accepts every proposal of most documents and marks them reviewed
    out = _run([*base, "review", "accept", *[a for n in reviewed for a in ("--doc", n)],
                "--json"], capsys)
    assert json.loads(out)["spans"] == sum(len(r["spans"]) for r in recs[:-4])
    _run([*base, "review", "mark", "reviewed", *reviewed], capsys)
    # and rejects, on a document still in progress, the proposals whose string the lexicon
    # knows from the reviewed documents (the lexicon would propose them again)
    accepted = {(r["text"][s["start"]:s["end"]], s["label"]) for r in recs[:-4]
                for s in r["spans"]}
    target = next(r for r in recs[-4:]
                  if any((r["text"][s["start"]:s["end"]], s["label"]) in accepted
                         for s in r["spans"]))
    known = sorted({s["label"] for s in target["spans"]
                    if (target["text"][s["start"]:s["end"]], s["label"]) in accepted})
    _run([*base, "review", "reject", "--doc", target["name"], "--label", ",".join(known)],
         capsys)
    rejected = set(_rows(db, "SELECT s.label, s.start, s.\"end\" FROM spans s JOIN documents d "
                             "ON d.id = s.doc_id WHERE d.name = ? AND s.status = 'rejected'",
                         target["name"]))
    assert rejected

    # the default export is the gold: the reviewed documents, accepted spans only
    gold_file = tmp_path / "gold.jsonl"
    _run([*base, "export", "--format", "gliner2", "--out", str(gold_file)], capsys)
    exported = [json.loads(x) for x in gold_file.read_text("utf-8").splitlines()]
    assert sorted(r["input"] for r in exported) == sorted(r["text"] for r in recs[:-4])
    n_exported = sum(len(v) for r in exported for v in r["output"]["entities"].values())
    assert n_exported == sum(len(r["spans"]) for r in recs[:-4])

    # a lexicon rerun adds nothing to reviewed documents and never re-proposes a rejection
    reviewed_before = _rows(db, "SELECT s.id, s.label, s.start, s.status FROM spans s JOIN "
                                "documents d ON d.id = s.doc_id WHERE d.review_status = "
                                "'reviewed' ORDER BY s.id")
    _run([*base, "prelabel", "--backend", "lexicon"], capsys)
    assert _rows(db, "SELECT s.id, s.label, s.start, s.status FROM spans s JOIN documents d "
                     "ON d.id = s.doc_id WHERE d.review_status = 'reviewed' "
                     "ORDER BY s.id") == reviewed_before
    proposed_again = set(_rows(db, "SELECT s.label, s.start, s.\"end\" FROM spans s JOIN "
                                   "documents d ON d.id = s.doc_id WHERE d.name = ? AND "
                                   "s.status = 'proposed' AND s.source = 'lexicon'",
                               target["name"]))
    assert not proposed_again & rejected

    # train on the gold; the new model is checked on the held-out split
    model_dir = tmp_path / "model"
    out = _run([*base, "train", "--base-model", str(tiny_gliner2_bert), "--out", str(model_dir),
                "--split", SPLIT, "--max-steps", "150", "--lr", "1e-3", "--task-lr", "5e-3",
                "--batch-size", "4", "--max-regression", "1", "--json"], capsys)
    res = json.loads(out)
    before, after = res["base"]["micro"]["f1"], res["new"]["micro"]["f1"]
    cal = res["calibration"]
    with capsys.disabled():
        print(f"\nQUAERO EMEA lines: held-out micro-F1 base {before:.3f} -> new {after:.3f} "
              f"({'with' if cal['descriptions'] else 'without'} descriptions, threshold "
              f"{cal['threshold']:g}) on {res['n_eval']} documents")
    assert res["n_eval"] >= 5 and after > before
    recorded = json.loads((model_dir / "annotator_prelabel.json").read_text("utf-8"))
    assert (recorded["descriptions"], recorded["threshold"]) == (cal["descriptions"],
                                                                 cal["threshold"])

    # pre-labelling with the recorded settings, on the held-out texts in a fresh project,
    # gives the F1 that training reported
    held = _held_out(recs[:-4])
    fresh = tmp_path / "held.jsonl"
    fresh.write_text("".join(json.dumps({"name": r["name"], "text": r["text"]},
                                        ensure_ascii=False) + "\n" for r in held), "utf-8")
    db2 = str(tmp_path / "held.sqlite")
    _run(["--db", db2, "import", "--format", "jsonl", str(fresh), "--schema", "quaero"], capsys)
    _copy_schema(db, db2)
    out = _run(["--db", db2, "prelabel", "--model", str(model_dir), "--json"], capsys)
    totals = json.loads(out)
    assert f"threshold={cal['threshold']:g};" in totals["source_version"]
    pred = {}
    for name, label, start, end in _rows(db2, "SELECT d.name, s.label, s.start, s.\"end\" "
                                              "FROM spans s JOIN documents d ON "
                                              "d.id = s.doc_id"):
        pred.setdefault(name, []).append(Span(start, end, label, source="gliner2",
                                              status="proposed"))
    gold = {r["name"]: [Span(s["start"], s["end"], s["label"]) for s in r["spans"]]
            for r in held}
    rep = evaluate(gold, {n: pred.get(n, []) for n in gold}, labels=None)
    assert round(rep.micro.f1, 4) == round(after, 4)


def _held_out(recs: list[dict]) -> list[dict]:
    """The documents `train --split SPLIT` holds out (same deterministic assignment)."""
    from annotator.model import content_hash

    names = assign_splits([content_hash(r["text"]) for r in recs], parse_split(SPLIT), 42)
    return [r for r, n in zip(recs, names) if n == "test"]


def _copy_schema(src_db: str, dst_db: str) -> None:
    """Give the fresh project the same schema (descriptions included) as the trained one."""
    schema = _rows(src_db, "SELECT schema FROM projects WHERE name = 'default'")[0][0]
    with sqlite3.connect(dst_db) as c:
        c.execute("UPDATE projects SET schema = ? WHERE name = 'default'", (schema,))

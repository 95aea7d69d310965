"""Import / GLiNER2-export throughput on synthetic documents, against a naive baseline.

    python benchmarks/import_export.py [--docs 100000] [--naive-docs 5000] [--workdir DIR]

Documents are ~1 kB of French-looking words with 10 spans each. Measured in one run:
- import: a native jsonl file through ``annotator.io.import_job`` (parse, label check, one
  transaction), docs/s;
- export: ``annotator.io.export_job`` to GLiNER2 JSONL, docs/s;
- raw baseline: the same document and span rows (prepared in memory beforehand) inserted with
  plain ``sqlite3`` ``executemany`` into a database of the same schema, one transaction, and
  read back with one plain query per table; ``import --format jsonl`` (validation included)
  should stay within 3x of it;
- naive baseline: one ORM object per row (``session.add`` of a DocumentRow and its SpanRows,
  a commit per document) for import, and a query per document for export, on
  ``--naive-docs`` documents (extrapolated rates are printed as such).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import tempfile
import time
from pathlib import Path

import orjson

WORDS = ["patient", "fièvre", "toux", "douleur", "thoracique", "asthme", "insuline", "scanner", "biopsie", "rein", "foie", "cœur", "poumon", "diabète", "hypertension", "paracétamol", "amoxicilline", "examen", "sanguin", "traitement", "depuis", "jours", "avec", "sans", "après", "avant", "dose", "matin", "soir", "semaine", "hospitalisé", "bilan"]
LABELS = ("disease", "drug", "body_part", "medical_procedure", "molecular_marker")


def synth_records(n: int, seed: int = 0):
    rnd = random.Random(seed)
    for i in range(n):
        words = [f"doc{i}"]
        size = len(words[0]) + 1
        while size < 1000:  # running total: linear, not a sum over the words every loop
            w = rnd.choice(WORDS)
            words.append(w)
            size += len(w) + 1
        text = " ".join(words) + "."
        starts, pos = [], 0
        for w in words:
            starts.append((pos, pos + len(w)))
            pos += len(w) + 1
        picks = sorted(rnd.sample(range(1, len(words)), 10))
        spans = [{"start": starts[k][0], "end": starts[k][1], "label": rnd.choice(LABELS)}
                 for k in picks]
        yield {"name": f"doc{i}", "text": text, "spans": spans}


def bench_fast(n: int, work: Path) -> dict:
    from annotator.io import export_job, import_job
    from annotator.jobs import drive
    from db import Store

    src = work / "synth.jsonl"
    with open(src, "wb") as fh:
        fh.writelines(orjson.dumps(rec) + b"\n" for rec in synth_records(n))
    store = Store(str(work / "fast.sqlite"))
    t0 = time.perf_counter()
    summary = drive(import_job(store, fmt="jsonl", path=src, schema="finemed-fr"))
    t_imp = time.perf_counter() - t0
    assert summary.added == n, summary
    t0 = time.perf_counter()
    exp = drive(export_job(store, fmt="gliner2", out=work / "out.jsonl", status="all",
                           review_status="all"))
    t_exp = time.perf_counter() - t0
    assert exp.documents == n and exp.spans == 10 * n, exp
    store.close()
    return {"docs": n, "import_s": t_imp, "export_s": t_exp,
            "import_docs_per_s": n / t_imp, "export_docs_per_s": n / t_exp}


def bench_raw(n: int, work: Path) -> dict:
    """The floor: the rows the import writes, prepared beforehand, inserted with sqlite3
    ``executemany`` (same schema, constraints and indexes, same pragmas, one transaction);
    export = one plain SELECT per table, rows serialised with orjson."""
    import sqlite3
    from datetime import datetime, timezone

    from annotator.model import content_hash
    from db import Store

    path = work / "raw.sqlite"
    store = Store(str(path))  # the same schema, migrations and project row
    with store.transaction():  # a project's row is created by its first write
        pass
    pid = store.project_id
    store.close()
    now = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f")
    doc_rows, span_rows = [], []
    for i, rec in enumerate(synth_records(n), 1):
        doc_rows.append((i, pid, rec["name"], rec["text"], "{}", "todo",
                         content_hash(rec["text"]), len(rec["text"]), None, now, now))
        span_rows.extend((i, sp["start"], sp["end"], sp["label"], "import", "accepted", now, now)
                         for sp in rec["spans"])
    con = sqlite3.connect(path, isolation_level=None)
    con.execute("PRAGMA foreign_keys=ON")
    con.execute("PRAGMA synchronous=NORMAL")
    con.execute("PRAGMA cache_size=-262144")
    t0 = time.perf_counter()
    con.execute("BEGIN")
    con.executemany("INSERT INTO documents (id, project_id, name, text, meta, review_status, "
                    "hash, length, density, created_at, updated_at) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", doc_rows)
    con.executemany('INSERT INTO spans (doc_id, start, "end", label, source, status, '
                    "created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", span_rows)
    con.execute("COMMIT")
    t_imp = time.perf_counter() - t0
    t0 = time.perf_counter()
    by_doc: dict[int, dict[str, list]] = {}
    for doc_id, start, end, label in con.execute(
            'SELECT doc_id, start, "end", label FROM spans ORDER BY doc_id, start'):
        by_doc.setdefault(doc_id, {}).setdefault(label, []).append((start, end))
    with open(work / "raw_out.jsonl", "wb") as fh:
        for doc_id, text in con.execute("SELECT id, text FROM documents ORDER BY id"):
            ents = {lab: [{"text": text[s:e], "start": s, "end": e} for s, e in offs]
                    for lab, offs in by_doc.get(doc_id, {}).items()}
            fh.write(orjson.dumps({"input": text, "output": {"entities": ents}}) + b"\n")
    t_exp = time.perf_counter() - t0
    con.close()
    return {"docs": n, "import_s": t_imp, "export_s": t_exp,
            "import_docs_per_s": n / t_imp, "export_docs_per_s": n / t_exp}


def bench_naive(n: int, work: Path) -> dict:
    """One ORM object per row, a commit per document; a query per document on export."""
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    from annotator.model import content_hash
    from db import Store
    from db.tables import DocumentRow, SpanRow

    store = Store(str(work / "naive.sqlite"))
    with store.transaction():  # a project's row is created by its first write
        pass
    records = list(synth_records(n))
    t0 = time.perf_counter()
    with Session(store.engine) as session:
        for rec in records:
            d = DocumentRow(project_id=store.project_id, name=rec["name"], text=rec["text"],
                            meta={}, review_status="todo", hash=content_hash(rec["text"]),
                            length=len(rec["text"]))
            session.add(d)
            session.flush()
            for sp in rec["spans"]:
                session.add(SpanRow(doc_id=d.id, start=sp["start"], end=sp["end"],
                                    label=sp["label"], source="import", status="accepted"))
            session.commit()
    t_imp = time.perf_counter() - t0
    t0 = time.perf_counter()
    with Session(store.engine) as session, open(work / "naive_out.jsonl", "w") as fh:
        for d in session.scalars(select(DocumentRow).order_by(DocumentRow.id)):
            ents: dict[str, list] = {}
            for sp in session.scalars(select(SpanRow).where(SpanRow.doc_id == d.id)):
                ents.setdefault(sp.label, []).append(
                    {"text": d.text[sp.start:sp.end], "start": sp.start, "end": sp.end})
            fh.write(json.dumps({"input": d.text, "output": {"entities": ents}},
                                ensure_ascii=False) + "\n")
    t_exp = time.perf_counter() - t0
    store.close()
    return {"docs": n, "import_s": t_imp, "export_s": t_exp,
            "import_docs_per_s": n / t_imp, "export_docs_per_s": n / t_exp}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--docs", type=int, default=100_000)
    ap.add_argument("--naive-docs", type=int, default=5_000)
    ap.add_argument("--workdir", default=None, help="kept afterwards if given")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    work = Path(args.workdir) if args.workdir else Path(tempfile.mkdtemp(prefix="annot-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    load_before = os.getloadavg()
    try:
        fast = bench_fast(args.docs, work)
        raw = bench_raw(args.docs, work)
        naive_n = min(args.naive_docs, args.docs)
        naive = bench_naive(naive_n, work)
    finally:
        if not args.workdir:
            shutil.rmtree(work, ignore_errors=True)
    load_after = os.getloadavg()
    res = {"fast": fast, "raw": raw, "naive": naive, "cpus": os.cpu_count(),
           "load_before": load_before, "load_after": load_after,
           "import_speedup": fast["import_docs_per_s"] / naive["import_docs_per_s"],
           "export_speedup": fast["export_docs_per_s"] / naive["export_docs_per_s"],
           "import_vs_raw": fast["import_s"] / raw["import_s"],
           "export_vs_raw": fast["export_s"] / raw["export_s"]}
    if args.json:
        print(json.dumps(res, indent=2))
        return
    extra = (f" (measured on {naive_n} docs; {args.docs} docs extrapolated: "
             f"import {args.docs / naive['import_docs_per_s']:.0f} s, "
             f"export {args.docs / naive['export_docs_per_s']:.0f} s)"
             if naive_n < args.docs else "")
    print(f"documents: {args.docs} (~1 kB, 10 spans each); {os.cpu_count()} CPUs, load average "
          f"{load_before[0]:.2f} before, {load_after[0]:.2f} after")
    print(f"import  : {fast['import_docs_per_s']:10.0f} docs/s ({fast['import_s']:.1f} s)   "
          f"naive {naive['import_docs_per_s']:8.0f} docs/s   x{res['import_speedup']:.1f}"
          f"  [native jsonl, one transaction; target >= x10]")
    print(f"export  : {fast['export_docs_per_s']:10.0f} docs/s ({fast['export_s']:.1f} s)   "
          f"naive {naive['export_docs_per_s']:8.0f} docs/s   x{res['export_speedup']:.1f}"
          f"  [GLiNER2 JSONL; target >= x10 and >= 20000 docs/s]")
    print(f"raw sqlite3: import {raw['import_s']:.2f} s, export {raw['export_s']:.2f} s   "
          f"import x{res['import_vs_raw']:.2f} slower, export x{res['export_vs_raw']:.2f} "
          f"slower  [import target <= x3]")
    print(f"naive baseline: one ORM object per row, commit per document; an ORM query per "
          f"document on export{extra}")


if __name__ == "__main__":
    main()

"""The data command line: import, export, stats, schema."""

import json
from pathlib import Path

from annotator.cli import main

DATA = Path(__file__).resolve().parents[1] / "data"


def test_import_export_stats_schema(tmp_path, capsys):
    db = str(tmp_path / "db.sqlite")
    rc = main(["--db", db, "import", "--format", "brat", str(DATA / "maccrobat"),
               "--schema", "maccrobat"])
    assert rc == 0
    assert "imported 3 documents" in capsys.readouterr().out
    assert main(["--db", db, "stats", "--json"]) == 0
    stats = json.loads(capsys.readouterr().out)
    assert stats["documents"] == 3 and stats["spans_by_source"] == {"import": stats["spans"]}
    out = tmp_path / "out"
    assert main(["--db", db, "export", "--format", "gliner2", "--out", str(out),
                 "--split", "train=0.5,test=0.5", "--descriptions", "--plain-strings",
                 "--review-status", "all"]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["test.jsonl", "train.jsonl"]
    rec = json.loads((out / "train.jsonl").read_text().splitlines()[0])
    assert "entity_descriptions" in rec["output"]
    assert all(isinstance(m, str) for ms in rec["output"]["entities"].values() for m in ms)
    assert main(["schema", "list"]) == 0
    assert "finemed-fr" in capsys.readouterr().out
    assert main(["schema", "show", "quaero"]) == 0
    assert json.loads(capsys.readouterr().out)["name"] == "quaero"


def test_errors_exit_2_with_file_and_line(tmp_path, capsys):
    db = str(tmp_path / "db.sqlite")
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "abc", "spans": [{"start": 0, "end": 2, "label": "zzz"}]}\n')
    assert main(["--db", db, "import", "--format", "jsonl", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and f"{bad}:1" in err and "zzz" in err
    assert main(["--db", db, "import", "--format", "csv", str(DATA / "csv"),
                 "--csv-label-col", "minor_col=MinorChild", "--add-labels"]) == 0
    assert main(["--db", db, "stats"]) == 0
    assert "MinorChild" in capsys.readouterr().out

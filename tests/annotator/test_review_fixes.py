"""Regression tests for the correctness review of the data-guarding paths."""

from __future__ import annotations

import gc

import pytest

from annotator.cli import main
from annotator.errors import AnnotatorError, FormatError
from annotator.jobs import drive
from annotator.model import Document, Span
from db import Store


def _run(argv: list[str], capsys) -> tuple[int, str]:
    rc = main(argv)
    return rc, capsys.readouterr().err


# ---------------------------------------------------------------------- brat .ann encoding
def test_brat_ann_not_utf8_is_a_format_error_naming_the_file(tmp_path):
    from annotator.formats.base import Errors
    from annotator.formats.brat import read

    (tmp_path / "a.txt").write_text("hello world\n", encoding="utf-8")
    (tmp_path / "a.ann").write_bytes(b"T1\tDISO 0 5\th\xe9llo\n")
    errors = Errors()
    assert list(read(tmp_path, errors)) == []
    with pytest.raises(FormatError, match=r"a\.ann: not UTF-8"):
        errors.raise_if_any()


def test_cli_import_brat_ann_not_utf8_exits_2(tmp_path, capsys):
    src = tmp_path / "in"
    src.mkdir()
    (src / "a.txt").write_text("hello world\n", encoding="utf-8")
    (src / "a.ann").write_bytes(b"T1\tDISO 0 5\th\xe9llo\n")
    db = str(tmp_path / "p.sqlite")
    rc, err = _run(["--db", db, "import", "--format", "brat", str(src), "--add-labels"], capsys)
    assert rc == 2
    assert err.startswith("error: ") and "a.ann" in err and "Traceback" not in err
    with Store(db) as store:
        assert store.count_documents() == 0  # nothing committed


def test_cli_import_non_utf8_json_exits_2(tmp_path, capsys):
    bad = tmp_path / "bad.json"
    bad.write_bytes(b"\xff\xfe{}")
    rc, err = _run(["--db", str(tmp_path / "p.sqlite"), "import", "--format", "corona2",
                    str(bad)], capsys)
    assert rc == 2
    assert err.startswith("error: ") and "bad.json" in err and "not UTF-8" in err


# ---------------------------------------------------------------------- unwritable export
@pytest.fixture
def one_doc_db(tmp_path):
    db = str(tmp_path / "p.sqlite")
    with Store(db) as store:
        store.import_documents([Document(text="Patient fébrile.", name="d1")])
    return db


def test_cli_export_to_a_directory_exits_2(tmp_path, one_doc_db, capsys):
    rc, err = _run(["--db", one_doc_db, "export", "--format", "jsonl", "--out",
                    str(tmp_path)], capsys)
    assert rc == 2
    assert err.startswith("error: cannot write") and "Traceback" not in err


def test_cli_export_folder_format_onto_a_file_exits_2(tmp_path, one_doc_db, capsys):
    f = tmp_path / "taken"
    f.write_text("x")
    rc, err = _run(["--db", one_doc_db, "export", "--format", "brat", "--out", str(f)], capsys)
    assert rc == 2
    assert err.startswith("error: cannot write")
    assert f.read_text() == "x"


def test_export_job_raises_annotator_error_and_leaves_gc_alone(tmp_path, one_doc_db):
    """Core jobs switch nothing process-wide: the garbage collector stays on while an import or
    an export runs (other threads, the GUI's, go on allocating) and after one fails."""
    from annotator.io import export_job, import_job

    seen: list[bool] = []
    with Store(one_doc_db) as store:
        drive(export_job(store, fmt="jsonl", out=tmp_path / "all.jsonl"),
              lambda p: seen.append(gc.isenabled()))
        drive(import_job(store, fmt="jsonl", path=tmp_path / "all.jsonl"),
              lambda p: seen.append(gc.isenabled()))
        with pytest.raises(AnnotatorError, match="cannot write"):
            drive(export_job(store, fmt="jsonl", out=tmp_path))
    assert seen and all(seen) and gc.isenabled()


def test_cli_oserror_during_a_command_is_reported_not_a_traceback(tmp_path, monkeypatch,
                                                                  capsys):
    import annotator.cli.data as data

    def boom(args):
        raise PermissionError(13, "Permission denied", "/some/file")

    monkeypatch.setattr(data, "cmd_stats", boom)
    rc, err = _run(["--db", str(tmp_path / "p.sqlite"), "stats"], capsys)
    assert rc == 2
    assert err.strip() == "error: /some/file: Permission denied"


# ---------------------------------------------------------------------- prelabel Ctrl-C
def test_prelabel_keyboard_interrupt_records_the_run_as_cancelled(tmp_path):
    from annotator.prelabel.base import DocPrediction, Prelabeler
    from annotator.prelabel.job import KIND, prelabel_job

    class Interrupting(Prelabeler):
        source = "lexicon"
        source_version = "test"

        def __init__(self) -> None:
            self.calls = 0

        def predict_docs(self, texts):
            self.calls += 1
            if self.calls == 2:
                raise KeyboardInterrupt
            return [DocPrediction(spans=[Span(0, 3, "x", source="lexicon",
                                              status="proposed")]) for _ in texts]

    with Store(str(tmp_path / "p.sqlite")) as store:
        store.import_documents([Document(text=f"abc {i}", name=f"d{i}") for i in range(3)])
        pl = Interrupting()
        with pytest.raises(KeyboardInterrupt):
            drive(prelabel_job(store, prelabeler=pl, batch_size=1))
        assert store.runs(KIND)[-1]["status"] == "cancelled"
        assert len(store.done_doc_ids(KIND, pl.run_key())) == 1  # the finished doc is kept


# ---------------------------------------------------------------------- interrupted export
def _many_docs_db(tmp_path, n=2500):
    db = str(tmp_path / "many.sqlite")
    with Store(db) as store:
        store.import_documents([Document(text=f"Patient {i} fébrile, toux sèche. " * 30,
                                         name=f"d{i}", spans=[Span(0, 7, "living_beings")])
                                for i in range(n)])
    return db


@pytest.mark.parametrize("fmt, out_name", [("jsonl", "out.jsonl"), ("brat", "out_brat")])
def test_cancelled_export_leaves_no_partial_output_and_the_earlier_export(tmp_path, fmt,
                                                                          out_name):
    from annotator.io import export_job

    db = _many_docs_db(tmp_path)
    out = tmp_path / "exports" / out_name
    with Store(db) as store:
        # an earlier, complete export without the spans: a partial overwrite would show
        drive(export_job(store, fmt=fmt, out=out, source="llm_pass2", review_status="all"))
        before = sorted((p.relative_to(out), p.read_bytes()) for p in out.rglob("*")) \
            if out.is_dir() else out.read_bytes()
        job = export_job(store, fmt=fmt, out=out, review_status="all")
        for p in job:
            if 0 < p.done < p.total:  # part of the documents written: cancel
                job.close()
                break
        else:
            pytest.fail("the export finished without a chance to cancel it")
    after = sorted((p.relative_to(out), p.read_bytes()) for p in out.rglob("*")) \
        if out.is_dir() else out.read_bytes()
    assert after == before  # the earlier export is untouched
    assert [p.name for p in out.parent.iterdir()] == [out_name]  # nothing staged is left


def test_export_on_a_full_disk_names_the_file_and_keeps_the_earlier_export(tmp_path):
    """A file-size limit (RLIMIT_FSIZE) makes writes past 256 kB fail with EFBIG in the
    export process, as a full disk fails them with ENOSPC."""
    import resource
    import subprocess
    import sys

    db = _many_docs_db(tmp_path)
    out = tmp_path / "train.jsonl"
    out.write_text("earlier export\n")

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (256 * 1024, 256 * 1024))

    cli = "import sys; from annotator.cli import main; sys.exit(main(sys.argv[1:]))"
    res = subprocess.run([sys.executable, "-c", cli, "--db", db, "export",
                          "--format", "gliner2", "--out", str(out), "--review-status", "all"],
                         preexec_fn=limit, capture_output=True, text=True)
    assert res.returncode == 2, res.stderr
    assert res.stderr.startswith(f"error: cannot write {out}") and "Traceback" not in res.stderr
    assert "nothing was exported" in res.stderr
    assert out.read_text() == "earlier export\n"
    assert [p.name for p in tmp_path.iterdir() if not p.name.startswith("many.sqlite")] == [
        "train.jsonl"]  # nothing staged is left

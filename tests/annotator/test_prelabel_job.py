"""The pre-labeling job and the ``prelabel`` / ``density`` commands on a real SQLite file:
stored spans are aligned, windows are recorded, reruns replace only that source's proposals,
an interrupted run resumes, token classifiers go through a label map, the lexicon labels
all occurrences, density is right, and a missing model is one clear error line."""

import json

import pytest

from annotator.cli import main
from annotator.model import Document, Span
from db import Store


def stored_spans(db):
    with Store(db) as store:
        return [(d, sp) for d in store.iter_documents() for sp in d.spans]


def assert_aligned(pairs):
    for doc, sp in pairs:
        surface = doc.text[sp.start:sp.end]
        assert 0 <= sp.start < sp.end <= len(doc.text)
        assert surface and surface == surface.strip(), (sp, surface)


@pytest.mark.slow
def test_cli_prelabel_end_to_end_and_rerun_continues(prelabel_db, tiny_gliner2_bert, capsys):
    db = prelabel_db
    argv = ["--db", db, "prelabel", "--model", str(tiny_gliner2_bert), "--threshold", "0.2",
            "--json"]
    assert main(argv) == 0
    totals = json.loads(capsys.readouterr().out)
    assert totals["docs"] == 6 and totals["failed"] == 0 and totals["truncated_docs"] == 0
    assert totals["windows"] > 6 and totals["spans"] > 0
    pairs = stored_spans(db)
    assert len(pairs) == totals["spans"]
    assert_aligned(pairs)
    assert {(sp.source, sp.status) for _, sp in pairs} == {("gliner2", "proposed")}
    version = pairs[0][1].source_version
    assert str(tiny_gliner2_bert) in version and "threshold=0.2;window=full" in version
    with Store(db) as store:
        long_id = next(s.id for s in store.document_summaries() if s.name == "long")
        [run] = [r for r in store.doc_runs(long_id) if r["kind"] == "prelabel"]
        assert run["status"] == "done" and run["run_key"] == totals["run_key"]
        assert run["stats"]["windows"] > 1 and run["stats"]["truncated"] is False
        assert store.runs("prelabel")[-1]["status"] == "done"
    # the same command again: nothing left to do
    assert main(argv) == 0
    again = json.loads(capsys.readouterr().out)
    assert again["docs"] == 0 and again["already_done"] == 6
    assert len(stored_spans(db)) == totals["spans"]


@pytest.mark.slow
def test_rerun_replaces_only_this_sources_proposals(prelabel_db, tiny_gliner2_bert):
    from annotator.jobs import drive
    from annotator.prelabel.job import prelabel_job

    with Store(prelabel_db) as store:
        drive(prelabel_job(store, model=str(tiny_gliner2_bert), threshold=0.2))
        doc = next(store.iter_documents())
        proposed = [sp for sp in doc.spans if sp.source == "gliner2"]
        assert len(proposed) >= 2
        accepted = store.update_span(proposed[0].id, status="accepted", annotator="dr")
        rejected = store.update_span(proposed[1].id, status="rejected", annotator="dr")
        human = store.add_span(doc.id, Span(0, 2, "disease", annotator="dr"))
        lex = store.add_span(doc.id, Span(3, 10, "drug", source="lexicon", status="proposed"))
        before = {sp.id for sp in store.get_document(doc.id).spans if sp.status == "proposed"
                  and sp.source == "gliner2"}
        # another configuration (threshold) is another run: it redoes every document
        totals = drive(prelabel_job(store, model=str(tiny_gliner2_bert), threshold=0.15))
        assert totals["docs"] == 6 and totals["skipped_existing"] >= 2
        after = store.get_document(doc.id).spans
    by_id = {sp.id: sp for sp in after}
    for kept in (accepted, rejected, human, lex):
        assert by_id[kept.id].status == kept.status and by_id[kept.id].label == kept.label
    new = [sp for sp in after if sp.source == "gliner2" and sp.status == "proposed"]
    assert new and not ({sp.id for sp in new} & before)  # old proposals replaced
    assert all("threshold=0.15" in sp.source_version for sp in new)
    decided = {(s.label, s.start, s.end) for s in (accepted, rejected)}
    assert not decided & {(s.label, s.start, s.end) for s in new}  # decisions not re-proposed


@pytest.mark.slow
def test_interrupted_run_resumes_with_the_remaining_documents(prelabel_db, tiny_gliner2_bert):
    from annotator.jobs import drive
    from annotator.prelabel.job import KIND, build_prelabeler, prelabel_job

    with Store(prelabel_db) as store:
        engine = build_prelabeler(store, model=str(tiny_gliner2_bert), batch_size=2,
                                  threshold=0.2)
        job = prelabel_job(store, prelabeler=engine, batch_size=2)
        first = next(job)
        assert first.done == 0 and first.total == 6
        done_now = next(job)  # one document committed
        assert done_now.done == 1
        job.close()  # what Ctrl-C / Cancel does
        run_key = done_now.stats["run_key"]
        done = store.done_doc_ids(KIND, run_key)
        assert len(done) == 1
        assert store.runs(KIND)[-1]["status"] == "cancelled"
        n_spans = sum(len(d.spans) for d in store.iter_documents())
        totals = drive(prelabel_job(store, prelabeler=engine, batch_size=2))
        assert totals["docs"] == 5 and totals["already_done"] == 1
        assert store.done_doc_ids(KIND, run_key) == set(store.document_ids())
        assert n_spans > 0


@pytest.mark.slow
def test_transformers_backend_with_a_label_map(tmp_path, tiny_token_classifier, fr_long_text,
                                              capsys):
    from annotator.schemas import load_schema

    db = str(tmp_path / "tc.sqlite")
    with Store(db) as store:
        store.set_schema(load_schema("posology"))
        store.import_documents([Document(text=fr_long_text, name="long"),
                                Document(text="Doliprane 500 mg, 1 comprimé le matin.")])
    assert main(["--db", db, "prelabel", "--backend", "transformers", "--model",
                 str(tiny_token_classifier), "--label-map", "posos-clinicalner__posology",
                 "--threshold", "0", "--json"]) == 0
    totals = json.loads(capsys.readouterr().out)
    assert totals["docs"] == 2 and totals["windows"] > 2 and totals["truncated_docs"] == 0
    assert totals["unmapped"] > 0  # ROUTE and DISEASE are not posology labels
    pairs = stored_spans(db)
    assert pairs and len(pairs) == totals["spans"]
    assert_aligned(pairs)
    assert {sp.label for _, sp in pairs} <= set(load_schema("posology").keys)
    assert {sp.source for _, sp in pairs} == {"transformers"}
    assert all(sp.score is not None and "aggregation=first" in sp.source_version
               for _, sp in pairs)


def test_lexicon_labels_all_occurrences_of_accepted_strings(prelabel_db, fr_long_text, capsys):
    with Store(prelabel_db) as store:
        doc = next(store.iter_documents())
        s = doc.text.index("pneumonie")
        accepted = store.add_span(doc.id, Span(s, s + 9, "disease", annotator="dr"))
    assert main(["--db", prelabel_db, "prelabel", "--backend", "lexicon", "--json"]) == 0
    totals = json.loads(capsys.readouterr().out)
    expected = fr_long_text.count("pneumonie") + doc.text.count("pneumonie") - 1
    assert totals["spans"] == expected and totals["skipped_existing"] == 1
    pairs = [(d, sp) for d, sp in stored_spans(prelabel_db) if sp.source == "lexicon"]
    assert len(pairs) == expected
    assert all(d.text[sp.start:sp.end] == "pneumonie" and sp.label == "disease"
               and sp.status == "proposed" for d, sp in pairs)
    assert accepted.id not in {sp.id for _, sp in pairs}


def test_density_by_hand_on_a_small_project(tmp_path, capsys):
    db = str(tmp_path / "d.sqlite")
    text = "0123456789" * 4  # 40 characters
    with Store(db) as store:
        ids = store.import_documents([Document(text=text, name="a"),
                                      Document(text="x" * 10, name="b")]).doc_ids
        store.add_span(ids[0], Span(0, 10, "disease"))  # accepted
        store.add_span(ids[0], Span(5, 15, "drug", source="gliner2", status="proposed"))
        store.add_span(ids[0], Span(20, 40, "drug", source="gliner2", status="rejected"))
    assert main(["--db", db, "density", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    # doc a: union of [0,10) and [5,15) = 15 of 40 (the rejected span does not count); b: 0
    assert summary["computed"] == 2 and summary["count"] == 2
    assert summary["mean"] == pytest.approx((15 / 40 + 0) / 2)
    assert summary["median"] == pytest.approx(15 / 80)
    assert summary["max"] == pytest.approx(0.375) and summary["min"] == 0.0
    with Store(db) as store:
        assert [s.density for s in store.document_summaries()] == [0.375, 0.0]
    # stored densities are reused; --source restricts the spans that count
    assert main(["--db", db, "density", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["computed"] == 0
    assert main(["--db", db, "density", "--recompute", "--source", "gliner2", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["max"] == pytest.approx(10 / 40)
    assert main(["--db", db, "density"]) == 0
    assert "mean 0.1250" in capsys.readouterr().out


@pytest.mark.parametrize("backend", ["gliner2", "transformers"])
def test_missing_model_is_one_clear_line(prelabel_db, tmp_path, capsys, backend):
    for model in (str(tmp_path / "no-such-model"), "nobody-here/no-such-model"):
        rc = main(["--db", prelabel_db, "prelabel", "--backend", backend, "--model", model])
        err = capsys.readouterr().err.strip()
        assert rc == 2
        assert len(err.splitlines()) == 1 and err.startswith("error: ")
        assert model in err and "not found" in err

"""Training exports as the trainers read them: gliner v1 records windowed at max_len words with
gliner's own word pattern, gliner2 mentions checked against gliner2's word splitter."""

import json
import random
from pathlib import Path

import orjson
import pytest

from annotator.formats.base import Errors
from annotator.formats.brat import read as read_brat
from annotator.formats.trainer_words import (
    GLINER_WORD_RE,
    gliner2_word_re,
    on_word_boundaries,
    snapped,
)
from annotator.io import export_job
from annotator.jobs import drive
from annotator.model import Document, Span
from annotator.schemas import load_schema
from db import Store

DATA = Path(__file__).resolve().parents[1] / "data"


def _corpus_docs():
    docs = []
    for root in (DATA / "maccrobat", DATA / "quaero"):
        docs += [p.doc for p in read_brat(root, Errors())]
    return docs


def test_the_gliner2_pattern_is_gliner2s_own_splitter():
    from gliner2.processing.word_splitter import WhitespaceTokenSplitter

    real = WhitespaceTokenSplitter()
    texts = [d.text for d in _corpus_docs()] + [
        "non-tender l'hypertension d’un œdème e\u0301tat x_y 3.5mg www.a.fr a@b.fr @doc",
        "tiret\u2011insécable\u200bzéro\u2005espace\r\nCRLF",
    ]
    for text in texts:
        ours = [(m.start(), m.end()) for m in gliner2_word_re().finditer(text)]
        assert ours == [(s, e) for _, s, e in real(text)]


def test_word_boundary_check_matches_a_full_split():
    rng = random.Random(5)
    pattern = gliner2_word_re()
    for doc in _corpus_docs()[:4]:
        toks = [(m.start(), m.end()) for m in pattern.finditer(doc.text)]
        starts, ends = {s for s, _ in toks}, {e for _, e in toks}
        for _ in range(300):
            a = rng.randrange(len(doc.text) - 1)
            b = rng.randrange(a + 1, min(len(doc.text), a + 40) + 1)
            assert on_word_boundaries(doc.text, a, b, pattern) == (a in starts and b in ends)


def test_snapping_is_what_the_trainer_reads():
    text = "abdomen non-tender, chest-computerized b afebrile"
    p = gliner2_word_re()
    t = text.index("tender")
    assert text[slice(*snapped(text, t, t + 6, p))] == "non-tender"
    c = text.index("chest")
    assert text[slice(*snapped(text, c, c + 5, p))] == "chest-computerized"
    assert on_word_boundaries(text, text.index("b "), text.index("b ") + 1, p)


def _store(tmp_path, docs):
    store = Store(str(tmp_path / "t.sqlite"))
    store.set_schema(load_schema("maccrobat"))
    store.import_documents(docs)
    return store


def test_gliner_v1_export_windows_long_documents_so_every_entity_reaches_training(tmp_path):
    docs = [p.doc for p in read_brat(DATA / "maccrobat", Errors())]
    for d in docs:
        d.review_status = "reviewed"
    store = _store(tmp_path, docs)
    out = tmp_path / "g.json"
    s = drive(export_job(store, fmt="gliner", out=out))
    recs = json.loads(out.read_text("utf-8"))
    assert s.records == len(recs) > len(docs)  # long documents gave several records
    assert all(len(r["tokenized_text"]) <= 384 for r in recs)
    # every continuous entity on gliner's word boundaries is inside some record
    placed = {(tuple(r["tokenized_text"][a:b + 1]), lab) for r in recs for a, b, lab in r["ner"]}
    expected = 0
    for d in docs:
        toks = [(m.start(), m.end()) for m in GLINER_WORD_RE.finditer(d.text)]
        starts, ends = {s for s, _ in toks}, {e for _, e in toks}
        for sp in d.spans:
            if sp.fragments or sp.start not in starts or sp.end not in ends:
                continue
            expected += 1
            words = tuple(d.text[a:b] for a, b in toks if sp.start <= a and b <= sp.end)
            assert (words, sp.label) in placed
    assert "crosses_window" not in s.dropped
    assert s.dropped.get("not_on_word_boundaries", 0) + expected + s.dropped.get(
        "discontinuous", 0) == sum(len(d.spans) for d in docs)
    # hyphenated words are one word, as gliner splits them
    assert any("-" in t and len(t) > 2 for r in recs for t in r["tokenized_text"])
    # a smaller window and a tiny max width are reported
    s2 = drive(export_job(store, fmt="gliner", out=tmp_path / "g2.json",
                          writer_options={"max_words": 50, "max_width": 1}))
    recs2 = json.loads((tmp_path / "g2.json").read_text("utf-8"))
    assert all(len(r["tokenized_text"]) <= 50 for r in recs2)
    assert s2.warnings["wider_than_max_width"] > 0
    assert any("max_width 1" in n for n in s2.notes)
    store.close()


def test_gliner2_export_reports_mentions_off_word_boundaries(tmp_path, capsys):
    text = "abdomen non-tender, chest-computerized scan. afebrile patient"
    t, c = text.index("tender"), text.index("chest")
    doc = Document(text=text, name="x", review_status="reviewed", spans=[
        Span(t, t + 6, "Sign_symptom"), Span(c, c + 5, "Biological_structure"),
        Span(0, 7, "Biological_structure"), Span(text.index("afebrile"),
                                                 text.index("afebrile") + 8, "Sign_symptom")])
    store = _store(tmp_path, [doc])
    out = tmp_path / "g.jsonl"
    s = drive(export_job(store, fmt="gliner2", out=out))
    assert s.warnings == {"not_on_word_boundaries": 2}
    assert sorted((d["text"], d["trainer_reads"]) for d in s.details) == [
        ("chest", "chest-computerized"), ("tender", "non-tender")]
    assert all(d["line"] == 1 and d["file"] == str(out) for d in s.details)
    # the mentions are still written exactly as decided
    rec = orjson.loads(out.read_bytes().splitlines()[0])
    assert {m["text"] for v in rec["output"]["entities"].values() for m in v} == {
        "tender", "chest", "abdomen", "afebrile"}
    # plain strings: those that are not whole words of the text are reported
    s = drive(export_job(store, fmt="gliner2", out=tmp_path / "p.jsonl", mentions="strings"))
    assert s.warnings == {"plain_string_not_found": 2}
    # through the CLI: a note on stderr, the details with --json
    from annotator.cli import main

    assert main(["--db", store.url, "export", "--format", "gliner2", "--out",
                 str(tmp_path / "c.jsonl")]) == 0
    assert "2 mentions do not fall on gliner2's word boundaries" in capsys.readouterr().err
    assert main(["--db", store.url, "export", "--format", "gliner2", "--out",
                 str(tmp_path / "c.jsonl"), "--json"]) == 0
    res = json.loads(capsys.readouterr().out)
    assert len(res["details"]) == 2
    store.close()


@pytest.mark.parametrize("bad", ["1", "0"])
def test_gliner_max_words_below_two_is_refused(tmp_path, capsys, bad):
    from annotator.cli import main

    store = _store(tmp_path, [Document(text="a b c", review_status="reviewed")])
    assert main(["--db", store.url, "export", "--format", "gliner", "--out",
                 str(tmp_path / "g.json"), "--max-words", bad]) == 2
    assert "--max-words" in capsys.readouterr().err
    store.close()

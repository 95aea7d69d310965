"""``silver --protocol finemed`` against the fake OpenAI-compatible server (a separate process):
the schemas and sampling parameters sent, the cut at 200 words, grounding of every occurrence,
hallucination counts, and the review pass receiving pass 1."""

import json
import re

import pytest

from annotator.errors import AnnotatorError
from annotator.jobs import drive
from annotator.llm.contract import InvalidOutputError
from annotator.llm.fake_server import FINEMED_MISSED, INVENTED, LEXICON
from annotator.llm.finemed import (
    cut_at_words,
    extract_schema,
    parse_finemed,
    review_schema,
)
from annotator.llm.request_record import calls_with_bodies
from annotator.llm.silver import review_reasoning, silver_job
from annotator.model import Document
from db import Store

FAST = {"model": "fake", "schema": "finemed-fr", "retry_base_delay": 0.01,
        "protocol": "finemed"}
SHORT = ("Fièvre et pneumonie. La pneumonie droite est traitée par amoxicilline ; la fièvre "
         "baisse.\nLe cœur est normal. Pas de pneumonies récidivantes.")


def run(store, url, **kw):
    return drive(silver_job(store, base_url=url, **(FAST | kw)))


def bounded(text, needle):
    """Word-bounded occurrences, computed independently of the code under test."""
    return [(m.start(), m.end()) for m in
            re.finditer(r"(?<!\w)" + re.escape(needle) + r"(?!\w)", text)]


@pytest.fixture
def short_store(tmp_path):
    st = Store(str(tmp_path / "finemed.db"))
    st.import_documents([Document(text=SHORT, name="short")])
    yield st
    st.close()


def _spans(doc, source):
    return sorted((s.start, s.end, s.label) for s in doc.spans if s.source == source)


def test_two_passes_schemas_sampling_grounding_and_review_of_pass1(short_store, fake_server):
    res = run(short_store, fake_server.url)
    assert (res.done, res.failed, res.calls, res.protocol) == (1, 0, 2, "finemed")
    assert "extract/finemed-v1+review/finemed-v1+format/finemed-v1+classes/finemed-v1#" in \
        res.source_version
    p1_req, p2_req = (r["body"] for r in fake_server.log())
    calls = calls_with_bodies(short_store, doc_id=1)
    orders = [c["request"]["label_order"] for c in calls]
    # structured output: FineMed's shapes, the classes in the call's shuffled order
    assert p1_req["response_format"]["type"] == "json_schema"
    assert p1_req["response_format"]["json_schema"]["schema"] == extract_schema(orders[0])
    assert p2_req["response_format"]["json_schema"]["schema"] == review_schema(orders[1])
    reasoning = p2_req["response_format"]["json_schema"]["schema"]["properties"]["reasoning"]
    for k in ("false_positives", "reclassifications", "missed_entities"):
        assert reasoning["properties"][k] == {"type": "array", "items": {"type": "string"}}
    groups = p1_req["response_format"]["json_schema"]["schema"]["properties"]["entities"]
    assert groups["items"]["properties"]["text"]["type"] == "array"
    # the protocol's sampling; top_k reaches the server in the JSON body (extra_body)
    for req, max_tokens in ((p1_req, 4096), (p2_req, 8192)):
        assert (req["temperature"], req["top_p"], req["top_k"], req["max_tokens"]) == (
            0.7, 0.8, 20, max_tokens)
    # the class blocks are in the order of the schema's enum
    prompt = p1_req["messages"][1]["content"]
    pos = [prompt.index(f"- {k}: ") for k in orders[0]]
    assert pos == sorted(pos) and "Key test:" in prompt and "Does not include:" in prompt

    doc = short_store.get_document(1)
    label = min(orders[0])
    found = [w for w in LEXICON if w in re.findall(r"\w+", SHORT) and w not in FINEMED_MISSED]
    assert found == ["pneumonie", "amoxicilline", "fièvre"]
    expected1 = sorted((s, e, label) for w in found for s, e in bounded(SHORT, w))
    assert len(bounded(SHORT, "pneumonie")) == 2  # "pneumonies" is another word
    assert _spans(doc, "llm_pass1") == expected1  # every occurrence, exact case only
    # the review pass received pass 1's entities (deduplicated per class, invented kept)
    p2_prompt = p2_req["messages"][1]["content"]
    sent_p1 = {"entities": [{"entity": label, "text": found + [INVENTED]}]}
    assert f"<pass1>\n{json.dumps(sent_p1, ensure_ascii=False)}\n</pass1>" in p2_prompt
    expected2 = sorted(expected1 + [(s, e, label) for s, e in bounded(SHORT, "cœur")])
    assert _spans(doc, "llm_pass2") == expected2
    # hallucinations: the invented string, counted once (pass 1 only)
    assert res.hallucinations == 1
    assert [h["text"] for h in calls[0]["hallucinations"]] == [INVENTED]
    # the review's reasoning is kept in the audit and read back for the document
    (why,) = review_reasoning(short_store, 1)
    assert why["run_key"] == res.run_key
    assert any(INVENTED in line for line in why["false_positives"])
    assert any("cœur" in line for line in why["missed_entities"])
    assert why["reclassifications"] == []
    assert review_reasoning(short_store, 1, run_key="other") == []

    again = run(short_store, fake_server.url)
    assert (again.skipped, again.calls) == (1, 0)


def test_cli_overrides_and_top_k_zero_leaves_it_out(tmp_path, fake_server, capsys):
    from annotator.cli import main

    db = tmp_path / "cli.db"
    with Store(str(db)) as st:
        st.import_documents([Document(text=SHORT, name="short")])
    rc = main(["--db", str(db), "silver", "--base-url", fake_server.url, "--model", "fake",
               "--schema", "finemed-fr", "--protocol", "finemed", "--top-k", "0",
               "--top-p", "0.95", "--temperature", "0.2", "--max-tokens", "300",
               "--passes", "1", "--json"])
    out = capsys.readouterr()
    assert rc == 0, out.err
    assert json.loads(out.out)["done"] == 1
    (req,) = (r["body"] for r in fake_server.log())
    assert "top_k" not in req
    assert (req["temperature"], req["top_p"], req["max_tokens"]) == (0.2, 0.95, 300)
    fake_server.control()
    rc = main(["--db", str(db), "silver", "--base-url", fake_server.url, "--model", "fake",
               "--schema", "finemed-fr", "--passes", "1", "--json"])  # v1 stays the default
    assert rc == 0
    (req,) = (r["body"] for r in fake_server.log())
    assert "top_k" not in req and "top_p" not in req and req["temperature"] == 0.0
    assert req["response_format"]["json_schema"]["name"] == "entities"


def _long_text():
    words = [f"mot{i}" for i in range(1, 251)]
    words[4] = "fièvre"        # word 5: sent
    words[199] = "tumeur"      # word 200: the last word sent
    words[229] = "fièvre"      # word 230: cut
    seps = ["  ", "\n", " \t", " "]
    return "".join(w + seps[i % len(seps)] for i, w in enumerate(words)).rstrip() + "\n"


def test_input_cut_at_200_words_and_spans_only_inside(tmp_path, fake_server):
    text = _long_text()
    cut = cut_at_words(text, 200)
    assert text[:cut].split() == text.split()[:200] and text[:cut].endswith("tumeur")
    st = Store(str(tmp_path / "long.db"))
    st.import_documents([Document(text=text, name="long")])
    res = run(st, fake_server.url, passes=1)
    assert (res.done, res.truncated) == (1, 1)
    (req,) = (r["body"] for r in fake_server.log())
    sent = re.search(r"<document>\n(.*?)\n</document>", req["messages"][1]["content"],
                     re.DOTALL).group(1)
    assert sent == text[:cut]
    doc = st.get_document(1)
    fev = bounded(text, "fièvre")
    assert len(fev) == 2 and fev[1][0] > cut
    assert all(s.end <= cut for s in doc.spans)
    assert {(s.start, s.end) for s in doc.spans} == {fev[0], bounded(text, "tumeur")[0]}
    recorded = {"max_words": 200, "sent_chars": cut, "cut_chars": len(text) - cut,
                "total_chars": len(text)}
    (call,) = calls_with_bodies(st)
    assert call["request"]["input_cut"] == recorded
    (mark,) = st.doc_runs(1)
    assert mark["stats"]["input_cut"] == recorded

    fake_server.control()
    whole = run(st, fake_server.url, passes=1, max_words=0)  # 0 = the whole document
    assert whole.run_key != res.run_key and whole.truncated == 0
    (req,) = (r["body"] for r in fake_server.log())
    assert f"<document>\n{text}\n</document>" in req["messages"][1]["content"]
    assert {(s.start, s.end) for s in st.get_document(1).spans} == set(fev) | set(
        bounded(text, "tumeur"))
    st.close()


def test_scripted_answer_every_occurrence_dedup_and_hallucination_counts(short_store,
                                                                         fake_server):
    answer = {"entities": [
        {"entity": "disease", "text": ["pneumonie", "pneumonie", "Pneumonie droite",
                                       "fièvre", "monie", "grippe"]},
        {"entity": "drug", "text": ["amoxicilline", "pneumonie"]},
        {"entity": "symptom", "text": ["fièvre"]},
        {"entity": "body_part", "text": ["", "cœur"]},
    ]}
    fake_server.control(script=[{"answer": answer}])
    res = run(short_store, fake_server.url, passes=1)
    assert (res.done, res.failed) == (1, 0)
    doc = short_store.get_document(1)
    expected = sorted(
        [(s, e, "disease") for w in ("pneumonie", "fièvre") for s, e in bounded(SHORT, w)]
        + [(s, e, "drug") for w in ("amoxicilline", "pneumonie") for s, e in bounded(SHORT, w)]
        + [(s, e, "body_part") for s, e in bounded(SHORT, "cœur")])
    assert _spans(doc, "llm_pass1") == expected
    # three strings are not (verbatim, word-bounded) in the text sent
    assert res.hallucinations == 3
    (call,) = calls_with_bodies(short_store)
    reasons = {h.get("text"): h["reason"] for h in call["hallucinations"] if "text" in h}
    assert reasons == {"Pneumonie droite": "not verbatim (case, accents or spacing differ)",
                       "monie": "only found inside other words",
                       "grippe": "not in the document"}
    dropped = [h["reason"] for h in call["hallucinations"] if "item" in h]
    assert dropped == ["group 2: unknown class 'symptom'",
                       "group 3 text 0 is empty or not a string"]


def test_json_mode_fallback_keeps_the_finemed_shapes(short_store, fake_server):
    fake_server.control(reject_json_schema=True)
    res = run(short_store, fake_server.url)
    assert (res.done, res.failed) == (1, 0)
    calls = calls_with_bodies(short_store)
    assert [c["request"]["mode"] for c in calls] == ["json_object", "json_object"]
    assert '"reasoning"' in calls[1]["request"]["body"]["messages"][1]["content"]
    assert review_reasoning(short_store, 1)[0]["false_positives"]


def test_label_order_shuffled_per_call(store, fake_server):
    run(store, fake_server.url, seed=3)
    orders = [tuple(c["request"]["label_order"]) for c in calls_with_bodies(store)]
    assert len(orders) == 8 and len(set(orders)) > 1
    for c in calls_with_bodies(store):
        enum = c["request"]["body"]["response_format"]["json_schema"]["schema"][
            "properties"]["entities"]["items"]["properties"]["entity"]["enum"]
        assert enum == c["request"]["label_order"]


@pytest.mark.parametrize("text", ["", "   ", "un", " a  b\tc\nd ", "x " * 300, "é\u00a0ü\u2003ß"])
@pytest.mark.parametrize("n", [0, 1, 2, 3, 200])
def test_cut_at_words_is_the_prefix_of_split(text, n):
    cut = cut_at_words(text, n)
    want = text.split() if n == 0 else text.split()[:n]
    assert text[:cut].split() == want
    if n == 0 or len(text.split()) <= n:
        assert cut == len(text)  # nothing is cut
    else:
        assert text[:cut].endswith(want[-1]) and cut < len(text)


def test_review_answer_without_reasoning_is_invalid_and_bad_options_refused(short_store):
    with pytest.raises(InvalidOutputError, match="reasoning"):
        parse_finemed('{"entities": []}', ["disease"], pass_no=2)
    ans = parse_finemed('{"reasoning": {"false_positives": ["x"]}, "entities": '
                        '[{"entity": "disease", "text": "fièvre"}]}', ["disease"], pass_no=2)
    assert ans.entities == [{"text": "fièvre", "label": "disease"}]
    assert ans.reasoning == {"false_positives": ["x"], "reclassifications": [],
                             "missed_entities": []}
    with pytest.raises(AnnotatorError, match="unknown silver protocol"):
        run(short_store, "http://127.0.0.1:9/v1", protocol="v2")
    with pytest.raises(AnnotatorError, match="--max-words"):
        run(short_store, "http://127.0.0.1:9/v1", max_words=-1)


def test_gui_shows_the_review_reasoning_of_the_document(tmp_path, fake_server, qtbot,
                                                        monkeypatch):
    import os

    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    import ui  # noqa: F401  (applies ui.pyside_compat before any widget exists)
    from annotator.llm.silver import review_notes_text
    from ui.main_window import MainWindow

    db = str(tmp_path / "gui.db")
    with Store(db) as st:
        st.import_documents([Document(text=SHORT, name="short"),
                             Document(text="Rien à signaler.", name="plain")])
        run(st, fake_server.url, doc_ids=[1])
        notes = review_notes_text(st, 1)
    assert INVENTED in notes and "Added: « cœur »" in notes
    monkeypatch.setenv("ANNOTATOR_ANNOTATOR", "dr.test")
    store = Store(db)
    w = MainWindow(store)
    qtbot.addWidget(w)
    w.show()
    w.show_document(1)
    assert w.review_notes.isVisible() and w.review_notes.text() == notes
    w.show_document(2)  # no review for this one
    assert not w.review_notes.isVisible() and w.review_notes.text() == ""
    w.close()
    store.close()

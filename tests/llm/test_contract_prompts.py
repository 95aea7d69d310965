"""Output contract, prompt rendering, label shuffling, windows, API keys."""

import itertools
import json

import pytest

from annotator.llm.contract import InvalidOutputError, entity_schema, parse_answer
from annotator.llm.keys import KeyError_, resolve_api_key
from annotator.llm.prompts import label_order, load_prompts, render_messages
from annotator.llm.windows import split_windows
from annotator.schemas import load_schema

LABELS = ["disease", "drug"]


@pytest.mark.parametrize("content, reason", [
    ("", "empty answer"),
    ('{"entities": [{"text": "pneu', "not JSON"),
    ("[]", "expected a JSON object"),
    ('{"items": []}', "no 'entities' key"),
    ('{"entities": {"text": "x"}}', "not a list"),
])
def test_malformed_answers_have_clear_reasons(content, reason):
    with pytest.raises(InvalidOutputError, match=reason):
        parse_answer(content, LABELS)


def test_bad_items_dropped_with_reasons_and_fences_tolerated():
    content = ('```json\n{"entities": [{"text": "fièvre", "label": "disease"}, '
               '{"text": "x", "label": "symptom"}, {"text": "", "label": "drug"}, 3, '
               '{"text": "fièvre", "label": "disease"}]}\n```')
    ans = parse_answer(content, LABELS)
    assert ans.entities == [{"text": "fièvre", "label": "disease"}]
    assert [d["reason"] for d in ans.dropped] == [
        "item 1: unknown label 'symptom'", "item 2 has no text", "item 3 is not an object"]


def test_schema_lists_the_labels():
    s = entity_schema(LABELS, max_entities=5)
    assert s["properties"]["entities"]["items"]["properties"]["label"]["enum"] == LABELS
    assert s["properties"]["entities"]["maxItems"] == 5


def test_label_order_deterministic_per_seed_and_varies_across_docs():
    keys = load_schema("finemed-fr").keys
    a = label_order(keys, seed=0, doc_id=1, pass_no=1, window=0)
    assert a == label_order(keys, seed=0, doc_id=1, pass_no=1, window=0)
    orders = {tuple(label_order(keys, seed=0, doc_id=d, pass_no=1, window=0)) for d in range(8)}
    assert len(orders) > 4
    assert sorted(a) == sorted(keys)
    assert a != label_order(keys, seed=1, doc_id=1, pass_no=1, window=0)


def test_render_does_not_rescan_inserted_text_and_json_mode_carries_schema():
    schema = load_schema("finemed-fr")
    prompts = load_prompts()
    order = schema.keys
    doc = "Texte avec {{labels}} et {{pass1}} littéraux."
    js = entity_schema(order)
    msgs = render_messages(prompts, pass_no=2, schema=schema, order=order, document=doc,
                           mode="json_object", json_schema=js,
                           pass1=[{"text": "Texte", "label": "disease"}])
    user = msgs[1]["content"]
    assert doc in user
    assert json.dumps(js, ensure_ascii=False) in user
    assert '{"entities": [{"text": "Texte", "label": "disease"}]}' in user
    strict = render_messages(prompts, pass_no=1, schema=schema, order=order, document=doc,
                             mode="json_schema", json_schema=js)[1]["content"]
    assert json.dumps(js, ensure_ascii=False) not in strict
    assert prompts.version.startswith("extract/v1+review/v1+format/v1#")


def test_windows_cover_the_text_and_overlap():
    text = "La patiente présente une toux. " * 50
    wins = split_windows(text, 200)
    assert wins[0][0] == 0 and wins[-1][1] == len(text)
    assert all(b - a <= 200 for a, b in wins)
    assert all(c < b for (_, b), (c, _) in itertools.pairwise(wins))
    assert split_windows("court", 200) == [(0, 5)]


def test_api_key_sources(monkeypatch):
    import keyring

    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.setattr(keyring, "get_password", lambda service, user: None)
    assert resolve_api_key() is None
    monkeypatch.setenv("OPENAI_API_KEY", "sk-env")
    assert resolve_api_key() == "sk-env"
    monkeypatch.setenv("MY_KEY", "sk-mine")
    assert resolve_api_key(env_name="MY_KEY") == "sk-mine"
    with pytest.raises(KeyError_, match="NOPE_KEY"):
        resolve_api_key(env_name="NOPE_KEY")
    monkeypatch.delenv("OPENAI_API_KEY")
    monkeypatch.setattr(keyring, "get_password",
                        lambda service, user: "sk-ring" if service == "medannotator" else None)
    assert resolve_api_key() == "sk-ring"

"""``evaluate`` takes the gold by default: the accepted spans of reviewed documents."""

import json

from annotator.cli import main
from annotator.model import Document, Span
from annotator.schemas import load_schema
from db import Store


def test_evaluate_defaults_to_the_gold_of_reviewed_documents(tmp_path, capsys):
    db = str(tmp_path / "e.sqlite")
    with Store(db) as store:
        store.set_schema(load_schema("finemed-fr"))
        # reviewed: a person accepted "fièvre" and rejected "toux"; gliner2 found only fièvre
        store.add_document(Document(text="fièvre et toux", name="r", review_status="reviewed",
                                    spans=[Span(0, 6, "disease", source="human"),
                                           Span(10, 14, "disease", source="import"),
                                           Span(0, 6, "disease", source="gliner2",
                                                status="proposed", score=0.8)]))
        # not reviewed: its accepted span and gliner2's miss must not count
        store.add_document(Document(text="douleur thoracique", name="u", spans=[
            Span(0, 7, "disease", source="human"),
            Span(8, 18, "body_part", source="gliner2", status="proposed", score=0.9)]))
    assert main(["--db", db, "evaluate", "--pred", "gliner2", "--json"]) == 0
    micro = json.loads(capsys.readouterr().out)["micro"]
    # gold on the reviewed document: fièvre (human) and toux (import); gliner2 found fièvre
    assert micro == {"precision": 1.0, "recall": 0.5, "f1": 2 / 3}
    # widened to every document: u adds a miss (douleur) and a false positive
    assert main(["--db", db, "evaluate", "--pred", "gliner2", "--review-status", "all",
                 "--json"]) == 0
    micro = json.loads(capsys.readouterr().out)["micro"]
    assert (micro["precision"], micro["recall"]) == (0.5, 1 / 3)
    # an explicit source as the reference keeps every document, as before
    assert main(["--db", db, "evaluate", "--gold", "human", "--pred", "gliner2", "--json"]) == 0
    micro = json.loads(capsys.readouterr().out)["micro"]
    assert (micro["precision"], micro["recall"]) == (0.5, 0.5)

"""An edit of a suggestion that a newer pre-label run replaced meanwhile: the window says so
in plain words, re-reads the document, and nothing is written or recorded.

The other process is a raw ``sqlite3`` connection that replaces the document's lexicon
proposals inside its open transaction (as ``Store.replace_proposals`` does) and commits from
a timer thread while the window's edit waits for the write lock.
"""

from __future__ import annotations

import sqlite3
import threading

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox

from annotator.model import Document, Span
from annotator.schemas import load_schema

TEXT = "Patient avec une fièvre, traité par amlodipine."
FIEVRE = (17, 23)
AMLO = (36, 46)
MESSAGE = "This suggestion was replaced by a newer pre-label run; the document was reloaded."


@pytest.fixture
def project(tmp_path):
    from db import Store

    path = str(tmp_path / "gone.sqlite")
    assert TEXT[slice(*FIEVRE)] == "fièvre" and TEXT[slice(*AMLO)] == "amlodipine"
    with Store(path) as st:
        st.set_schema(load_schema("finemed-fr"))
        st.import_documents([Document(text=TEXT, name="doc", spans=[
            Span(*FIEVRE, "disease", source="lexicon", status="proposed", score=1.0)])])
    return path


def newer_prelabel_run(path: str) -> threading.Timer:
    """Replace the lexicon proposals by one on "amlodipine", committed a moment later."""
    other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")
    other.execute("DELETE FROM spans WHERE source = 'lexicon' AND status = 'proposed'")
    other.execute("INSERT INTO spans (doc_id, start, \"end\", label, source, status, score, "
                  "created_at, updated_at) SELECT id, ?, ?, 'drug', 'lexicon', 'proposed', 1.0,"
                  " '2026-01-01', '2026-01-01' FROM documents", AMLO)

    def commit():
        other.execute("COMMIT")
        other.close()

    timer = threading.Timer(0.3, commit)
    timer.start()
    return timer


def state(path: str):
    with sqlite3.connect(path) as c:
        return (c.execute("SELECT review_status FROM documents").fetchone()[0],
                c.execute("SELECT start, label, status FROM spans ORDER BY id").fetchall(),
                c.execute("SELECT count(*) FROM span_events").fetchone()[0])


def put_caret(w, pos):
    cur = w.view.textCursor()
    cur.setPosition(pos)
    w.view.setTextCursor(cur)


def assert_told_and_reloaded(window, qtbot):
    box = window.findChild(QMessageBox)
    assert box is not None and box.isVisible()
    assert box.text() == MESSAGE
    assert window.statusBar().currentMessage() == MESSAGE
    # the window shows the document as stored now: the new suggestion, not the old one
    assert [(s.start, s.label, s.status) for s in window.doc.spans] == [
        (AMLO[0], "drug", "proposed")]
    assert window.doc.review_status == "todo"
    assert not window.session.can_undo and not window.session.can_redo
    box.close()


@pytest.mark.parametrize("keys", [(Qt.Key_A, Qt.KeyboardModifier.NoModifier),
                                  (Qt.Key_A, Qt.KeyboardModifier.ShiftModifier),
                                  (Qt.Key_R, Qt.KeyboardModifier.NoModifier)],
                         ids=["accept", "accept-all-of-source", "reject"])
def test_deciding_a_replaced_suggestion_says_so_and_reloads(window, project, qtbot, keys):
    put_caret(window, FIEVRE[0] + 2)
    assert window.view.current.source == "lexicon"
    timer = newer_prelabel_run(project)
    qtbot.keyClick(window.view, *keys)
    timer.join()
    assert_told_and_reloaded(window, qtbot)
    # nothing written or recorded: the other run's proposal is undecided, no span event,
    # and the document is not marked in progress by an edit that did not happen
    assert state(project) == ("todo", [(AMLO[0], "drug", "proposed")], 0)


def test_deleting_a_replaced_suggestion_says_so_and_reloads(window, project, qtbot):
    put_caret(window, FIEVRE[0] + 2)
    timer = newer_prelabel_run(project)
    qtbot.keyClick(window.view, Qt.Key_Delete)
    timer.join()
    assert_told_and_reloaded(window, qtbot)
    assert state(project) == ("todo", [(AMLO[0], "drug", "proposed")], 0)


def test_undo_of_an_accept_whose_span_was_replaced_says_so(window, project, qtbot):
    put_caret(window, FIEVRE[0] + 2)
    qtbot.keyClick(window.view, Qt.Key_A)
    review, spans, events = state(project)
    assert (review, spans) == ("in_progress", [(FIEVRE[0], "disease", "accepted")])
    with sqlite3.connect(project) as c:  # a person elsewhere deletes the accepted span
        c.execute("DELETE FROM spans")
    qtbot.keyClick(window.view, Qt.Key_Z, Qt.KeyboardModifier.ControlModifier)
    box = window.findChild(QMessageBox)
    assert box is not None and box.text() == MESSAGE
    assert window.doc.spans == []
    assert state(project)[2] == events  # the failed undo recorded nothing
    assert not window.session.can_redo

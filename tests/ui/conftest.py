"""Fixtures for the GUI tests (GUI-B): a real SQLite project file and helpers.

Qt runs offscreen (set in tests/conftest.py); pytest-qt provides ``qtbot`` and ``qapp``.
"""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest

import ui  # noqa: F401  (applies ui.pyside_compat before any widget exists)
from annotator.model import Document, Span


@pytest.fixture
def db_path(tmp_path):
    """Path of a fresh SQLite project file (created on first open)."""
    return str(tmp_path / "project.sqlite")


@pytest.fixture
def store(db_path):
    from db import Store

    s = Store(db_path, "default")
    yield s
    s.close()


@pytest.fixture
def store_factory(db_path):
    """``() -> Store`` opening the same file (what the views take)."""
    from db import Store

    opened = []

    def factory():
        s = Store(db_path, "default")
        opened.append(s)
        return s

    yield factory
    for s in opened:
        s.close()


def span(start, end, label, source="human", status=None, **kw):
    """A span with the status a source normally has (people accept, models propose)."""
    if status is None:
        status = "accepted" if source in ("human", "import") else "proposed"
    return Span(start, end, label, source=source, status=status, **kw)


@pytest.fixture
def conflict_project(store):
    """Three documents: one where sources agree, one with mild, one with strong conflict.

    Returns ``{"agree": id, "mild": id, "strong": id}``.
    """
    text = "Patient sous metformine 500 mg pour diabete de type 2 depuis 2019."
    #        0         1         2         3         4         5         6
    met = (13, 23)   # metformine
    dose = (24, 30)  # 500 mg
    diab = (36, 53)  # diabete de type 2
    assert text[met[0]:met[1]] == "metformine" and text[diab[0]:diab[1]] == "diabete de type 2"
    assert text[dose[0]:dose[1]] == "500 mg"

    def same(src):
        return [span(*met, "DRUG", src), span(*diab, "DISEASE", src)]

    agree = Document(text=text, name="agree",
                     spans=same("gliner2") + same("llm_pass1") + same("llm_pass2"))
    mild = Document(text=text + " ", name="mild",
                    spans=same("gliner2") + same("llm_pass1")
                    + [span(*met, "DRUG", "llm_pass2"), span(*dose, "DOSE", "llm_pass2"),
                       span(*diab, "DISEASE", "llm_pass2")])
    strong = Document(text=text + "  ", name="strong",
                      spans=[span(*met, "DISEASE", "gliner2"),
                             span(36, 43, "DISEASE", "gliner2"),
                             span(*dose, "DOSE", "llm_pass1"),
                             span(*met, "DRUG", "llm_pass2"), span(*diab, "DISEASE", "llm_pass2"),
                             span(*met, "DRUG", "human")])
    res = store.import_documents([agree, mild, strong])
    return dict(zip(("agree", "mild", "strong"), res.doc_ids))


@pytest.fixture
def make_span():
    """The ``span(start, end, label, source, status=None)`` helper above, for tests."""
    return span


@pytest.fixture
def window(qtbot, project, monkeypatch):
    """The main window on the test module's ``project`` (a SQLite path), shown and focused on
    the text, with annotator "dr.test"."""
    from db import Store
    from ui.main_window import MainWindow

    monkeypatch.setenv("ANNOTATOR_ANNOTATOR", "dr.test")
    store = Store(project)
    w = MainWindow(store)
    qtbot.addWidget(w)
    w.show()
    qtbot.waitExposed(w)
    w.activateWindow()
    w.view.setFocus()
    yield w
    store.close()

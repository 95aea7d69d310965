"""Regenerate the screenshots under docs/ from the sample project.

    python docs/make_screenshots.py [--out docs]

Seeds a temporary project with ``annotator.samples.seed_sample_project``, opens the main
window on a document where sources disagree, then its Compare and Statistics panels (docked
at the bottom), and saves ``main_window.png``, ``compare_view.png`` and ``stats_view.png``
(the whole window each time).
Qt's offscreen platform is used unless ``QT_QPA_PLATFORM`` says otherwise.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("ANNOTATOR_ANNOTATOR", "Dr. Martin")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=str(Path(__file__).resolve().parent))
    args = ap.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    from PySide6.QtWidgets import QApplication

    from annotator import compare
    from annotator.samples import seed_sample_project
    from db import Store
    from ui.main_window import MainWindow

    app = QApplication.instance() or QApplication(sys.argv)
    tmp = tempfile.mkdtemp(prefix="annotator-shots-")
    store = Store(os.path.join(tmp, "sample.sqlite"), "default")
    seed_sample_project(store)
    ids = store.document_ids()
    # a short review session, so progress and agreement have something to show: the first
    # third of the documents and those with lexicon proposals are reviewed; the reviewer
    # accepts the lexicon's "living_beings" and "disease" proposals and rejects the others
    lexicon_docs = [d.id for d in store.iter_documents(span_source="lexicon") if d.spans]
    for doc_id in sorted(set(ids[: max(1, len(ids) // 3)]) | set(lexicon_docs[1:])):
        for sp in store.get_document(doc_id, span_source="lexicon").spans:
            ok = sp.label in ("living_beings", "disease")
            store.update_span(sp.id, status="accepted" if ok else "rejected",
                              annotator="Dr. Martin")
        store.set_review_status(doc_id, "reviewed")
    # show the document where sources agree on most regions while still disagreeing somewhere
    scored = [d for d in compare.disagreement_scores(store, include_reviewed=True)
              if len(d.families) >= 2 and d.n_disagreements]
    best = max(scored, key=lambda d: (d.n_regions - d.n_disagreements, -d.doc_id),
               default=None)
    focus = best.doc_id if best else ids[0]

    def settle() -> None:
        for _ in range(8):
            app.processEvents()

    win = MainWindow(store)
    win.resize(1440, 900)
    win.show()
    win.show_document(focus)
    first = next((sp for sp in win.doc.spans if sp.status == "proposed"), None)
    if first is not None:  # the status bar then tells what the span under the cursor is
        win.view.set_current(first)
    settle()
    win.grab().save(str(out / "main_window.png"))

    # Compare and Statistics are panels docked in the main window (tabs of one area)
    win.resize(1440, 1000)
    win.show_compare()
    cv = win._panels["Compare"]
    cv.disagreement_queue()
    cv.show_document(focus)
    settle()
    win.grab().save(str(out / "compare_view.png"))
    win.show_statistics()
    settle()
    win.grab().save(str(out / "stats_view.png"))
    for name in ("main_window", "compare_view", "stats_view"):
        print(out / f"{name}.png")
    win.close()
    store.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""``annotator gui``: open the review desk.

With no ``--db`` (and no ``$ANNOTATOR_DB``) it opens the embedded SQLite project in the user's
data folder, creating it on first run and seeding it with sample French medical documents.
"""

from __future__ import annotations

import argparse
import importlib
from typing import Any


def register(sub: Any) -> None:
    p = sub.add_parser("gui", help="open the review desk (PySide6 window)")
    # also accepted after the sub-command; SUPPRESS keeps the global value when absent
    p.add_argument("--db", default=argparse.SUPPRESS,
                   help="database: a SQLite file or SQLAlchemy URL (default: the embedded "
                        "project in the user data folder, seeded with samples on first run)")
    p.add_argument("--project", default=argparse.SUPPRESS, help="project inside the database")
    p.add_argument("--annotator", default=argparse.SUPPRESS,
                   help="who annotates in this window (an annotator with documents assigned "
                        "works in their own layer; default: the settings, else the login)")
    p.set_defaults(func=cmd_gui)


def cmd_gui(args: Any) -> int:
    # The CLI is the composition root: this one command loads the Qt front end, by name and
    # only when run, so the core package itself never depends on ``ui`` (tests/test_layers.py).
    app = importlib.import_module("ui.app")
    return app.run_gui(db=args.db, project=args.project,
                       annotator=getattr(args, "annotator", None))

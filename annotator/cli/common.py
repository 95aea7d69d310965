"""Helpers shared by the sub-command handlers."""

from __future__ import annotations

import json
import sys
from typing import Any

from annotator.jobs import Job, Progress

# sub-commands that only read: a missing database file or project is refused by name
# ("no project 'x' in DB; projects: ...") instead of being created empty
READ_ONLY_COMMANDS = frozenset({"stats", "export"})


def open_store(args: Any, *, create: bool | None = None):
    """The store named by ``--db`` / ``--project`` (imported lazily: db loads SQLAlchemy).

    ``create`` (default: False for ``READ_ONLY_COMMANDS``, else True): whether a project
    that does not exist yet may be created, by the command's first write."""
    from db import Store

    if create is None:
        create = getattr(args, "command", None) not in READ_ONLY_COMMANDS
    return Store(args.db, args.project, create=create)


def run_job(job: Job, desc: str, *, unit: str = "doc") -> Any:
    """Drive a job with a tqdm progress bar on stderr. Ctrl-C closes the job (finished
    work stays stored) and propagates as KeyboardInterrupt."""
    from tqdm import tqdm

    bar = tqdm(desc=desc, unit=unit, file=sys.stderr, dynamic_ncols=True,
               disable=not sys.stderr.isatty() and None)
    try:
        while True:
            try:
                p: Progress = next(job)
            except StopIteration as stop:
                return stop.value
            if p.total is not None and bar.total != p.total:
                bar.total = p.total
            bar.n = p.done
            if p.stats:
                bar.set_postfix({k: v for k, v in p.stats.items()
                                 if isinstance(v, (int, float, str))}, refresh=False)
            bar.refresh()
    except BaseException:
        job.close()
        raise
    finally:
        bar.close()


def print_json(obj: Any) -> None:
    print(json.dumps(obj, ensure_ascii=False, indent=2, default=str))


def annotator_name(args: Any) -> str:
    """Whose decisions a command writes: the sub-command's ``--annotator``, else the global
    ``annotator --annotator NAME``, else the settings / login (``review.get_annotator``)."""
    from annotator.review import get_annotator

    return (getattr(args, "annotator_sub", None) or getattr(args, "annotator", None)
            or get_annotator())


def work_store(store: Any, who: str) -> Any:
    """Where ``who``'s decisions go: their layer of the project when documents are assigned
    to them there (``annotator assign``), else the project itself."""
    from db.team_queries import work_store as _work_store

    return _work_store(store, who)

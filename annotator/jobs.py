"""Slow work as generators that yield progress.

A job is a generator function that yields ``Progress`` and returns its result. The CLI drives
it with a progress bar (``annotator.cli.common.run_job``); the GUI drives it on a worker thread
(``ui.workers``). Cancelling closes the generator: it raises ``GeneratorExit`` at the current
``yield``, so a job commits each finished unit of work before it yields and loses at most the
unit in flight.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from typing import Any

from .errors import CancelledError


@dataclass
class Progress:
    done: int
    total: int | None = None
    message: str = ""
    stats: dict[str, Any] = field(default_factory=dict)


Job = Generator[Progress, None, Any]


def drive(
    job: Job,
    on_progress: Callable[[Progress], None] | None = None,
    cancel: threading.Event | None = None,
) -> Any:
    """Run a job to the end and return its result.

    Raises ``CancelledError`` (after closing the job) when ``cancel`` is set between steps.
    """
    try:
        while True:
            p = next(job)
            if on_progress is not None:
                on_progress(p)
            if cancel is not None and cancel.is_set():
                job.close()
                raise CancelledError("cancelled")
    except StopIteration as stop:
        return stop.value
    except BaseException:
        job.close()
        raise

"""Where grading workers come from: a forkserver that imported the grader once.

A fresh worker is then a fork, not a second Python start-up. `start_early()` starts that server
before the command's own imports, so that both import the grader at the same time, one per core.
"""

from __future__ import annotations

from functools import cache
from multiprocessing import get_context
from multiprocessing.context import BaseContext

PRELOAD = ["grader.autograde"]


@cache
def worker_context() -> BaseContext:
    """The forkserver context (spawn where a platform has no forkserver)."""
    try:
        context = get_context("forkserver")
    except ValueError:
        return get_context("spawn")
    context.set_forkserver_preload(PRELOAD)
    return context


def start_early() -> None:
    """Start the forkserver now, if there is one; it is started on first use otherwise."""
    if worker_context().get_start_method() == "forkserver":
        from multiprocessing import forkserver

        forkserver.ensure_running()

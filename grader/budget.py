"""A step after grading does one notebook's work within a budget, and a notebook that breaks it costs
only itself.

`within_budget` runs the work in a forked child with a memory limit (address space beyond what the
parent already holds) and a time limit; the result comes back pickled through a pipe. Whatever the
child does (raise, run out of memory, loop, crash) the caller gets either the result or `StepFailed`
with one line saying what happened, and goes on with the next notebook.
"""

from __future__ import annotations

import os
import pickle
import resource
import select
import signal
import time
from collections.abc import Callable
from typing import TypeVar

from grader.inert import terminal_safe

T = TypeVar("T")
SECONDS = 60.0
MEMORY_BYTES = 1 << 30


class StepFailed(Exception):
    """One notebook's work failed or exceeded its budget; the message is one line for the instructor."""


def _address_space() -> int:
    with open("/proc/self/statm", encoding="ascii") as statm:
        return int(statm.read().split()[0]) * resource.getpagesize()


def _child(work: Callable[[], object], memory_bytes: int, seconds: float, pipe: int) -> None:
    try:
        limit = _address_space() + memory_bytes
        resource.setrlimit(resource.RLIMIT_AS, (limit, resource.getrlimit(resource.RLIMIT_AS)[1]))
        signal.signal(signal.SIGALRM, signal.SIG_DFL)  # the parent's deadline kills the child anyway
        outcome: tuple[str, object] = ("ok", work())
    except MemoryError:
        outcome = ("failed", f"used more than its {memory_bytes >> 20} MB of memory")
    except BaseException as error:  # anything at all: the notebook's work failed, the step goes on
        outcome = ("failed", f"{type(error).__name__}: {str(error).strip() or 'no message'}")
    try:
        data = pickle.dumps(outcome)
    except Exception as error:
        data = pickle.dumps(("failed", f"its result could not be passed on ({type(error).__name__})"))
    with os.fdopen(pipe, "wb") as out:
        out.write(data)


def within_budget(work: Callable[[], T], seconds: float = SECONDS, memory_bytes: int = MEMORY_BYTES) -> T:
    """`work()`, run in a forked child with `memory_bytes` more memory and `seconds` of time; its result,
    or StepFailed (one line) when it raised, ran out of memory or time, or died."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns into the caller's code
        os.close(read)
        status = 0
        try:
            _child(work, memory_bytes, seconds, write)
        except BaseException:
            status = 1
        finally:
            os._exit(status)
    os.close(write)
    chunks, deadline, timed_out = [], time.monotonic() + seconds, False
    with os.fdopen(read, "rb") as pipe:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                timed_out = True
                break
            ready, _, _ = select.select([pipe], [], [], left)
            if ready:
                chunk = os.read(pipe.fileno(), 1 << 20)
                if not chunk:
                    break
                chunks.append(chunk)
    if timed_out:
        os.kill(pid, signal.SIGKILL)
    _, status = os.waitpid(pid, 0)
    if timed_out:
        raise StepFailed(f"took longer than its {seconds:g} s")
    try:
        kind, value = pickle.loads(b"".join(chunks))
    except Exception:
        died = f"signal {os.WTERMSIG(status)}" if os.WIFSIGNALED(status) else f"status {status}"
        raise StepFailed(f"its process died ({died}), likely out of its {memory_bytes >> 20} MB") from None
    if kind != "ok":
        raise StepFailed(terminal_safe(value, limit=300))
    return value  # type: ignore[return-value]

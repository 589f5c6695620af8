"""The state of a world's student code: its output limits, and whether it runs quietly now."""

from __future__ import annotations

import contextlib
import io
import os


class Output:
    """Output limits, as the trusted side sends them with every world (no defaults here)."""

    text = 0
    figure_bytes = 0
    figures = 0


class Quiet:
    """Whether what runs now draws nothing (a replay for a test cell, or a test's call)."""

    now = False


class Capture(io.StringIO):
    """A stream that keeps at most the text limit's characters."""

    def write(self, text: str) -> int:
        room = Output.text - self.tell()
        if room > 0:
            super().write(text[:room])
        return len(text)


_student_running = False


def lower_priority_of_forks() -> None:
    """Processes the student's code forks run at a low priority: a fork bomb cannot starve other sandboxes."""
    if _student_running:
        with contextlib.suppress(OSError):
            os.nice(19)  # the lowest: a fork bomb (uncapped when grading as root) leaves the cores to others


@contextlib.contextmanager
def student_code(quiet: bool = False):
    global _student_running
    _student_running, Quiet.now = True, quiet
    try:
        yield
    finally:
        _student_running, Quiet.now = False, False


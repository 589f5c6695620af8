"""`grader feedback`: one HTML page per graded notebook, without hidden tests or their tracebacks."""

from __future__ import annotations

from pathlib import Path

from grader import ASSIGNMENT
from grader.course import Course


def feedback(course: Course, student: str | None = None) -> list[Path]:
    """Generate feedback for every graded student (or one); return the HTML files.

    Feedback is derived from the graded notebooks, so it is always written anew: a regraded
    notebook never keeps stale feedback.
    """
    args = ["generate_feedback", ASSIGNMENT, "--force"]
    if student:
        args += ["--student", student]
    course.nbgrader(*args)
    return sorted(course.step_dir("feedback", student or "*").parent.parent.glob(f"*/{ASSIGNMENT}/*.html"))

"""`grader feedback`: one HTML page per graded notebook, without hidden tests, tracebacks or live markup."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from grader.course import Course
from grader.errors import GraderError
from grader.inert import terminal_safe

NOTE = re.compile(r"grader-note: (?P<text>.*)$", re.MULTILINE)
# nbgrader's line for a student whose notebooks failed outside the exporter (it removes their pages)
FAILED = re.compile(r"There was an error processing assignment '([^'\n]*)' for student '([^'\n]*)'")


@dataclass
class FeedbackResult:
    """The pages written, and what the feedback steps had to withhold (one line each)."""

    files: list[Path] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def feedback(course: Course, student: str | None = None, assignment: str | None = None) -> FeedbackResult:
    """Generate feedback for every graded student (or one) of an assignment; return that student's pages.

    Feedback is derived from the graded notebooks, so it is always written anew: a regraded
    notebook never keeps stale feedback.
    """
    assignment = course.assignment(assignment)
    graded = course.students("autograded", assignment)
    if student is not None and student not in graded:
        raise GraderError(f"{course.folder('autograded', assignment, student)}: no graded notebooks for "
                          f"student {student!r}; check the id or run `grader autograde` first.")
    if not graded:
        raise GraderError(f"{course.step_root('autograded', assignment)}: nothing graded yet for "
                          f"{assignment}; run `grader autograde` first.")
    course.register(assignment)
    args = ["generate_feedback", assignment, "--force"]
    if student:
        args += ["--student", student]
    run = course.nbgrader(*args, check=False)
    failed = FAILED.findall(run.stderr)
    if run.returncode != 0 and not failed:
        course.nbgrader(*args)  # raises GraderError with nbgrader's last error line
    notes = [terminal_safe(match.group("text"), limit=500) for match in NOTE.finditer(run.stderr)]
    notes += [f"{terminal_safe(name)}: no feedback pages (nbgrader failed on this student's notebooks; "
              f"see `nbgrader generate_feedback {assignment} --student {terminal_safe(name)}`)"
              for _, name in failed]
    who = [student] if student else course.students("feedback", assignment)
    files = sorted(path for name in who
                   for path in course.folder("feedback", assignment, name).glob("*.html"))
    return FeedbackResult(files, notes)

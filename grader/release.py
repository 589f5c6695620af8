"""`grader release`: generate the student versions in release/ from source/ with nbgrader."""

from __future__ import annotations

from pathlib import Path

from grader.course import Course
from grader.errors import GraderError
from grader.lint import lint


def release(course: Course, assignment: str | None = None) -> Path:
    """Check the source notebooks, then regenerate the assignment's release folder (never edited by hand)."""
    assignment = course.assignment(assignment)
    problems = lint(course, assignment)
    if problems:
        raise GraderError(f"{problems[0]} (and {len(problems) - 1} more; run `grader lint`)"
                          if len(problems) > 1 else problems[0])
    course.nbgrader("generate_assignment", assignment, "--force")
    return course.folder("release", assignment)

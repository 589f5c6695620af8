"""`grader release`: generate the student versions in release/ from source/ with nbgrader."""

from __future__ import annotations

from pathlib import Path

from grader import ASSIGNMENT
from grader.course import Course
from grader.errors import GraderError
from grader.lint import lint


def release(course: Course) -> Path:
    """Check the source notebooks, then regenerate release/lecture01 (it is never edited by hand)."""
    problems = lint(course)
    if problems:
        raise GraderError(f"{problems[0]} (and {len(problems) - 1} more; run `grader lint`)"
                          if len(problems) > 1 else problems[0])
    course.nbgrader("generate_assignment", ASSIGNMENT, "--force")
    return course.release

"""The one status type of a unit (one student's notebook of one assignment)."""

from __future__ import annotations

from enum import Enum


class Status(str, Enum):
    """What became of one student's notebook."""

    GRADED = "graded"
    NOT_GRADED = "not graded"  # could not be graded as a whole; a reason says why, points earned are kept
    MISSING = "missing"  # not handed in
    PENDING = "not graded yet"  # handed in, never graded (or a grading left no graded notebook)

    def __str__(self) -> str:
        return self.value

"""The grading records of `grader autograde`: what was graded from which files, and why a unit failed.

A record is a cache, not the truth about a grading: it makes an interrupted run resumable (the
digest of the submission and of its tests) and keeps the reason when a notebook could not be graded
at all (nothing else holds it then). What a grading produced is derived in grader.outcomes from the
graded notebooks and the gradebook, whichever command graded. Records are student data and live
in the course's results folder.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

from grader.course import Course
from grader.files import write_text_atomically
from grader.inert import terminal_safe
from grader.status import Status

REASON_LIMIT = 2000  # characters of a reason kept in a record (a student's text can be any length)


@dataclass(frozen=True)
class UnitRecord:
    """How `grader autograde` last graded one student's notebook."""

    student: str
    notebook: str
    status: Status
    reason: str = ""
    digest: str = ""
    unsandboxed: str = ""  # what of the sandbox was missing when it was graded (--no-sandbox)

    def __post_init__(self) -> None:
        # A reason can quote a submission: it is kept terminal-safe (control characters escaped, cut).
        object.__setattr__(self, "reason", terminal_safe(self.reason, limit=REASON_LIMIT))


def record_path(course: Course, assignment: str, student: str, notebook: str) -> Path:
    return course.results(assignment, student) / f"{notebook}.json"


def save_record(course: Course, assignment: str, record: UnitRecord) -> None:
    """Write a record atomically (an interrupted run never leaves half a record)."""
    data = {**asdict(record), "status": record.status.value}
    write_text_atomically(record_path(course, assignment, record.student, record.notebook),
                          json.dumps(data, indent=1))


def load_record(course: Course, assignment: str, student: str, notebook: str) -> UnitRecord | None:
    path = record_path(course, assignment, student, notebook)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return UnitRecord(data["student"], data["notebook"], Status(data["status"]),
                          str(data.get("reason", "")), str(data.get("digest", "")),
                          str(data.get("unsandboxed", "")))
    except (OSError, ValueError, TypeError, KeyError):
        return None

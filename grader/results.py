"""One record per graded unit (student, notebook): status, reason and each test's verdict.

The records make an interrupted `grader autograde` resumable and feed `grader report`. They are
student data and live under autograded/results/.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

from grader.course import Course


@dataclass
class UnitRecord:
    """How one student's notebook was graded."""

    student: str
    notebook: str
    status: str  # "graded", "not graded" (with a reason; points earned before are kept) or "missing"
    reason: str = ""
    digest: str = ""
    cells: list[dict] = field(default_factory=list)


def results_dir(course: Course) -> Path:
    return course.step_dir("autograded", "*").parent.parent.parent / "results"


def _path(course: Course, student: str, notebook: str) -> Path:
    return results_dir(course) / student / f"{notebook}.json"


def save_record(course: Course, record: UnitRecord) -> None:
    """Write a record atomically (an interrupted run never leaves half a record)."""
    path = _path(course, record.student, record.notebook)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(asdict(record), indent=1), encoding="utf-8")
    os.replace(temporary, path)


def load_record(course: Course, student: str, notebook: str) -> UnitRecord | None:
    path = _path(course, student, notebook)
    try:
        return UnitRecord(**json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, TypeError):
        return None


def load_records(course: Course) -> list[UnitRecord]:
    """Every record, sorted by student and notebook."""
    records = []
    for path in sorted(results_dir(course).glob("*/*.json")):
        record = load_record(course, path.parent.name, path.stem)
        if record is not None:
            records.append(record)
    return records

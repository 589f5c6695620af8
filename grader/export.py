"""`grader export`: the scores of every student, per notebook and per question, as CSV."""

from __future__ import annotations

import csv
from pathlib import Path

from grader.course import Course
from grader.errors import GraderError
from grader.scores import CellScore, cell_scores


def export_scores(course: Course, path: Path, force: bool = False) -> Path:
    """Write one row per student: total, each notebook's score and each question's score."""
    if path.exists() and not force:
        raise GraderError(f"{path}: already exists; pass --force to overwrite it or choose another file.")
    rows = cell_scores(course)
    if not rows:
        raise GraderError(f"{course.db_url}: no grades yet; run `grader autograde` first.")
    columns = _columns(rows)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, quoting=csv.QUOTE_MINIMAL)
        writer.writerow(["student", "total", "max_total", *columns])
        for student, scores in _by_student(rows).items():
            total = sum(row.score for row in scores)
            maximum = sum(row.max_score for row in scores)
            per_column = _per_column(scores)
            writer.writerow([student, _number(total), _number(maximum),
                             *(_number(per_column.get(column, 0.0)) for column in columns)])
    return path


def _columns(rows: list[CellScore]) -> list[str]:
    notebooks = sorted({row.notebook for row in rows})
    cells = list(dict.fromkeys(f"{row.notebook}:{row.cell}" for row in rows))
    return [*notebooks, *cells]


def _per_column(scores: list[CellScore]) -> dict[str, float]:
    result: dict[str, float] = {}
    for row in scores:
        result[row.notebook] = result.get(row.notebook, 0.0) + row.score
        result[f"{row.notebook}:{row.cell}"] = row.score
    return result


def _by_student(rows: list[CellScore]) -> dict[str, list[CellScore]]:
    grouped: dict[str, list[CellScore]] = {}
    for row in rows:
        grouped.setdefault(row.student, []).append(row)
    return grouped


def _number(value: float) -> str:
    return f"{value:g}"

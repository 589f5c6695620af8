"""Scores as nbgrader's gradebook holds them: per student, notebook and test cell (manual grades included)."""

from __future__ import annotations

from dataclasses import dataclass

from grader.course import Course


@dataclass(frozen=True)
class CellScore:
    """The score of one test cell of one student's notebook."""

    student: str
    notebook: str
    cell: str
    score: float
    max_score: float


def cell_scores(course: Course, assignment: str | None = None) -> list[CellScore]:
    """Every graded test cell of every submission, sorted by student, notebook and cell order."""
    assignment = course.assignment(assignment)
    rows = []
    with course.gradebook(assignment) as gradebook:
        for submission in gradebook.assignment_submissions(assignment):
            for notebook in submission.notebooks:
                for grade in notebook.grades:
                    rows.append(CellScore(submission.student_id, notebook.name, grade.name,
                                          float(grade.score), float(grade.max_score)))
    return sorted(rows, key=lambda row: (row.student, row.notebook))


def notebook_totals(rows: list[CellScore]) -> dict[tuple[str, str], tuple[float, float]]:
    """(score, max) per (student, notebook)."""
    totals: dict[tuple[str, str], tuple[float, float]] = {}
    for row in rows:
        score, maximum = totals.get((row.student, row.notebook), (0.0, 0.0))
        totals[(row.student, row.notebook)] = (score + row.score, maximum + row.max_score)
    return totals


def student_totals(rows: list[CellScore]) -> dict[str, tuple[float, float]]:
    """(score, max) per student, over all notebooks."""
    totals: dict[str, tuple[float, float]] = {}
    for (student, _), (score, maximum) in notebook_totals(rows).items():
        old_score, old_maximum = totals.get(student, (0.0, 0.0))
        totals[student] = (old_score + score, old_maximum + maximum)
    return totals

"""Each student's result as an LMS wants it: total, per-notebook summary, grade scaled to the LMS maximum.

Grade scaling: the LMS gets the total points when its maximum equals the assignment's total (or is not
known); when the instructor set another maximum in the LMS (Moodle's "Maximum Grade", Canvas's "Points
Possible"), the grade is the total scaled to it, ``points / total possible * LMS maximum``, rounded to
two decimals (the precision both LMSs show). The feedback comment always states the points.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from grader.course import Course
from grader.lms.roster import parse_student_id
from grader.outcomes import AssignmentOutcomes, outcomes
from grader.status import Status


@dataclass(frozen=True)
class NotebookResult:
    """One notebook of one student: points and whether it was graded, missing or could not be graded."""

    name: str
    score: float
    max_score: float
    state: Status


@dataclass(frozen=True)
class StudentResult:
    """A graded student: total points, the notebooks, and whether feedback files exist."""

    student: str
    score: float
    max_score: float
    notebooks: tuple[NotebookResult, ...]
    feedback_files: int
    assignment: str = ""

    def comment(self, lms_max: float | None = None) -> str:
        """A short feedback text: total, then each notebook's points or why it has none."""
        total = f"{self.assignment}: {number(self.score)} of {number(self.max_score)} points"
        grade = scaled(self.score, self.max_score, lms_max)
        if lms_max is not None and grade != round(self.score, 2):
            total += f" (grade {number(grade)} of {number(lms_max)})"
        parts = []
        for notebook in self.notebooks:
            points = f"{number(notebook.score)}/{number(notebook.max_score)}"
            if notebook.state is Status.MISSING:
                parts.append(f"{notebook.name} not handed in ({points})")
            elif notebook.state is not Status.GRADED:
                parts.append(f"{notebook.name} could not be graded ({points})")
            else:
                parts.append(f"{notebook.name} {points}")
        text = f"{total}. " + "; ".join(parts) + "."
        if self.feedback_files:
            text += " The feedback files show the result of every test."
        return text


def student_results(course: Course, assignment: str,
                    derived: AssignmentOutcomes | None = None) -> dict[str, StudentResult]:
    """Every student with grades in the gradebook, by nbgrader id (statuses derived in grader.outcomes;
    pass `derived` when the caller has them already)."""
    derived = derived or outcomes(course, assignment)
    graded = {row.student for row in derived.scores}
    results = {}
    for student in sorted(graded):
        notebooks = tuple(NotebookResult(unit.notebook, unit.score, unit.max_score, unit.status)
                          for unit in derived.of(student))
        feedback = len(list(course.folder("feedback", assignment, student).glob("*.html")))
        results[student] = StudentResult(student, sum(n.score for n in notebooks),
                                         sum(n.max_score for n in notebooks), notebooks, feedback, assignment)
    return results


def scaled(score: float, max_score: float, lms_max: float | None) -> float:
    """The grade for the LMS: the points, or the points scaled to the LMS maximum when that differs."""
    if lms_max is None or max_score <= 0 or abs(lms_max - max_score) < 1e-9:
        return round(score, 2)
    return round(score / max_score * lms_max, 2)


def number(value: float) -> str:
    """A number with at most two decimals, no trailing zeros and a decimal point ("7.5", "10"): what both
    LMSs read in every language (Moodle's ``unformat_float``, Canvas's ``decimal_comma_to_period``)."""
    text = f"{round(value, 2):.2f}".rstrip("0").rstrip(".")
    text = "0" if text == "-0" else text
    return text


def parse_number(text: str) -> float | None:
    """A number as an LMS prints it ("100.00", "100,00", "1,000.50"); None if it is not one."""
    text = text.strip().replace("\u00a0", "").replace(" ", "")
    if not re.fullmatch(r"-?[\d.,]+", text) or not re.search(r"\d", text):
        return None
    head, separator, tail = max(text.rpartition("."), text.rpartition(","), key=lambda parts: len(parts[0]))
    if separator and len(tail) != 3:
        text = re.sub(r"[.,]", "", head) + "." + tail
    else:
        text = re.sub(r"[.,]", "", text)
    try:
        return float(text)
    except ValueError:
        return None


def unlisted(results: dict[str, StudentResult], listed: set[str], lms: str, where: str) -> list[str]:
    """Notes for graded students of this LMS whom an LMS file does not list (their grade goes nowhere)."""
    return [f"{sid}: graded but not in {where}; the grade is only in the scores CSV."
            for sid in sorted(results) if sid not in listed and (parse_student_id(sid) or ("",))[0] == lms]

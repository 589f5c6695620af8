"""`grader demo`: a complete class on sample submissions, from release to exported grades."""

from __future__ import annotations

import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from grader.autograde import AutogradeResult, autograde
from grader.classroom import release_notebook, solved_notebook, submit
from grader.course import Course, new_course
from grader.export import export_scores
from grader.feedback import feedback
from grader.release import release
from grader.report import build_report
from grader.samples import all_samples
from grader.scores import cell_scores, notebook_totals, student_totals


@dataclass
class DemoStudent:
    """A sample student: what they hand in and what the demo planted in it."""

    name: str
    story: str
    notebooks: dict = field(default_factory=dict)


def demo_students(course: Course) -> list[DemoStudent]:
    """A correct student who writes differently, an untouched release, three with mistakes, one broken."""
    samples = all_samples()
    ada = DemoStudent("ada", "correct, written differently from the solutions")
    ben = DemoStudent("ben", "handed in the untouched release")
    finn = DemoStudent("finn", "one notebook corrupted by a bad upload")
    mistaken = [DemoStudent(name, "") for name in ("cleo", "dan", "eve")]
    for index, notebook in enumerate(samples):
        name = notebook.notebook
        ada.notebooks[name] = solved_notebook(course, name, next(iter(notebook.alternatives.values())))
        ben.notebooks[name] = release_notebook(course, name)
        finn.notebooks[name] = solved_notebook(course, name)
        for position, student in enumerate(mistaken):
            student.notebooks[name] = solved_notebook(course, name)
            if index % len(mistaken) == position and notebook.mistakes:
                mistake = notebook.mistakes[position % len(notebook.mistakes)]
                student.notebooks[name] = solved_notebook(course, name, mistake.cells)
                student.story += ("; " if student.story else "mistakes: ") + mistake.name
    broken = samples[len(samples) // 2].notebook
    finn.notebooks[broken] = b'{"cells": [{"cell_type": "code", "source": "import numpy as np'
    return [ada, ben, *mistaken, finn]


def run_demo(template: Course, into: Path | None = None) -> tuple[Course, str]:
    """Release, hand in, autograde, give feedback and export for the sample class; return the table."""
    folder = into or Path(tempfile.mkdtemp(prefix="grader-demo-")) / "course"
    course = new_course(folder, template)
    release(course)
    students = demo_students(course)
    for student in students:
        submit(course, student.name, student.notebooks)
    # The demo grades the project's own sample class: it may run where the sandbox is incomplete.
    result = autograde(course, accept_risk=True)
    if result.unsandboxed:
        missing = "; ".join(result.unsandboxed)
        print(f"WARNING: the demo class was graded without a complete sandbox ({missing}); "
              "`grader autograde` refuses to grade real submissions so", file=sys.stderr)
    feedback(course)
    exports = course.exports(course.assignment())
    export_scores(course, exports / "scores.csv")
    build_report(course, exports / "report.html")
    return course, score_table(course, students, result)


def score_table(course: Course, students: list[DemoStudent], result: AutogradeResult) -> str:
    """A plain-text table: one row per student, one column per notebook, the total and the story."""
    rows = cell_scores(course)
    totals, overall = notebook_totals(rows), student_totals(rows)
    notebooks = course.notebook_names()
    header = ["student", *(name[:2] for name in notebooks), "total", "what the demo planted"]
    lines = [header]
    for student in students:
        cells = []
        for name in notebooks:
            score, maximum = totals.get((student.name, name), (0.0, 0.0))
            reason = result.not_graded.get((student.name, name))
            cells.append("n/g" if reason else f"{score:g}/{maximum:g}")
        score_sum, max_sum = overall.get(student.name, (0.0, 0.0))
        lines.append([student.name, *cells, f"{score_sum:g}/{max_sum:g}", student.story])
    widths = [max(len(row[i]) for row in lines) for i in range(len(header) - 1)]
    text = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=False)) + "  " + row[-1]
            for row in lines]
    legend = [f"  {name[:2]} = {name}" for name in notebooks]
    not_graded = [f"  n/g {student} {notebook}: {reason}"
                  for (student, notebook), reason in sorted(result.not_graded.items())]
    footer = ["not graded:", *not_graded] if not_graded else []
    return "\n".join([*text, "", "notebooks:", *legend, *footer])

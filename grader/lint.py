"""`grader lint`: check the instructor notebooks before they are released."""

from __future__ import annotations

import re

from nbformat import NotebookNode

from grader.course import Course
from grader.errors import GraderError
from grader.notebooks import (
    HIDDEN_DELIMITERS,
    SOLUTION_DELIMITERS,
    is_solution,
    is_test,
    nbgrader_meta,
    read_notebook,
)

GRADE_ID = re.compile(r"^[A-Za-z0-9_-]+$")


def lint(course: Course, assignment: str | None = None) -> list[str]:
    """Every problem in an assignment's source notebooks, one line each, naming the file and the cell."""
    assignment = course.assignment(assignment)
    source = course.folder("source", assignment)
    problems: list[str] = []
    seen: dict[str, str] = {}
    for name in course.notebook_names(assignment):
        path = source / f"{name}.ipynb"
        try:
            notebook = read_notebook(path)
        except GraderError as error:
            problems.append(str(error))
            continue
        problems += [f"{path.name}: {problem}" for problem in lint_notebook(notebook)]
        for cell in notebook.cells:
            grade_id = nbgrader_meta(cell).get("grade_id")
            if grade_id and grade_id in seen:
                problems.append(f"{path.name}: grade_id {grade_id!r} is also used in {seen[grade_id]}; "
                                "make grade ids unique across the assignment.")
            elif grade_id:
                seen[grade_id] = path.name
    if not (source / "checks.py").exists():
        problems.append(f"{source / 'checks.py'}: missing; the test cells import it.")
    return problems


def lint_notebook(notebook: NotebookNode) -> list[str]:
    """The problems of one notebook."""
    problems = []
    cells = notebook.cells
    for index, cell in enumerate(cells):
        where = _where(index, cell)
        problems += [f"{where}: {problem}" for problem in _cell_problems(cell)]
        if is_solution(cell):
            following = next((c for c in cells[index + 1:] if c.cell_type == "code"), None)
            if following is None or not is_test(following):
                problems.append(f"{where}: a solution cell must be followed by its autograder test cell.")
    return problems


def _where(index: int, cell: NotebookNode) -> str:
    grade_id = nbgrader_meta(cell).get("grade_id")
    return f"cell {index + 1}" + (f" ({grade_id})" if grade_id else "")


def _cell_problems(cell: NotebookNode) -> list[str]:
    problems = []
    meta = nbgrader_meta(cell)
    if cell.cell_type == "code" and (cell.get("outputs") or cell.get("execution_count") is not None):
        problems.append("has outputs; clear all outputs before saving the source notebook.")
    if meta:
        if meta.get("schema_version") != 3:
            problems.append(f"nbgrader schema_version is {meta.get('schema_version')!r}, expected 3.")
        if not GRADE_ID.match(str(meta.get("grade_id", ""))):
            problems.append("needs a grade_id made of letters, digits, - and _.")
        if meta.get("grade") and not (isinstance(meta.get("points"), (int, float)) and meta["points"] > 0):
            problems.append("is graded but has no positive points.")
    problems += _delimiter_problems(cell.source, SOLUTION_DELIMITERS, allowed=is_solution(cell)
                                    or (cell.cell_type == "markdown" and bool(meta.get("solution"))))
    problems += _delimiter_problems(cell.source, HIDDEN_DELIMITERS, allowed=is_test(cell))
    return problems


def _delimiter_problems(source: str, delimiters: tuple[str, str], allowed: bool) -> list[str]:
    begin, end = delimiters
    depth = 0
    for line in source.splitlines():
        if begin in line:
            if not allowed:
                return [f"'{begin}' belongs only in a {_kind(delimiters)} cell."]
            if depth:
                return [f"'{begin}' inside another '{begin}' region."]
            depth = 1
        elif end in line:
            if not depth:
                return [f"'{end}' without '{begin}'."]
            depth = 0
    return [f"'{begin}' is never closed by '{end}'."] if depth else []


def _kind(delimiters: tuple[str, str]) -> str:
    return "solution" if delimiters == SOLUTION_DELIMITERS else "autograder test"


"""What a grading produced, per student and notebook: the one source of truth for report, export, LMS.

It is derived from what every way of grading leaves behind, so `grader autograde`, plain
`nbgrader autograde` and formgrader's buttons all give the same answer:

- the submitted notebook (handed in or not),
- the graded notebook and the problems `SandboxedExecute` wrote into its metadata (a crashed cell,
  a time limit: "not graded"), its test cells' messages,
- the gradebook's scores (manual grades from formgrader included),
- and, only where no graded notebook exists, the reason `grader autograde` recorded.
"""

from __future__ import annotations

import ast
import json
import re
from dataclasses import dataclass, field

from nbformat import NotebookNode

from grader.course import Course
from grader.errors import GraderError
from grader.notebooks import is_test, nbgrader_meta, read_notebook
from grader.records import load_record
from grader.scores import CellScore, cell_scores
from grader.status import Status

PROBLEMS = "grader_problems"  # key in a graded notebook's metadata: why it could not be graded as a whole
MISTAKE = re.compile(r"^This matches a known mistake: (?P<name>.+?)\.?\s*$", re.MULTILINE)


@dataclass(frozen=True)
class CellOutcome:
    """One test cell of one student's notebook: its score and the message of its check."""

    cell: str
    score: float
    max_score: float
    message: str = ""
    mistake: str | None = None  # a mistake the instructor's checks diagnosed, never text of the student

    @property
    def passed(self) -> bool:
        return self.score >= self.max_score


@dataclass(frozen=True)
class Outcome:
    """One student's notebook: its status, why (if not graded), and each test cell's result."""

    student: str
    notebook: str
    status: Status
    reason: str = ""
    cells: tuple[CellOutcome, ...] = ()

    @property
    def score(self) -> float:
        return sum(cell.score for cell in self.cells)

    @property
    def max_score(self) -> float:
        return sum(cell.max_score for cell in self.cells)


@dataclass
class AssignmentOutcomes:
    """Every outcome of an assignment, with the gradebook's scores they were derived from."""

    assignment: str
    notebooks: list[str]
    units: list[Outcome] = field(default_factory=list)
    scores: list[CellScore] = field(default_factory=list)

    def students(self) -> list[str]:
        return sorted({unit.student for unit in self.units})

    def of(self, student: str) -> list[Outcome]:
        return [unit for unit in self.units if unit.student == student]


def graded_problems(notebook: NotebookNode) -> list[str]:
    """The problems a grading wrote into a graded notebook (empty: graded as a whole)."""
    problems = notebook.get("metadata", {}).get(PROBLEMS, [])
    return [str(problem) for problem in problems] if isinstance(problems, list) else ["unreadable problems"]


def outcomes(course: Course, assignment: str | None = None) -> AssignmentOutcomes:
    """The outcome of every notebook of every student who submitted or has grades."""
    assignment = course.assignment(assignment)
    result = AssignmentOutcomes(assignment, course.notebook_names(assignment),
                                scores=cell_scores(course, assignment))
    by_unit: dict[tuple[str, str], list[CellScore]] = {}
    for row in result.scores:
        by_unit.setdefault((row.student, row.notebook), []).append(row)
    students = sorted(set(course.students("submitted", assignment)) | {row.student for row in result.scores})
    known = known_mistakes(course, assignment)
    for student in students:
        for notebook in result.notebooks:
            result.units.append(_outcome(course, assignment, student, notebook,
                                         by_unit.get((student, notebook), []), known))
    return result


def _outcome(course: Course, assignment: str, student: str, notebook: str, scores: list[CellScore],
             known: set[str]) -> Outcome:
    submitted = course.folder("submitted", assignment, student) / f"{notebook}.ipynb"
    graded = course.folder("autograded", assignment, student) / f"{notebook}.ipynb"
    if not submitted.exists() and not submitted.is_symlink():
        return Outcome(student, notebook, Status.MISSING, "not handed in", _cells(scores, {}, known))
    if graded.is_file():
        try:
            notebook_node = read_notebook(graded)
        except GraderError as error:
            return Outcome(student, notebook, Status.NOT_GRADED, f"the graded notebook is damaged ({error})")
        problems = graded_problems(notebook_node)
        cells = _cells(scores, _messages(notebook_node), known)
        if problems:
            return Outcome(student, notebook, Status.NOT_GRADED, "; ".join(problems), cells)
        return Outcome(student, notebook, Status.GRADED, "", cells)
    record = load_record(course, assignment, student, notebook)
    if record is not None and record.status is Status.NOT_GRADED:
        return Outcome(student, notebook, Status.NOT_GRADED, record.reason, _cells(scores, {}, known))
    return Outcome(student, notebook, Status.PENDING, "handed in, not graded yet", _cells(scores, {}, known))


def _messages(notebook: NotebookNode) -> dict[str, str]:
    """Each test cell's error message (empty when it passed), as the graded notebook shows it."""
    messages = {}
    for cell in notebook.cells:
        if is_test(cell):
            errors = [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]
            messages[nbgrader_meta(cell).get("grade_id", "")] = (
                f"{errors[0].get('ename')}: {errors[0].get('evalue')}" if errors else "")
    return messages


def _cells(scores: list[CellScore], messages: dict[str, str], known: set[str]) -> tuple[CellOutcome, ...]:
    cells = []
    for row in scores:
        message = messages.get(row.cell, "")
        cells.append(CellOutcome(row.cell, row.score, row.max_score, message,
                                 diagnosed_mistake(message, known) if row.score < row.max_score else None))
    return tuple(cells)


def diagnosed_mistake(message: str, known: set[str]) -> str | None:
    """The known mistake a failing check named; only names the instructor's checks contain count.

    A student's own exception text can contain the words "This matches a known mistake: ...";
    such a name is not in the instructor's test cells or check helpers, so it is never reported.
    """
    for found in MISTAKE.finditer(message or ""):
        if found.group("name") in known:
            return found.group("name")
    return None


def known_mistakes(course: Course, assignment: str) -> set[str]:
    """Every string in the instructor's test cells, check helpers and the tests' data files (a
    notebook's mistake tables beside it): the names a check can diagnose."""
    source = course.folder("source", assignment)
    texts = [path.read_text(encoding="utf-8", errors="replace") for path in sorted(source.glob("*.py"))]
    for path in sorted(source.glob("*.ipynb")):
        try:
            texts += [cell.source for cell in read_notebook(path).cells if is_test(cell)]
        except GraderError:
            continue
    names: set[str] = set()
    for text in texts:
        names |= _strings(text)
    for path in sorted(source.glob("*.json")):
        try:
            names |= _json_strings(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError):
            continue
    return names


def _json_strings(value: object) -> set[str]:
    if isinstance(value, str):
        return {value}
    if isinstance(value, dict):
        return set().union(*map(_json_strings, value.keys()), *map(_json_strings, value.values()))
    if isinstance(value, list):
        return set().union(*map(_json_strings, value))
    return set()


def _strings(code: str) -> set[str]:
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return {a or b for a, b in re.findall(r"\"([^\"\n]+)\"|'([^'\n]+)'", code)}
    return {node.value for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str)}

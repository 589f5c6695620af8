"""`grader autograde`: grade every submission with nbgrader, one bad notebook costing only itself."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from grader import ASSIGNMENT
from grader.course import Course
from grader.errors import GraderError
from grader.notebooks import read_notebook


@dataclass
class AutogradeResult:
    """Who was graded, and which notebooks could not be graded and why."""

    graded: list[str] = field(default_factory=list)
    not_graded: dict[tuple[str, str], str] = field(default_factory=dict)
    missing: list[tuple[str, str]] = field(default_factory=list)


def submitted_students(course: Course) -> list[str]:
    """Students with a submission folder for this assignment."""
    root = course.step_dir("submitted", "*").parent.parent
    return sorted(path.parent.name for path in root.glob(f"*/{ASSIGNMENT}") if path.is_dir())


def _scan(course: Course, student: str, notebooks: Iterable[str], result: AutogradeResult) -> list[str]:
    """The student's readable notebooks; unreadable and missing ones are recorded."""
    readable = []
    folder = course.step_dir("submitted", student)
    for name in notebooks:
        path = folder / f"{name}.ipynb"
        if not path.exists():
            result.missing.append((student, name))
            continue
        try:
            read_notebook(path)
        except GraderError as error:
            result.not_graded[(student, name)] = str(error).removeprefix(f"{path}: ")
            continue
        readable.append(name)
    return readable


def autograde(course: Course, students: Iterable[str] | None = None, force: bool = False) -> AutogradeResult:
    """Autograde the submissions of `students` (default: everyone who submitted).

    The whole class goes through one nbgrader run. A student whose run fails
    (a broken notebook, a crash) is graded again notebook by notebook, so the
    failure costs only the notebook that caused it.
    """
    everyone = submitted_students(course)
    chosen = list(students) if students is not None else everyone
    unknown = sorted(set(chosen) - set(everyone))
    if unknown:
        raise GraderError(f"{course.step_dir('submitted', unknown[0])}: no submission for student "
                          f"{unknown[0]!r}; check the id or collect the submissions first.")
    notebooks = course.notebook_names()
    result = AutogradeResult()
    readable = {student: _scan(course, student, notebooks, result) for student in chosen}
    clean = [s for s in chosen if readable[s] and not any(key[0] == s for key in result.not_graded)]
    flagged = [s for s in chosen if s not in clean and readable[s]]
    extra = ["--force"] if force else []
    if clean and set(chosen) == set(everyone):
        course.nbgrader("autograde", ASSIGNMENT, *extra, check=False)
    else:
        for student in clean:
            course.nbgrader("autograde", ASSIGNMENT, "--student", student, *extra, check=False)
    for student in clean:
        if _graded_notebooks(course, student) >= set(readable[student]):
            result.graded.append(student)
        else:
            flagged.append(student)
    for student in flagged:
        _grade_one_by_one(course, student, readable[student], result)
    return result


def _graded_notebooks(course: Course, student: str) -> set[str]:
    return {path.stem for path in course.step_dir("autograded", student).glob("*.ipynb")}


def _grade_one_by_one(course: Course, student: str, notebooks: list[str], result: AutogradeResult) -> None:
    for name in notebooks:
        run = course.nbgrader("autograde", ASSIGNMENT, "--student", student, "--notebook", name,
                              "--force", check=False)
        if not (course.step_dir("autograded", student) / f"{name}.ipynb").exists():
            result.not_graded[(student, name)] = _reason(run.stderr)
    result.graded.append(student)


def _reason(log: str) -> str:
    errors = [line.split("]", 1)[-1].strip() for line in log.splitlines() if "[ERROR]" in line]
    useful = [line for line in errors if line and not line.startswith("There was an error")]
    return useful[0] if useful else "nbgrader could not grade this notebook"


def graded_path(course: Course, student: str, notebook: str) -> Path:
    """Where nbgrader put the graded notebook of a student."""
    return course.step_dir("autograded", student) / f"{notebook}.ipynb"

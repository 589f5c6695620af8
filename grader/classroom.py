"""Building classes of submissions from the sample solutions and mistakes (demo, tests, benchmarks)."""

from __future__ import annotations

from nbformat import NotebookNode

from grader.course import Course
from grader.notebooks import fill, read_notebook, solutions, write_notebook


def release_notebook(course: Course, name: str, assignment: str | None = None) -> NotebookNode:
    """The student version of a notebook, as released."""
    return read_notebook(course.folder("release", course.assignment(assignment)) / f"{name}.ipynb")


def solved_notebook(course: Course, name: str, code: dict[str, str] | None = None,
                    assignment: str | None = None) -> NotebookNode:
    """The student version filled with the instructor's solutions, some cells replaced by `code`."""
    assignment = course.assignment(assignment)
    instructor = solutions(read_notebook(course.folder("source", assignment) / f"{name}.ipynb"))
    return fill(release_notebook(course, name, assignment), {**instructor, **(code or {})})


def submit(course: Course, student: str, notebooks: dict[str, NotebookNode | bytes],
           assignment: str | None = None) -> None:
    """Put a student's notebooks where nbgrader expects submissions (bytes are written as they are)."""
    folder = course.folder("submitted", course.assignment(assignment), student)
    folder.mkdir(parents=True, exist_ok=True)
    for name, notebook in notebooks.items():
        path = folder / f"{name}.ipynb"
        if isinstance(notebook, bytes):
            path.write_bytes(notebook)
        else:
            write_notebook(notebook, path)

"""`grader lint` finds what would break a release, and passes the course's own notebooks."""

from __future__ import annotations

import subprocess
import sys

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from grader.course import Course, new_course
from grader.lint import lint, lint_notebook

SOLVED = "def f():\n    ### BEGIN SOLUTION\n    return 1\n    ### END SOLUTION"


def solution(grade_id: str, source: str = SOLVED):
    meta = {"grade": False, "solution": True, "locked": False, "task": False, "grade_id": grade_id,
            "schema_version": 3}
    return new_code_cell(source, metadata={"nbgrader": meta})


def autograder_cell(grade_id: str, source: str = "assert f() == 1", points: int = 1):
    meta = {"grade": True, "solution": False, "locked": True, "task": False, "grade_id": grade_id,
            "points": points, "schema_version": 3}
    return new_code_cell(source, metadata={"nbgrader": meta})


def notebook(*cells):
    return new_notebook(cells=[new_markdown_cell("# Title"), *cells])


def test_a_good_notebook_has_no_problems():
    assert lint_notebook(notebook(solution("f"), autograder_cell("test_f"))) == []


@pytest.mark.parametrize(
    ("cells", "expected"),
    [
        ([solution("f", "def f():\n    ### BEGIN SOLUTION\n    return 1"), autograder_cell("test_f")],
         "'### BEGIN SOLUTION' is never closed"),
        ([solution("f", "def f():\n    return 1\n    ### END SOLUTION"), autograder_cell("test_f")],
         "'### END SOLUTION' without"),
        ([solution("f"), autograder_cell("test_f", "### BEGIN HIDDEN TESTS\nassert f() == 1")],
         "'### BEGIN HIDDEN TESTS' is never closed"),
        ([solution("f", "### BEGIN HIDDEN TESTS\n### END HIDDEN TESTS"), autograder_cell("test_f")],
         "belongs only in a autograder test cell"),
        ([new_code_cell("x = 1\n### BEGIN SOLUTION\n### END SOLUTION")], "belongs only in a solution cell"),
        ([solution("f"), new_code_cell("print(f())"), autograder_cell("test_f")],
         "must be followed by its autograder test cell"),
        ([solution("f")], "must be followed by its autograder test cell"),
        ([solution("f"), autograder_cell("test_f", points=0)], "has no positive points"),
        ([solution("f bad id"), autograder_cell("test_f")], "needs a grade_id"),
    ],
)
def test_each_problem_is_reported_with_its_cell(cells, expected):
    problems = lint_notebook(notebook(*cells))
    assert any(expected in problem for problem in problems), problems
    assert all(problem.startswith("cell ") for problem in problems)


def test_outputs_and_schema_version_are_reported():
    cell = autograder_cell("test_f")
    cell.outputs = [new_output("stream", name="stdout", text="hi")]
    cell.execution_count = 3
    cell.metadata.nbgrader.schema_version = 1
    problems = lint_notebook(notebook(solution("f"), cell))
    assert any("has outputs" in p for p in problems)
    assert any("schema_version is 1, expected 3" in p for p in problems)


def test_duplicate_grade_ids_across_notebooks_and_corrupt_files(tmp_path, repo_course):
    course = new_course(tmp_path / "course", repo_course, notebooks=[])
    source = course.folder("source", "lecture01")  # empty so far: no assignment until a notebook is in it
    nbformat.write(notebook(solution("f"), autograder_cell("test_f")), source / "01_a.ipynb")
    nbformat.write(notebook(solution("f"), autograder_cell("test_g")), source / "02_b.ipynb")
    (source / "03_c.ipynb").write_text("{ not json")
    problems = lint(course)
    assert any("02_b.ipynb: grade_id 'f' is also used in 01_a.ipynb" in p for p in problems)
    assert any("03_c.ipynb: not a readable notebook" in p for p in problems)


def test_the_course_notebooks_pass(repo_course: Course):
    assert lint(repo_course) == []
    assert len(repo_course.notebook_names()) == 6


def test_the_lint_command_exits_nonzero_on_problems(tmp_path, repo_course):
    course = new_course(tmp_path / "course", repo_course, notebooks=[])
    nbformat.write(notebook(solution("f")), course.folder("source", "lecture01") / "01_a.ipynb")
    run = subprocess.run([sys.executable, "-m", "grader.cli", "lint", "--course", str(course.root)],
                         capture_output=True, text=True)
    assert run.returncode == 1
    expected = "01_a.ipynb: cell 2 (f): a solution cell must be followed by its autograder test cell."
    assert expected in run.stdout

"""release/ is exactly what nbgrader generates from source/, and it gives nothing away."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

from grader.course import Course
from grader.notebooks import HIDDEN_DELIMITERS, SOLUTION_DELIMITERS, read_notebook
from tests.conftest import REPO, secret_lines

NOTEBOOKS = REPO.notebook_names()


def _files(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*")
                  if p.is_file() and "__pycache__" not in p.parts)


def test_committed_release_equals_a_fresh_generation(repo_course: Course, released_template: Course):
    committed, fresh = repo_course.release, released_template.release
    assert _files(committed) == _files(fresh), "run `grader release` and commit release/"
    for name in _files(fresh):
        if name.endswith(".ipynb"):
            assert nbformat.read(committed / name, 4) == nbformat.read(fresh / name, 4), (
                f"release/lecture01/{name} differs from a fresh generation: run `grader release`")
        else:
            assert (committed / name).read_bytes() == (fresh / name).read_bytes(), name


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_release_shows_no_solution_line_and_no_hidden_test(repo_course: Course, name: str):
    source = read_notebook(repo_course.source / f"{name}.ipynb")
    released_text = (repo_course.release / f"{name}.ipynb").read_text(encoding="utf-8")
    released = read_notebook(repo_course.release / f"{name}.ipynb")
    revealing = secret_lines(source)
    assert revealing, "the notebook should have solutions and hidden tests"
    released_lines = {line.strip() for cell in released.cells for line in cell.source.splitlines()}
    leaked = sorted(revealing & released_lines)
    assert not leaked, f"{name}: the student version shows {leaked[:3]}"
    for marker in (*SOLUTION_DELIMITERS, *HIDDEN_DELIMITERS):
        assert marker not in released_text
    for cell in released.cells:
        assert not cell.get("outputs"), f"{name}: the student version has outputs"

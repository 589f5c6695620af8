"""release/ is exactly what nbgrader generates from source/, and it gives nothing away."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

from grader.course import Course
from grader.notebooks import HIDDEN_DELIMITERS, SOLUTION_DELIMITERS, read_notebook

NOTEBOOKS = sorted(path.stem for path in Course(Path(__file__).resolve().parent.parent).source.glob("*.ipynb"))


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


def _split(source: str) -> tuple[list[str], list[str]]:
    """(lines inside solution or hidden-test regions, lines outside every region) of a cell."""
    inside, outside, region = [], [], None
    for line in source.splitlines():
        for begin, end in (SOLUTION_DELIMITERS, HIDDEN_DELIMITERS):
            if begin in line:
                region = begin
            elif end in line:
                region = None
        if any(marker in line for marker in (*SOLUTION_DELIMITERS, *HIDDEN_DELIMITERS)):
            continue
        (inside if region else outside).append(line.strip())
    return inside, outside


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_release_shows_no_solution_line_and_no_hidden_test(repo_course: Course, name: str):
    source = read_notebook(repo_course.source / f"{name}.ipynb")
    released_text = (repo_course.release / f"{name}.ipynb").read_text(encoding="utf-8")
    released = read_notebook(repo_course.release / f"{name}.ipynb")
    secret, public = set(), set()
    for cell in source.cells:
        inside, outside = _split(cell.source)
        secret.update(inside)
        public.update(outside)
    revealing = {line for line in secret - public if len(line) > 12 and not line.startswith("#")}
    assert revealing, "the notebook should have solutions and hidden tests"
    released_lines = {line.strip() for cell in released.cells for line in cell.source.splitlines()}
    leaked = sorted(revealing & released_lines)
    assert not leaked, f"{name}: the student version shows {leaked[:3]}"
    for marker in (*SOLUTION_DELIMITERS, *HIDDEN_DELIMITERS):
        assert marker not in released_text
    for cell in released.cells:
        assert not cell.get("outputs"), f"{name}: the student version has outputs"

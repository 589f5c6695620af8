"""Real `nbgrader autograde` on a class built from the samples: every grading rule of the lecture.

One class holds every case, so nbgrader runs once: the instructor's solutions, the untouched
release, each alternative correct solution and each typical mistake (each in its own notebook),
and a student with one corrupt notebook.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest

from grader.autograde import AutogradeResult, autograde
from grader.classroom import release_notebook, solved_notebook, submit
from grader.course import Course
from grader.samples import all_samples
from grader.samples.facts import FACTS_NOTEBOOK, facts_mistakes, parse_facts
from grader.scores import CellScore, cell_scores

SAMPLES = all_samples()
ALTERNATIVES = [(s.notebook, name, code) for s in SAMPLES for name, code in s.alternatives.items()]
MISTAKES = [m for s in SAMPLES for m in s.mistakes]
FACTS = Path(__file__).resolve().parents[2] / "shared" / "lecture" / "FACTS.md"
BROKEN_NOTEBOOK = SAMPLES[2].notebook


def _student(kind: str, index: int) -> str:
    return f"{kind}{index:03d}"


@pytest.fixture(scope="module")
def graded(released_template: Course, tmp_path_factory) -> tuple[Course, AutogradeResult, list[CellScore]]:
    target = tmp_path_factory.mktemp("grading") / "course"
    shutil.copytree(released_template.root, target)
    course = Course(target)
    names = course.notebook_names()
    submit(course, "solution", {name: solved_notebook(course, name) for name in names})
    submit(course, "untouched", {name: release_notebook(course, name) for name in names})
    for index, (notebook, _, code) in enumerate(ALTERNATIVES):
        submit(course, _student("alternative", index), {notebook: solved_notebook(course, notebook, code)})
    for index, mistake in enumerate(MISTAKES):
        submit(course, _student("mistake", index),
               {mistake.notebook: solved_notebook(course, mistake.notebook, mistake.cells)})
    broken = {name: solved_notebook(course, name) for name in names}
    broken[BROKEN_NOTEBOOK] = b'{"cells": [{"cell_type": "code", "source": "def softmax(S'
    submit(course, "broken", broken)
    submit(course, "pasted", {SVM: _with_foreign_cells(course)})
    result = autograde(course)
    return course, result, cell_scores(course)


SVM = "02_svm_loss"


def _with_foreign_cells(course: Course):
    """A correct SVM notebook, with notebook 01's sigmoid cell pasted in and a test cell whose grade_id
    was renamed (as a release whose ids changed since would have it)."""
    notebook = solved_notebook(course, SVM)
    sigmoid = next(cell for cell in solved_notebook(course, "01_forward_propagation").cells
                   if cell.metadata.get("nbgrader", {}).get("grade_id") == "sigmoid")
    notebook.cells.insert(3, sigmoid)
    renamed = next(cell for cell in notebook.cells if cell.metadata.get("nbgrader", {}).get("grade"))
    renamed.metadata.nbgrader["grade_id"] = "test_from_an_older_release"
    return notebook


def test_cells_foreign_to_the_notebook_cost_nothing(graded):
    """Pasted from another notebook or renamed, such cells are graded as ordinary cells: nbgrader's own
    OverwriteCells would have failed, and the whole notebook would not have been graded."""
    _, result, rows = graded
    assert ("pasted", SVM) not in result.not_graded
    scores = _scores(rows, "pasted", SVM)
    assert scores and not _failed(scores)
    assert {r.cell for r in scores} == {r.cell for r in _scores(rows, "solution", SVM)}


def _scores(rows: list[CellScore], student: str, notebook: str | None = None) -> list[CellScore]:
    return [r for r in rows if r.student == student and (notebook is None or r.notebook == notebook)]


def _failed(rows: list[CellScore]) -> set[str]:
    return {r.cell for r in rows if r.score < r.max_score}


def test_instructor_solutions_get_full_marks(graded):
    course, result, rows = graded  # noqa: RUF059
    mine = _scores(rows, "solution")
    assert {r.notebook for r in mine} == set(course.notebook_names())
    assert _failed(mine) == set()
    assert sum(r.max_score for r in mine) >= 30


def test_untouched_release_gets_zero_and_grading_goes_on(graded):
    course, result, rows = graded  # noqa: RUF059
    mine = _scores(rows, "untouched")
    assert "untouched" in result.graded
    assert len(mine) == len(_scores(rows, "solution"))
    assert all(r.score == 0 for r in mine)


@pytest.mark.parametrize(("index", "alternative"), list(enumerate(ALTERNATIVES)),
                         ids=[f"{nb}: {name}" for nb, name, _ in ALTERNATIVES])
def test_alternative_correct_solution_gets_full_marks(graded, index, alternative):
    course, result, rows = graded  # noqa: RUF059
    mine = _scores(rows, _student("alternative", index), alternative[0])
    assert mine and _failed(mine) == set()


@pytest.mark.parametrize(("index", "mistake"), list(enumerate(MISTAKES)),
                         ids=[f"{m.notebook}: {m.name}" for m in MISTAKES])
def test_each_mistake_loses_exactly_its_functions_points(graded, index, mistake):
    course, result, rows = graded  # noqa: RUF059
    mine = _scores(rows, _student("mistake", index), mistake.notebook)
    assert mine, "the notebook was not graded"
    assert _failed(mine) == set(mistake.fails)
    for row in mine:
        assert row.score in (0, row.max_score)


def test_a_corrupt_notebook_costs_only_itself(graded):
    course, result, rows = graded  # noqa: RUF059
    assert ("broken", BROKEN_NOTEBOOK) in result.not_graded
    assert "not a readable notebook" in result.not_graded[("broken", BROKEN_NOTEBOOK)]
    others = [r for r in _scores(rows, "broken") if r.notebook != BROKEN_NOTEBOOK]
    assert others and _failed(others) == set()
    assert all(r.score == 0 for r in _scores(rows, "broken", BROKEN_NOTEBOOK))


def test_the_facts_table_in_the_repository_is_the_lectures():
    if not FACTS.exists():
        if os.environ.get("CI"):
            pytest.fail(f"{FACTS} is missing: CI must check out shared/ beside the repository")
        pytest.skip("shared/lecture/FACTS.md is not beside this checkout (grader/samples has a copy)")
    assert list(facts_mistakes()) == parse_facts(FACTS), "update grader/samples/facts.py from FACTS.md"


def test_every_mistake_of_the_lecture_facts_has_a_sample():
    facts = facts_mistakes()
    assert len(facts) >= 30
    missing = [f"{function}: {mistake}" for function, mistake in facts
               if not any(mistake.lower() in re.sub(r"\s+", " ", m.name.lower())
                          for m in MISTAKES if m.notebook == FACTS_NOTEBOOK[function])]
    assert not missing, f"no sample mistake for: {missing}"

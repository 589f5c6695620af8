"""The grading engine: parallel, sequential, resumed, on Dask and by plain nbgrader, all the same scores.

One small class (two notebooks; correct, differently written, mistaken, untouched and broken
submissions) is built once; every test grades its own copy with real processes and real nbgrader.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest

from grader.autograde import AutogradeResult, autograde
from grader.classroom import release_notebook, solved_notebook, submit
from grader.course import Course, new_course
from grader.outcomes import outcomes
from grader.release import release
from grader.samples import all_samples
from grader.scores import cell_scores
from grader.status import Status

pytestmark = pytest.mark.slow  # grades a whole class

NOTEBOOKS = ["02_svm_loss", "03_softmax_cross_entropy"]
REPO = Path(__file__).resolve().parent.parent
BROKEN = b'{"cells": [{"cell_type": "code", "source": "def softmax(S'


@pytest.fixture(scope="module")
def ungraded(tmp_path_factory: pytest.TempPathFactory) -> Course:
    """A released two-notebook course with six submissions, not graded yet (do not modify)."""
    course = new_course(tmp_path_factory.mktemp("engine") / "course", Course(REPO), notebooks=NOTEBOOKS)
    release(course)
    samples = {s.notebook: s for s in all_samples()}
    svm, softmax = samples[NOTEBOOKS[0]], samples[NOTEBOOKS[1]]
    solved = {name: solved_notebook(course, name) for name in NOTEBOOKS}
    submit(course, "ada", solved)
    submit(course, "ben", {name: release_notebook(course, name) for name in NOTEBOOKS})
    submit(course, "cleo", {**solved, svm.notebook: solved_notebook(course, svm.notebook,
                                                                     svm.mistakes[0].cells)})
    submit(course, "dan", {**solved, softmax.notebook: solved_notebook(course, softmax.notebook,
                                                                        softmax.mistakes[0].cells)})
    alternatives = {name: next(iter(samples[name].alternatives.values())) for name in NOTEBOOKS}
    submit(course, "eve", {name: solved_notebook(course, name, alternatives[name]) for name in NOTEBOOKS})
    submit(course, "finn", {**solved, softmax.notebook: BROKEN})
    return course


@pytest.fixture(scope="module")
def reference(ungraded: Course, tmp_path_factory: pytest.TempPathFactory) -> tuple[Course, AutogradeResult]:
    """The class graded sequentially, in this process (do not modify)."""
    course = _copy(ungraded, tmp_path_factory.mktemp("reference"))
    return course, autograde(course, workers=1)


def _copy(course: Course, into: Path) -> Course:
    target = into / "course"
    shutil.copytree(course.root, target)
    return Course(target)


def _outcome(course: Course) -> tuple[list, list]:
    """Everything grading decided: the gradebook's scores and each unit's derived outcome."""
    return cell_scores(course), outcomes(course).units


def _record_times(course: Course) -> dict[tuple[str, str], int]:
    return {(path.parent.parent.name, path.stem): path.stat().st_mtime_ns
            for path in course.results_root().glob("*/*/*.json")}


def _all_units(course: Course) -> set[tuple[str, str]]:
    return {(student, name) for student in ("ada", "ben", "cleo", "dan", "eve", "finn") for name in NOTEBOOKS}


def test_reference_grading_is_what_the_class_deserves(reference):
    course, result = reference
    rows = cell_scores(course)
    failed = {(r.student, r.notebook, r.cell) for r in rows if r.score < r.max_score}
    assert result.not_graded.keys() == {("finn", NOTEBOOKS[1])}
    assert sorted(result.graded) == ["ada", "ben", "cleo", "dan", "eve", "finn"]
    assert not {f for f in failed if f[0] in ("ada", "eve")}
    assert {(nb, cell) for who, nb, cell in failed if who == "ben"} == {
        (r.notebook, r.cell) for r in rows if r.student == "ada"}
    assert {cell for who, nb, cell in failed if who == "cleo"} == {"test_svm_loss_single"}
    mistakes = [cell.mistake for unit in outcomes(course).of("cleo") for cell in unit.cells if cell.mistake]
    assert len(mistakes) == 1  # cleo's one mistake, named by the instructor's check


def test_parallel_and_sequential_grading_give_identical_scores(ungraded, reference, tmp_path):
    course = _copy(ungraded, tmp_path)
    result = autograde(course, workers=2)
    assert _outcome(course) == _outcome(reference[0])
    assert result.not_graded == reference[1].not_graded
    assert sorted(result.graded) == sorted(reference[1].graded)
    # the workers saved their notebooks themselves; sequentially, this process did
    assert result.timings["worker:SaveAutoGrades"] > 0 and "supervisor:SaveAutoGrades" not in result.timings
    assert reference[1].timings["supervisor:SaveAutoGrades"] > 0


def test_an_interrupted_run_resumes_without_grading_again_what_is_done(ungraded, reference, tmp_path):
    course = _copy(ungraded, tmp_path)
    command = [sys.executable, "-c", "from grader.cli import main; main()", "autograde", "--workers", "1",
               "--course", str(course.root)]
    process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        while process.poll() is None and len(_graded_records(course)) < 2:
            time.sleep(0.02)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)  # the session this test started: the run and its sandboxes
        process.wait()
    done = _graded_records(course)
    assert 2 <= len(done) < len(_all_units(course)), "the run was not interrupted midway"
    before = _record_times(course)

    result = autograde(course)

    assert set(result.skipped) == done
    assert {key: before[key] for key in done} == {key: _record_times(course)[key] for key in done}
    assert _outcome(course) == _outcome(reference[0])


def _graded_records(course: Course) -> set[tuple[str, str]]:
    return {(u.student, u.notebook) for u in outcomes(course).units if u.status is Status.GRADED}


def test_a_second_run_grades_only_what_could_not_be_graded(reference, tmp_path):
    course = _copy(reference[0], tmp_path)
    before = _record_times(course)
    result = autograde(course)
    assert set(result.skipped) == _all_units(course) - {("finn", NOTEBOOKS[1])}
    assert result.not_graded.keys() == {("finn", NOTEBOOKS[1])}
    after = _record_times(course)
    assert {k for k in before if before[k] != after[k]} == {("finn", NOTEBOOKS[1])}
    assert _outcome(course) == _outcome(reference[0])


def test_force_grades_everything_again(reference, tmp_path):
    course = _copy(reference[0], tmp_path)
    before = _record_times(course)
    result = autograde(course, force=True, workers=2)
    assert result.skipped == []
    after = _record_times(course)
    assert all(after[key] != before[key] for key in before)
    assert _outcome(course) == _outcome(reference[0])


def test_a_changed_submission_is_graded_again(reference, tmp_path):
    course = _copy(reference[0], tmp_path)
    svm = next(s for s in all_samples() if s.notebook == NOTEBOOKS[0])
    submit(course, "ada", {svm.notebook: solved_notebook(course, svm.notebook, svm.mistakes[0].cells)})
    before = _record_times(course)

    result = autograde(course, workers=2)

    assert ("ada", svm.notebook) not in result.skipped
    assert set(result.skipped) == _all_units(course) - {("ada", svm.notebook), ("finn", NOTEBOOKS[1])}
    assert before[("ada", NOTEBOOKS[1])] == _record_times(course)[("ada", NOTEBOOKS[1])]
    rows = [r for r in cell_scores(course) if r.notebook == svm.notebook]
    assert {r.cell: r.score for r in rows if r.student == "ada"} == {
        r.cell: r.score for r in rows if r.student == "cleo"}  # ada now hands in cleo's mistake


def test_changed_tests_grade_that_notebook_again(reference, tmp_path):
    course = _copy(reference[0], tmp_path)
    source = course.folder("source", "lecture01") / f"{NOTEBOOKS[0]}.ipynb"
    notebook = nbformat.read(source, as_version=4)
    notebook.cells.append(nbformat.v4.new_markdown_cell("An instructor's note added after grading."))
    nbformat.write(notebook, source)

    result = autograde(course, workers=2)

    regraded = _all_units(course) - set(result.skipped)
    students = ("ada", "ben", "cleo", "dan", "eve", "finn")
    assert regraded == {(student, NOTEBOOKS[0]) for student in students} | {("finn", NOTEBOOKS[1])}
    assert _outcome(course)[0] == _outcome(reference[0])[0]


def test_grading_on_a_dask_cluster_gives_identical_scores(ungraded, reference, tmp_path):
    distributed = pytest.importorskip("distributed")
    course = _copy(ungraded, tmp_path)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster:
        result = autograde(course, scheduler=cluster.scheduler_address)
    assert _outcome(course) == _outcome(reference[0])
    assert result.not_graded == reference[1].not_graded
    # the cluster's workers only executed: this machine alone saved the grades
    assert result.timings["supervisor:SaveAutoGrades"] > 0 and "worker:SaveAutoGrades" not in result.timings


def test_plain_nbgrader_autograde_gives_the_same_scores(ungraded, reference, tmp_path):
    course = _copy(ungraded, tmp_path)
    run = course.nbgrader("autograde", "lecture01", check=False)
    assert "finn" in run.stderr  # nbgrader reports the broken upload and goes on
    assert cell_scores(course) == cell_scores(reference[0])
    for student in ("ada", "ben", "cleo", "dan", "eve"):
        for name in NOTEBOOKS:
            assert (course.folder("autograded", "lecture01", student) / f"{name}.ipynb").is_file()

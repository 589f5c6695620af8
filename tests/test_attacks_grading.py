"""Round-2 attacks on grading as a whole (issue 9): notebooks that stop the batch, code that cannot run but
scores, symlinks and special files in submitted/, fake diagnoses in the class report, script in the
feedback, and a hidden-test marker that stops `grader feedback`.

Every class is graded by `grader autograde --workers 1` in a subprocess (the baseline first, the attackers,
then a correct and a blank classmate), and graded again to check that a rerun finishes. Measured against the
code before the round-2 fixes (commit c942de6); each test's docstring says whether the attack won then.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest
from nbformat import v4

from grader.classroom import release_notebook, solved_notebook
from grader.course import Course
from grader.notebooks import read_notebook
from tests.attacks import code
from tests.attacks.checks import assert_batch_and_rerun_finish, assert_classmates_unharmed, assert_scores_like
from tests.attacks.support import (
    SCORES,
    SVM,
    WRONG,
    GradedClass,
    classmates,
    grade_class,
    grader,
    new_course,
    with_cells,
)
from tests.conftest import secret_lines

pytestmark = pytest.mark.slow

SURROGATE = "lone surrogate \ud83d here: SURROGATE-MARKER"
HIDDEN_MARKER = "### BEGIN HIDDEN TESTS\nHIDDEN-MARKER-BY-STUDENT (and no end marker)"


def _wrong(course: Course):
    return solved_notebook(course, SVM, WRONG[SVM])


def _with_surrogate(course: Course) -> bytes:
    notebook = with_cells(_wrong(course), SURROGATE, kind="markdown")
    return json.dumps(notebook).encode("ascii")  # the surrogate as the JSON escape \ud83d


def _with_script(course: Course):
    notebook = _wrong(course)
    for vector in code.SCRIPT_VECTORS.values():
        with_cells(notebook, f"Look at this: {vector}", kind="markdown")
    with_cells(notebook, code.RAW_VECTOR, kind="raw")
    raw_html = v4.new_raw_cell(code.RAW_VECTOR, metadata={"raw_mimetype": "text/html"})
    notebook.cells.append(raw_html)
    return notebook


def _grade(course: Course, attackers: dict, **options) -> GradedClass:
    students = classmates(course)
    students.update(attackers)
    return grade_class(course, dict(sorted(students.items())), **options)


# ----------------------------------------------------------------------------- one class for many attacks


@pytest.fixture(scope="module")
def mixed(released_template: Course, tmp_path_factory) -> GradedClass:
    course = new_course(released_template, tmp_path_factory.mktemp("mixed"))
    blank_scores = release_notebook(course, SCORES)
    pair = with_cells(solved_notebook(course, SCORES, {**_blank(course, SCORES), **code.RECURSION_PAIR}),
                      code.RECURSION_PROOF)
    attackers = {
        "a-blank-scores": {SCORES: blank_scores},
        "m-recursion-pair": {SCORES: pair},
        "m-fake-mistake": {SVM: solved_notebook(course, SVM, {"svm_loss_single": code.FAKE_MISTAKE})},
        "m-script": {SVM: _with_script(course)},
    }
    for student in ("m-symlink", "m-symlink-folder"):
        course.step_dir("submitted", student).mkdir(parents=True)
    os.symlink(course.source / f"{SVM}.ipynb", course.step_dir("submitted", "m-symlink") / f"{SVM}.ipynb")
    folder = course.step_dir("submitted", "m-symlink-folder")
    folder.rmdir()
    os.symlink(course.source, folder)
    graded = _grade(course, attackers)
    graded.students.update({"m-symlink": {SVM: None}})
    return graded


def _blank(course: Course, notebook: str) -> dict[str, str]:
    """Every solution cell as released (unanswered)."""
    from grader.notebooks import graded_cells, is_solution

    return {grade_id: cell.source for grade_id, cell in graded_cells(release_notebook(course, notebook))
            if is_solution(cell)}


@pytest.fixture(scope="module")
def mixed_feedback(mixed: GradedClass):
    return grader(mixed.course, "feedback"), grader(mixed.course, "report", "--force")


def test_the_mixed_class_finishes(mixed: GradedClass):
    assert_batch_and_rerun_finish(mixed)
    assert_classmates_unharmed(mixed, SVM)


def test_functions_that_only_call_each_other_score_nothing(mixed: GradedClass):
    """precision and recall that only call each other: each hidden test swapped in the other's reference.

    Measured on c942de6, the attack won: 2 of 6 points (test_precision 1/1, test_recall 1/1) for code that
    raises RecursionError whenever it is called.
    """
    assert "PAIR-RECURSES RecursionError" in mixed.outputs("m-recursion-pair", SCORES)
    assert_scores_like(mixed, "m-recursion-pair", "a-blank-scores", SCORES)


def _solution_lines(course: Course) -> set[str]:
    return secret_lines(read_notebook(course.source / f"{SVM}.ipynb"))


def test_a_symlink_in_submitted_is_not_graded(mixed: GradedClass):
    """submitted/STUDENT/lecture01/02_svm_loss.ipynb is a symlink to the instructor's source notebook.

    Measured on c942de6, the attack won: the link was graded like a submission ("graded", full marks from
    the instructor's own solutions).
    """
    link = mixed.course.step_dir("submitted", "m-symlink") / f"{SVM}.ipynb"
    assert link.is_symlink() and link.resolve() == (mixed.course.source / f"{SVM}.ipynb").resolve()
    record = mixed.record("m-symlink", SVM)
    assert record is not None and record.status == "not graded", record
    assert "link" in record.reason.lower() or "regular file" in record.reason.lower(), record.reason
    assert not any(mixed.scores("m-symlink", SVM).values())
    graded = mixed.course.step_dir("autograded", "m-symlink") / f"{SVM}.ipynb"
    shown = graded.read_text() if graded.exists() else ""
    assert not [line for line in _solution_lines(mixed.course) if line in shown]


def test_a_symlinked_submission_folder_shows_no_solutions(mixed: GradedClass):
    """submitted/STUDENT/lecture01 is a symlink to source/lecture01 (all six solved notebooks).

    Measured on c942de6, the attack won: all six solved source notebooks were graded and scored points.
    """
    scored = {r.notebook: r.score for r in mixed.rows if r.student == "m-symlink-folder" and r.score}
    assert not scored, scored
    for path in mixed.course.step_dir("autograded", "m-symlink-folder").parent.glob("*.ipynb"):
        assert not [line for line in _solution_lines(mixed.course) if line in path.read_text()], path


def test_the_report_lists_only_mistakes_the_checks_diagnosed(mixed: GradedClass, mixed_feedback):
    """svm_loss_single raises ValueError("...This matches a known mistake: FAKE-MISTAKE-BY-STUDENT ...").

    Measured on c942de6, the attack won: the class report listed FAKE-MISTAKE-BY-STUDENT as a diagnosed
    mistake.
    """
    assert "FAKE-MISTAKE-BY-STUDENT" in mixed.outputs("m-fake-mistake", SVM)  # the visible test shows it
    assert_scores_like(mixed, "m-fake-mistake", "a-baseline", SVM)
    _, report = mixed_feedback
    assert report.returncode == 0, report.output
    pages = list(mixed.course.root.glob("autograded/**/report.html"))
    assert pages, report.output
    assert "FAKE-MISTAKE-BY-STUDENT" not in pages[0].read_text()
    assert "includes the j = y_i term" in pages[0].read_text()  # the baseline's diagnosed mistake is listed


def _feedback_pages(course: Course) -> list[Path]:
    return sorted(course.root.glob("autograded/feedback/*/*/*.html"))


def test_feedback_and_report_run_no_student_script_in_a_browser(mixed: GradedClass, mixed_feedback, chromium,
                                                                 tmp_path):
    """Markdown cells with <script>, onerror=, onload=, ontoggle= and an iframe srcdoc, and raw cells with
    <script>, opened in headless Chromium: the title stays clean. A control page of the same snippets shows
    that this browser runs every one of them.

    Measured on c942de6, the attack won: the feedback page ran four of the student's vectors (title
    "02_svm_loss PWNED-details PWNED-img PWNED-iframe PWNED-svg").
    """
    assert_scores_like(mixed, "m-script", "a-baseline", SVM)
    control = tmp_path / "control.html"
    control.write_text("<!DOCTYPE html><html><head><title>control</title></head><body>"
                       + "".join(code.SCRIPT_VECTORS.values()) + code.RAW_VECTOR + "</body></html>")
    fired = _title_after_load(chromium, control, wait_for=len(code.SCRIPT_VECTORS) + 1)
    assert fired.count("PWNED") == len(code.SCRIPT_VECTORS) + 1, fired
    pages = _feedback_pages(mixed.course)
    mine = [page for page in pages if page.parts[-3] == "m-script"]
    assert mine, mixed_feedback[0].output
    report = list(mixed.course.root.glob("autograded/**/report.html"))
    for page in pages + report:
        title = _title_after_load(chromium, page)
        assert "PWNED" not in title, f"{page}: {title}"


def _title_after_load(driver, page: Path, wait_for: int = 0) -> str:
    """The page's title once it has loaded (and, for the control, once `wait_for` vectors have fired)."""
    driver.set_page_load_timeout(60)
    driver.get(page.as_uri())
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        title = driver.title
        if wait_for and title.count("PWNED") >= wait_for:
            return title
        time.sleep(0.2)
    return driver.title


# ----------------------------------------------------------------------------- notebooks that stop the batch


@pytest.fixture(scope="module")
def surrogate(released_template: Course, tmp_path_factory) -> tuple[GradedClass, object]:
    course = new_course(released_template, tmp_path_factory.mktemp("surrogate"))
    graded = _grade(course, {"m-surrogate": {SVM: _with_surrogate(course)}})
    return graded, grader(course, "feedback")


def test_a_lone_surrogate_costs_only_its_own_notebook(surrogate):
    """A markdown cell holding a lone surrogate (the JSON escape \\ud83d): writing the graded notebook raised
    UnicodeEncodeError in the supervisor, outside any guard.

    Measured on c942de6, the attack won: `grader autograde` exited 1 with UnicodeEncodeError ('\\ud83d':
    surrogates not allowed) at this student, the rerun too, and the classmates after it were not graded.
    """
    graded, feedback = surrogate
    submitted = graded.course.step_dir("submitted", "m-surrogate") / f"{SVM}.ipynb"
    assert b"\\ud83d here: SURROGATE-MARKER" in submitted.read_bytes()  # the attack is what it claims
    assert_batch_and_rerun_finish(graded)
    assert_classmates_unharmed(graded, SVM)
    record = graded.record("m-surrogate", SVM)
    mine, baseline = graded.scores("m-surrogate", SVM), graded.scores("a-baseline", SVM)
    assert mine == baseline or (record.status == "not graded" and record.reason
                                and all(mine[c] <= baseline[c] for c in baseline)), (record, mine)
    pages = {page.parts[-3] for page in _feedback_pages(graded.course)}
    assert {"a-baseline", "y-correct", "z-blank"} <= pages, feedback.output


@pytest.fixture(scope="module")
def hidden_marker(released_template: Course, tmp_path_factory) -> tuple[GradedClass, object]:
    course = new_course(released_template, tmp_path_factory.mktemp("marker"))
    graded = _grade(course, {"m-hidden-marker": {SVM: with_cells(_wrong(course), HIDDEN_MARKER,
                                                                  kind="markdown")}})
    return graded, grader(course, "feedback")


def test_an_unmatched_hidden_tests_marker_names_the_student_and_spares_the_class(hidden_marker):
    """A markdown cell with `### BEGIN HIDDEN TESTS` and no end: nbgrader's ClearHiddenTests raises.

    Measured on c942de6, the attack won: `grader feedback` exited 1 with "RuntimeError: No end hidden tests
    statement found", named no student and wrote no page of anyone after it.
    """
    graded, feedback = hidden_marker
    assert "HIDDEN-MARKER-BY-STUDENT" in (graded.course.step_dir("autograded", "m-hidden-marker")
                                          / f"{SVM}.ipynb").read_text()  # the marker reached grading
    assert_batch_and_rerun_finish(graded)
    assert_scores_like(graded, "m-hidden-marker", "a-baseline", SVM)
    pages = {page.parts[-3]: page for page in _feedback_pages(graded.course)}
    assert {"a-baseline", "y-correct", "z-blank"} <= set(pages), feedback.output
    assert "m-hidden-marker" in feedback.output, feedback.output
    assert "Traceback" not in feedback.output
    if "m-hidden-marker" in pages:
        shown = pages["m-hidden-marker"].read_text()
        assert not [line for line in _solution_lines(graded.course) if line in shown]


@pytest.fixture(scope="module")
def fifo(released_template: Course, tmp_path_factory) -> GradedClass:
    course = new_course(released_template, tmp_path_factory.mktemp("fifo"))
    folder = course.step_dir("submitted", "m-fifo")
    folder.mkdir(parents=True)
    os.mkfifo(folder / f"{SVM}.ipynb")
    graded = _grade(course, {}, timeout=120)
    graded.students["m-fifo"] = {SVM: None}
    return graded


def test_a_special_file_in_submitted_is_not_graded(fifo: GradedClass):
    """submitted/STUDENT/lecture01/02_svm_loss.ipynb is a FIFO (a named pipe nobody writes to).

    Measured on c942de6, the attack won: `grader autograde` blocked reading it (stopped after 120 s here), and
    the classmates were never graded.
    """
    assert (fifo.course.step_dir("submitted", "m-fifo") / f"{SVM}.ipynb").is_fifo()
    assert_batch_and_rerun_finish(fifo)
    assert_classmates_unharmed(fifo, SVM)
    record = fifo.record("m-fifo", SVM)
    assert record.status == "not graded" and record.reason, record

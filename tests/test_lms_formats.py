"""The LMS formats piece by piece: download paths, dates, numbers, notebook names."""

from __future__ import annotations

from datetime import datetime

import pytest

from grader.classroom import release_notebook, solved_notebook
from grader.course import Course
from grader.lms import canvas, moodle
from grader.lms.archive import is_junk
from grader.lms.notebook_names import NotebookMatcher, normalize
from grader.lms.student_grades import number, parse_number, scaled
from tests.test_lms_support import notebook_bytes


@pytest.mark.parametrize(("parts", "expected"), [
    (("Jane Doe_101_assignsubmission_file_", "01_x.ipynb"),
     ("Jane Doe", "101", "file", ("01_x.ipynb",), "folder")),
    (("Jane Doe_101_assignsubmission_file", "sub", "a.ipynb"), ("Jane Doe", "101", "file", ("sub", "a.ipynb"),
                                                                "folder")),
    (("Jane Doe_101_assignsubmission_file_01_x.ipynb",),
     ("Jane Doe", "101", "file", ("01_x.ipynb",), "flat")),
    (("DL-Lecture-7.zip", "Zoë Ünal_7_assignsubmission_file_", "a.ipynb"), ("Zoë Ünal", "7", "file",
                                                                            ("a.ipynb",), "folder")),
    (("Jane Doe_101_assignsubmission_onlinetext_", "onlinetext.html"), ("Jane Doe", "101", "onlinetext",
                                                                       ("onlinetext.html",), "folder")),
])
def test_moodle_download_paths(parts: tuple[str, ...], expected: tuple) -> None:
    found = moodle.parse_submission_path(parts)
    assert found is not None
    assert (found.full_name, found.participant_id, found.plugin, found.inner, found.layout) == expected


def test_moodle_paths_that_are_no_submission() -> None:
    assert moodle.parse_submission_path(("README.txt",)) is None
    assert moodle.parse_submission_path(("Jane_Doe_assignsubmission_file_", "a.ipynb")) is None


def test_moodle_feedback_folder_is_named_like_the_download() -> None:
    assert moodle.feedback_folder("Jane Doe", "101") == "Jane Doe_101_assignsubmission_file_"
    assert moodle.feedback_folder('Zoë "Zo" Ü_nal', "7") == "Zoë Zo Ü nal_7_assignsubmission_file_"


@pytest.mark.parametrize(("name", "expected"), [
    ("doejane_201_9001_01_forward_propagation.ipynb",
     ("doejane", "201", False, "9001", "01_forward_propagation.ipynb")),
    ("doejrjohn_LATE_202_9002_lecture01 (1).ipynb",
     ("doejrjohn", "202", True, "9002", "lecture01 (1).ipynb")),
    ("doejrjohn_late_202_9002_a.ipynb", ("doejrjohn", "202", True, "9002", "a.ipynb")),
    ("ünalzoë_203_9003_Copy of x_1_2.ipynb", ("ünalzoë", "203", False, "9003", "Copy of x_1_2.ipynb")),
])
def test_canvas_download_names(name: str, expected: tuple) -> None:
    found = canvas.parse_submission_path((name,))
    assert found is not None
    assert (found.name, found.user_id, found.late, found.file_id, found.filename) == expected


def test_canvas_text_entries_are_recognised() -> None:
    assert canvas.parse_submission_path(("doejane_201_text.html",)) is None
    assert canvas.is_online_entry(("doejane_201_text.html",))
    assert canvas.is_online_entry(("doejane_LATE_201_link.html",))


@pytest.mark.parametrize(("text", "expected"), [
    ("Monday, 15 January 2024, 2:30 PM", datetime(2024, 1, 15, 14, 30)),
    ("Monday, 15 January 2024, 12:05 AM", datetime(2024, 1, 15, 0, 5)),
    ("Montag, 15. Januar 2024, 14:30", datetime(2024, 1, 15, 14, 30)),
    ("Donnerstag, 7. März 2024, 09:15", datetime(2024, 3, 7, 9, 15)),
    ("Monday, January 15, 2024, 2:30 PM", datetime(2024, 1, 15, 14, 30)),
    ("2024-01-15 14:30:05", datetime(2024, 1, 15, 14, 30, 5)),
    ("-", None),
    ("", None),
    ("sometime last week", None),
])
def test_moodle_dates(text: str, expected: datetime | None) -> None:
    assert moodle.parse_date(text) == expected


@pytest.mark.parametrize(("text", "expected"), [
    ("100.00", 100.0), ("100,00", 100.0), ("7.5", 7.5), ("1,000.50", 1000.5), ("1.000,50", 1000.5),
    ("36", 36.0),
    ("", None), ("-", None), ("ten", None),
])
def test_lms_numbers(text: str, expected: float | None) -> None:
    assert parse_number(text) == expected


def test_grade_scaling_and_formatting() -> None:
    assert scaled(17, 34, 100) == 50.0
    assert scaled(17, 34, 34) == 17
    assert scaled(17, 34, None) == 17
    assert scaled(1, 3, 10) == 3.33
    assert number(3.3333) == "3.33" and number(10.0) == "10" and number(7.5) == "7.5"


@pytest.mark.parametrize(("stem", "expected"), [
    ("Kopie von 02_svm_loss", "02_svm_loss"),
    ("Copy of 02_svm_loss", "02_svm_loss"),
    ("02_svm_loss (1)", "02_svm_loss"),
    ("02_svm_loss-1", "02_svm_loss"),
    ("02_svm_loss - Kopie (2)", "02_svm_loss"),
    ("02_svm_loss copy", "02_svm_loss"),
    ("02_svm_loss 2", "02_svm_loss"),
    ("Kopie von Kopie von 02-SVM loss (3)", "02_svm_loss"),
    ("lecture01 (1)", "lecture01"),
])
def test_copy_decorations_come_off(stem: str, expected: str) -> None:
    assert normalize(stem) == expected


def test_notebooks_are_recognised_by_cells_then_by_name(released_template: Course) -> None:
    matcher = NotebookMatcher(released_template, "lecture01")
    first, second = released_template.notebook_names()[:2]
    solved = notebook_bytes(solved_notebook(released_template, first))
    assert matcher.identify("lecture01 (1).ipynb", solved).notebook == first
    found = matcher.identify(f"{second}.ipynb", solved)
    assert (found.notebook, found.by_content, found.by_name) == (first, first, second)
    assert "holds the cells of" in (found.note(f"{second}.ipynb") or "")
    broken = matcher.identify(f"Copy of {second}.ipynb", b"{ not json")
    assert (broken.notebook, broken.readable) == (second, False)
    assert matcher.identify("homework.ipynb", b"{ not json").notebook is None
    untouched = notebook_bytes(release_notebook(released_template, first))
    assert matcher.identify(f"{first}.ipynb", untouched).note(f"{first}.ipynb") is None
    short = second.split("_", 1)[1]
    assert matcher.by_name(f"{short}.ipynb") == second


def test_operating_system_litter_is_junk() -> None:
    assert is_junk(("__MACOSX", "a", "._x.ipynb"))
    assert is_junk(("folder", ".DS_Store"))
    assert is_junk(("folder", ".ipynb_checkpoints", "x-checkpoint.ipynb"))
    assert not is_junk(("folder", "01_x.ipynb"))

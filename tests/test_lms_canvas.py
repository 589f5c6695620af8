"""The Canvas round trip on fixture files in Canvas's formats: "Download Submissions" zip -> collect ->
autograde -> grades import CSV made from the gradebook export, read back with csv."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest
from typer.testing import CliRunner

from grader.autograde import autograde
from grader.classroom import solved_notebook
from grader.cli import app
from grader.course import Course
from grader.errors import GraderError
from grader.export import CANVAS_IMPORT, LmsFiles, export
from grader.lms.collect import CollectReport, collect
from grader.lms.student_grades import number
from grader.scores import cell_scores
from tests.test_lms_support import (
    CanvasStudent,
    broken_solution,
    class_course,
    notebook_bytes,
    read_rows,
    write_gradebook,
    write_zip,
)

pytestmark = pytest.mark.slow  # the module grades a class with autograde

JANE = CanvasStudent(201, "Doe, Jane", "jdoe@uni.example")
JOHN = CanvasStudent(202, "Doe Jr., John", "jdoejr@uni.example")
ZOE = CanvasStudent(203, "Ünal, Zoë", "zunal@uni.example", section="Deep Learning 2024, Gruppe \"B\"")
NOBODY = CanvasStudent(204, "Show, No", "noshow@uni.example")
STUDENTS = [JANE, JOHN, ZOE, NOBODY]


@dataclass
class CanvasClass:
    """A class collected from a Canvas download and graded."""

    course: Course
    download: Path
    gradebook: Path
    report: CollectReport
    notebook: str
    possible: float
    root: Path


def _possible(course: Course) -> float:
    rows = cell_scores(course)
    student = rows[0].student
    return sum(row.max_score for row in rows if row.student == student)


@pytest.fixture(scope="module")
def canvas_class(released_template: Course, tmp_path_factory: pytest.TempPathFactory) -> CanvasClass:
    root = tmp_path_factory.mktemp("canvas")
    course = class_course(released_template, root)
    first = course.notebook_names()[0]
    entries = [
        (f"{JANE.file_prefix()}_9001_{first}.ipynb", notebook_bytes(solved_notebook(course, first))),
        (f"{JOHN.file_prefix(late=True)}_9002_{first}-1.ipynb",
         notebook_bytes(solved_notebook(course, first, broken_solution(course, first)))),
        (f"{ZOE.file_prefix()}_9003_Copy of {first}.ipynb", notebook_bytes(solved_notebook(course, first))),
        (f"{ZOE.file_prefix()}_text.html", b"<p>see attachment</p>"),
    ]
    download = write_zip(root / "dl-2024-lecture-1 submissions.zip", entries)
    gradebook = write_gradebook(root / "2024-01-20T1200_Grades-DL.csv", STUDENTS,
                                [("Quiz 1", 5002, "10.00"), ("Lecture 1", 5001, "50.00")])
    report = collect(course, download, canvas_gradebook=gradebook, timezone="UTC")
    autograde(course)
    return CanvasClass(course, download, gradebook, report, first, _possible(course), root)


def test_collect_reads_canvas_names_late_marks_and_renamed_files(canvas_class: CanvasClass) -> None:
    report, first = canvas_class.report, canvas_class.notebook
    assert report.lms == "canvas"
    assert report.collected == {JANE.student_id: [first], JOHN.student_id: [first], ZOE.student_id: [first]}
    assert report.without_submission == [NOBODY.student_id]
    assert report.problems == [] and report.ignored == []
    notes = "\n".join(report.notes)
    assert "moodle" not in notes
    assert f"{JOHN.student_id} (John Doe Jr.): Canvas marks this submission late." in notes
    assert f"'{first}-1.ipynb' collected as {first}.ipynb" in notes
    assert f"'Copy of {first}.ipynb' collected as {first}.ipynb" in notes
    stamp = canvas_class.course.step_dir("submitted", JANE.student_id) / "timestamp.txt"
    assert stamp.read_text().strip() == "2024-01-16 09:00:00+00:00"
    with canvas_class.course.gradebook() as gradebook:
        zoe = gradebook.find_student(ZOE.student_id)
        assert (zoe.first_name, zoe.last_name, zoe.email) == ("Zoë", "Ünal", ZOE.login)
        assert zoe.lms_user_id == "203"


def test_canvas_import_has_each_grade_in_the_students_row(canvas_class: CanvasClass) -> None:
    course = canvas_class.course
    folder = canvas_class.root / "exports"
    result = export(course, folder / "scores.csv",
                    LmsFiles(canvas_gradebook=canvas_class.gradebook, canvas_assignment="Lecture 1"))
    assert folder / CANVAS_IMPORT in result.written
    rows = read_rows(folder / CANVAS_IMPORT)
    assert rows[0] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "Lecture 1 (5001)"]
    assert rows[1] == ["    Points Possible", "", "", "", "", "50"]
    exported = read_rows(canvas_class.gradebook)
    assert [row[:5] for row in rows[2:]] == [row[:5] for row in exported[2:] if row[1] != "204"]
    grades = {row[1]: row[5] for row in rows[2:]}
    for student in (JANE, JOHN, ZOE):
        total = sum(r.score for r in cell_scores(course) if r.student == student.student_id)
        assert grades[str(student.user_id)] == number(total / canvas_class.possible * 50)
    assert "204" not in grades  # no result: not in the import, so Canvas keeps what it has
    assert any("1 student left unchanged in Canvas" in note and "1 no submission (canvas-204)" in note
               for note in result.notes)
    assert float(grades["201"]) > float(grades["202"])
    text = (folder / CANVAS_IMPORT).read_text(encoding="utf-8")
    assert '"Doe Jr., John"' in text and '"Deep Learning 2024, Gruppe ""B"""' in text and "Ünal, Zoë" in text


def test_canvas_import_keeps_the_exports_separator_and_bom(canvas_class: CanvasClass) -> None:
    gradebook = write_gradebook(canvas_class.root / "semicolon.csv", STUDENTS,
                                [("Lecture 1", 5001, f"{canvas_class.possible:g}")], delimiter=";", bom=True)
    folder = canvas_class.root / "semicolon"
    export(canvas_class.course, folder / "scores.csv",
           LmsFiles(canvas_gradebook=gradebook, zero_missing=True))
    data = (folder / CANVAS_IMPORT).read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")
    rows = read_rows(folder / CANVAS_IMPORT, delimiter=";")
    assert rows[0][-1] == "Lecture 1 (5001)"
    grades = {row[1]: row[-1] for row in rows[2:]}
    jane = sum(r.score for r in cell_scores(canvas_class.course) if r.student == JANE.student_id)
    assert grades["201"] == number(jane)  # points possible equal the total: no scaling
    assert grades["204"] == "0"


def test_several_assignment_columns_need_a_choice(canvas_class: CanvasClass) -> None:
    gradebook = write_gradebook(canvas_class.root / "two.csv", STUDENTS,
                                [("Quiz 1", 5002, "10"), ("Project", 5003, "50")])
    with pytest.raises(GraderError, match=r"2 assignment columns .* --canvas-assignment"):
        export(canvas_class.course, canvas_class.root / "two" / "scores.csv",
               LmsFiles(canvas_gradebook=gradebook))
    assert not (canvas_class.root / "two").exists()


def test_collect_command_line_reports_what_it_did(canvas_class: CanvasClass, tmp_path: Path) -> None:
    course = Course(tmp_path / "course")
    shutil.copytree(canvas_class.course.root, course.root)
    shutil.rmtree(course.step_dir("submitted", JOHN.student_id))
    result = CliRunner().invoke(app, ["collect", str(canvas_class.download), "--course", str(course.root),
                                      "--canvas-gradebook", str(canvas_class.gradebook), "--timezone", "UTC"])
    assert result.exit_code == 0, result.output
    assert "collected: 1 students from Canvas" in result.output
    assert f"unchanged: {JANE.student_id}" in result.output
    assert "Canvas marks this submission late" in result.output
    assert f"no submission: {NOBODY.student_id}" in result.output

"""Bad input to collect and export: one clear line naming the file and what to do, and nothing lost."""

from __future__ import annotations

import io
import zipfile
from datetime import datetime
from pathlib import Path

import pytest

from grader.classroom import release_notebook, solved_notebook
from grader.course import Course
from grader.errors import GraderError
from grader.export import LmsFiles, export
from grader.lms.collect import collect
from tests.test_lms_support import (
    WORKSHEET_HEADER,
    CanvasStudent,
    MoodleStudent,
    broken_solution,
    moodle_folder,
    notebook_bytes,
    write_gradebook,
    write_worksheet,
    write_zip,
    zip_bytes,
)

JANE = MoodleStudent(101, "Jane Doe", "jane@uni.example", "Monday, 15 January 2024, 2:30 PM")
JOHN = MoodleStudent(102, "John Roe", "john@uni.example", "Monday, 15 January 2024, 3:30 PM")


def _first(course: Course) -> str:
    return course.notebook_names()[0]


def _moodle_zip(course: Course, path: Path, extra: list[tuple[str, bytes]] | None = None) -> Path:
    first = _first(course)
    return write_zip(path, [(f"{moodle_folder(JANE.full_name, 101)}/{first}.ipynb",
                             notebook_bytes(solved_notebook(course, first))), *(extra or [])])


def _nothing_collected(course: Course) -> bool:
    submitted = course.step_dir("submitted", "x").parent.parent
    return not submitted.exists() or not any(submitted.iterdir())


def _single_line(error: pytest.ExceptionInfo[GraderError]) -> str:
    message = str(error.value)
    assert "\n" not in message
    return message


def test_a_corrupt_zip_is_refused(course: Course, tmp_path: Path) -> None:
    garbage = tmp_path / "submissions.zip"
    garbage.write_bytes(b"this is not a zip file at all")
    with pytest.raises(GraderError, match=r"submissions\.zip: not a readable zip file") as error:
        collect(course, garbage)
    assert "download the submissions from the LMS again" in _single_line(error)
    valid = _moodle_zip(course, tmp_path / "valid.zip").read_bytes()
    truncated = tmp_path / "truncated.zip"
    truncated.write_bytes(valid[: len(valid) // 2])
    with pytest.raises(GraderError, match=r"truncated\.zip: not a readable zip file"):
        collect(course, truncated)
    assert truncated.read_bytes() == valid[: len(valid) // 2]
    assert _nothing_collected(course)


def test_a_zip_with_a_damaged_member_is_refused(course: Course, tmp_path: Path) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as archive:
        archive.writestr(f"{moodle_folder('Jane Doe', 101)}/{_first(course)}.ipynb", b'{"cells": []}' * 50)
    damaged = buffer.getvalue().replace(b'{"cells": []}{"cells"', b'{"cells": []}{"CELLS"', 1)
    path = tmp_path / "damaged.zip"
    path.write_bytes(damaged)
    with pytest.raises(GraderError, match=r"damaged\.zip: damaged zip .* fails its checksum"):
        collect(course, path)
    assert _nothing_collected(course)


def test_a_zip_that_is_no_lms_download_is_refused(course: Course, tmp_path: Path) -> None:
    path = write_zip(tmp_path / "homework.zip", [("homework.ipynb", b"{}")])
    with pytest.raises(GraderError, match="no file in this zip is named like a Moodle or Canvas submission"):
        collect(course, path)


def test_an_unknown_student_stops_collect_before_anything_is_written(course: Course, tmp_path: Path) -> None:
    download = _moodle_zip(course, tmp_path / "dl.zip", [
        (f"{moodle_folder('Eve Unknown', 999)}/{_first(course)}.ipynb", b"{}")])
    worksheet = write_worksheet(tmp_path / "worksheet.csv", [JANE])
    with pytest.raises(GraderError, match="belongs to moodle user 999, who is not in the worksheet") as error:
        collect(course, download, worksheet=worksheet)
    assert "Eve Unknown_999_assignsubmission_file_" in _single_line(error)
    assert _nothing_collected(course)
    with course.gradebook() as gradebook:
        assert not gradebook.students


def test_two_submissions_from_one_moodle_student_are_refused(course: Course, tmp_path: Path) -> None:
    first = _first(course)
    download = _moodle_zip(course, tmp_path / "dl.zip", [
        (f"{moodle_folder('Jane M. Doe', 101)}/{first}.ipynb",
         notebook_bytes(release_notebook(course, first)))])
    with pytest.raises(GraderError, match=r"two submissions from moodle user 101 .*Jane Doe.*Jane M\. Doe"):
        collect(course, download)
    assert _nothing_collected(course)


def test_two_submissions_from_one_canvas_student_are_refused(course: Course, tmp_path: Path) -> None:
    first = _first(course)
    jane = CanvasStudent(201, "Doe, Jane", "jd@uni.example")
    download = write_zip(tmp_path / "submissions.zip", [
        (f"{jane.file_prefix()}_9001_{first}.ipynb", notebook_bytes(solved_notebook(course, first))),
        (f"{jane.file_prefix(late=True)}_9002_{first}.ipynb",
         notebook_bytes(release_notebook(course, first)))])
    with pytest.raises(GraderError, match=r"two submissions from canvas user 201 \('doejane_201' and "
                                          r"'doejane_LATE_201'\)"):
        collect(course, download)
    assert _nothing_collected(course)


@pytest.mark.parametrize(("content", "message"), [
    (b"Name,Points\nJane,3\n", r"not a Moodle grading worksheet \(no 'Identifier' column\)"),
    (b"Identifier,Full name,Grade\nParticipant 101,J\x00rgen,\n", "is not a text file"),
    (b"", "the grading worksheet is empty"),
    (b"Identifier,Full name,Grade\nParticipant 101,Jane,\nParticipant 101,Jane,\n",
     r"lines 2 and 3 are both for 'Participant 101'"),
    (b"Identifier,Full name,Grade\nJane,Jane,\n", r"line 2 has no participant number"),
])
def test_a_bad_worksheet_is_refused(course: Course, tmp_path: Path, content: bytes, message: str) -> None:
    worksheet = tmp_path / "worksheet.csv"
    worksheet.write_bytes(content)
    with pytest.raises(GraderError, match=message) as error:
        collect(course, _moodle_zip(course, tmp_path / "dl.zip"), worksheet=worksheet)
    assert str(error.value).startswith(f"{worksheet}: ")
    _single_line(error)
    assert worksheet.read_bytes() == content
    assert _nothing_collected(course)


def test_export_refuses_a_worksheet_without_grades_or_with_a_scale(course: Course, tmp_path: Path) -> None:
    no_grade = write_worksheet(tmp_path / "nograde.csv", [JANE],
                               header=[c for c in WORKSHEET_HEADER if c != "Grade"])
    with pytest.raises(GraderError, match=r"nograde\.csv: the worksheet has no 'Grade' column"):
        export(course, tmp_path / "out" / "scores.csv", LmsFiles(moodle_worksheet=no_grade))
    scale = write_worksheet(tmp_path / "scale.csv", [JANE],
                            header=[c if c != "Maximum Grade" else "Scale" for c in WORKSHEET_HEADER])
    with pytest.raises(GraderError, match=r"scale\.csv: this assignment is graded with a scale"):
        export(course, tmp_path / "out" / "scores.csv", LmsFiles(moodle_worksheet=scale))
    assert not (tmp_path / "out").exists()


def test_export_without_grades_says_what_to_run(course: Course, tmp_path: Path) -> None:
    with pytest.raises(GraderError, match="no grades yet; run `grader autograde` first"):
        export(course, tmp_path / "out" / "scores.csv")


def test_a_file_that_is_no_canvas_gradebook_is_refused(course: Course, tmp_path: Path) -> None:
    worksheet = write_worksheet(tmp_path / "worksheet.csv", [JANE])
    with pytest.raises(GraderError, match=r"worksheet\.csv: not a Canvas gradebook export"):
        export(course, tmp_path / "out" / "scores.csv", LmsFiles(canvas_gradebook=worksheet))
    assert not (tmp_path / "out").exists()


def test_files_of_the_other_lms_are_refused(course: Course, tmp_path: Path) -> None:
    gradebook = write_gradebook(tmp_path / "grades.csv", [CanvasStudent(201, "Doe, Jane", "jd@x")], [])
    with pytest.raises(GraderError, match="a Canvas gradebook does not fit a Moodle download"):
        collect(course, _moodle_zip(course, tmp_path / "dl.zip"), canvas_gradebook=gradebook)
    canvas_zip = write_zip(tmp_path / "canvas.zip", [(f"doejane_201_9001_{_first(course)}.ipynb", b"{}")])
    with pytest.raises(GraderError, match="a Moodle file does not fit a Canvas download"):
        collect(course, canvas_zip, worksheet=write_worksheet(tmp_path / "ws.csv", [JANE]))
    with pytest.raises(GraderError, match="unknown time zone"):
        collect(course, canvas_zip, timezone="Mars/Olympus")


def test_collected_submissions_are_replaced_only_with_force(course: Course, tmp_path: Path) -> None:
    first = _first(course)
    folder = course.step_dir("submitted", JANE.student_id)
    worksheet = write_worksheet(tmp_path / "worksheet.csv", [JANE])
    old = notebook_bytes(release_notebook(course, first))
    first_download = write_zip(tmp_path / "v1.zip", [(f"{moodle_folder(JANE.full_name, 101)}/{first}.ipynb",
                                                      old)])
    collect(course, first_download, worksheet=worksheet)
    new_download = _moodle_zip(course, tmp_path / "v2.zip")
    report = collect(course, new_download, worksheet=worksheet)
    assert report.kept == [JANE.student_id] and report.collected == {}
    assert (folder / f"{first}.ipynb").read_bytes() == old
    report = collect(course, new_download, worksheet=worksheet, force=True)
    assert report.collected == {JANE.student_id: [first]}
    assert (folder / f"{first}.ipynb").read_bytes() != old
    assert sorted(p.name for p in folder.iterdir()) == [f"{first}.ipynb", "timestamp.txt"]


def test_duplicated_notebooks_are_collected_only_when_unambiguous(course: Course, tmp_path: Path) -> None:
    first = _first(course)
    solved = notebook_bytes(solved_notebook(course, first))
    partial = notebook_bytes(solved_notebook(course, first, broken_solution(course, first)))
    jane, john = moodle_folder("Jane Doe", 101), moodle_folder("John Roe", 102)
    mia = moodle_folder("Mia Poe", 103)
    download = write_zip(tmp_path / "dl.zip", [
        (f"{jane}/{first}.ipynb", solved), (f"{jane}/Kopie von {first}.ipynb", partial),
        (f"{john}/{first} (1).ipynb", solved), (f"{john}/Copy of {first}.ipynb", partial),
        (f"{mia}/{first}.ipynb", solved), (f"{mia}/{first} (1).ipynb", solved)])
    report = collect(course, download)
    assert report.collected == {JANE.student_id: [first], "moodle-103": [first]}
    assert (course.step_dir("submitted", JANE.student_id) / f"{first}.ipynb").read_bytes() == solved
    notes, problems = "\n".join(report.notes), "\n".join(report.problems)
    assert f"collected '{first}.ipynb', the one with the assignment's name" in notes
    assert "are identical; collected once" in notes
    john_files = f"'{first} (1).ipynb', 'Copy of {first}.ipynb'"
    assert f"moodle-102 (John Roe): {john_files} are all {first} and differ; none collected" in problems
    assert "moodle-102 (John Roe): no notebook of the assignment among the files" in problems
    assert not course.step_dir("submitted", "moodle-102").exists()


def test_unrecognisable_and_broken_files_are_reported(course: Course, tmp_path: Path) -> None:
    first = _first(course)
    plain = b'{"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}'
    jane, john = moodle_folder("Jane Doe", 101), moodle_folder("John Roe", 102)
    download = write_zip(tmp_path / "dl.zip", [
        (f"{jane}/{first}.ipynb", notebook_bytes(solved_notebook(course, first))),
        (f"{jane}/my homework.ipynb", plain),
        (f"{jane}/more.zip", b"PK\x03\x04 this is no zip"),
        (f"{john}{first}.ipynb", b'{"cells": [{"cell_type": "code", "source": "import numpy as np'),
        ("README.txt", b"downloaded from Moodle")])
    report = collect(course, download)
    assert report.collected == {JANE.student_id: [first], "moodle-102": [first]}
    problems, notes = "\n".join(report.problems), "\n".join(report.notes)
    assert "moodle-101 (Jane Doe): could not tell which notebook 'my homework.ipynb' is" in problems
    assert "moodle-101 (Jane Doe): more.zip: not a readable zip" in problems
    assert f"moodle-102 (John Roe): '{first}.ipynb' is not a readable notebook; collected as" in notes
    assert "README.txt (not in any student's submission)" in report.ignored
    local = datetime(2024, 1, 16, 9, 0, 0).astimezone().isoformat(" ")
    assert (course.step_dir("submitted", "moodle-102") / "timestamp.txt").read_text().strip() == local


def test_nested_download_and_student_zips_are_opened(course: Course, tmp_path: Path) -> None:
    first = _first(course)
    inner = zip_bytes([(f"{moodle_folder('Jane Doe', 101, modern=True)}/work.zip",
                        zip_bytes([(f"lecture01/{first}.ipynb",
                                    notebook_bytes(solved_notebook(course, first))),
                                   (f"__MACOSX/lecture01/._{first}.ipynb", b"junk"),
                                   ("lecture01/.DS_Store", b"junk")]))])
    download = write_zip(tmp_path / "outer.zip", [("DL-Lecture 1-42.zip", inner)])
    report = collect(course, download)
    assert report.collected == {JANE.student_id: [first]}
    assert report.problems == [] and report.ignored == []

"""The Moodle round trip on fixture files in Moodle's formats: download zip -> collect -> autograde ->
feedback -> filled grading worksheet, scores CSV and feedback zip, read back with csv and zipfile."""

from __future__ import annotations

import csv
import hashlib
import io
import os
import shutil
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest
from typer.testing import CliRunner

from grader.autograde import autograde
from grader.classroom import release_notebook, solved_notebook
from grader.cli import app
from grader.course import Course
from grader.errors import GraderError
from grader.export import FEEDBACK_ZIP, MOODLE_WORKSHEET, LmsFiles, export
from grader.feedback import feedback
from grader.lms.collect import CollectReport, collect
from grader.lms.student_grades import number
from grader.scores import cell_scores, notebook_totals
from tests.test_lms_support import (
    WORKSHEET_HEADER,
    MoodleStudent,
    broken_solution,
    class_course,
    moodle_folder,
    notebook_bytes,
    read_rows,
    write_participants,
    write_worksheet,
    write_zip,
    zip_bytes,
)

pytestmark = pytest.mark.slow  # the module grades a class with autograde

JANE = MoodleStudent(101, "Jane Doe", "jane.doe@uni.example", "Monday, 15 January 2024, 2:30 PM")
JOHN = MoodleStudent(102, "John Doe, Jr.", "john.doe@uni.example", "Tuesday, 16 January 2024, 8:05 AM")
ZOE = MoodleStudent(103, 'Zoë "Zo" Ünal', "zoe@uni.example", "-")
MAX = MoodleStudent(104, "Max Mustermann", "max@uni.example", "Montag, 15. Januar 2024, 23:59")
NOBODY = MoodleStudent(105, "No Show", "no.show@uni.example", "-", "No submission")
STUDENTS = [JANE, JOHN, ZOE, MAX, NOBODY]


@dataclass
class MoodleClass:
    """A graded class collected from a Moodle download, with the files the instructor has."""

    course: Course
    download: Path
    download_hash: str
    worksheet: Path
    report: CollectReport
    notebooks: list[str]
    exports: Path


@pytest.fixture(scope="module")
def moodle_class(released_template: Course, tmp_path_factory: pytest.TempPathFactory) -> MoodleClass:
    """One class through collect, autograde and feedback (shared by the tests of this module)."""
    root = tmp_path_factory.mktemp("moodle")
    course = class_course(released_template, root)
    first, *others = course.notebook_names()
    second = others[0] if others else first
    jane = moodle_folder(JANE.full_name, JANE.participant_id)
    john = moodle_folder(JOHN.full_name, JOHN.participant_id, modern=True)
    zoe = moodle_folder(ZOE.full_name, ZOE.participant_id)
    entries = [
        (f"{jane}/{first}.ipynb", notebook_bytes(solved_notebook(course, first))),
        (f"{jane}/timestamp.txt", b"1999-01-01 00:00:00"),
        (f"{jane}/.DS_Store", b"\0\0\0\1Bud1"),
        (f"__MACOSX/{jane}/._{first}.ipynb", b"\0\5\26\7"),
        (f"{john}/Kopie von {first}.ipynb",
         notebook_bytes(solved_notebook(course, first, broken_solution(course, first)))),
        (f"{john}/notes.pdf", b"%PDF-1.4"),
        (f"{zoe}/abgabe.zip", zip_bytes([(f"{course.root.name}/lecture01 (1).ipynb",
                                          notebook_bytes(solved_notebook(course, first))),
                                         ("__MACOSX/x/._lecture01 (1).ipynb", b"junk")])),
        (f"{moodle_folder(MAX.full_name, MAX.participant_id)}{first}.ipynb",
         notebook_bytes(release_notebook(course, first))),
    ]
    if second != first:
        entries.append((f"{moodle_folder(MAX.full_name, MAX.participant_id)}{second}-1.ipynb",
                        notebook_bytes(solved_notebook(course, second))))
    download = write_zip(root / "DL-2024-Lecture 1-1234.zip", entries)
    worksheet = write_worksheet(root / "Grades-DL-Lecture 1-1234.csv", STUDENTS, bom=True, newline="\r\n")
    participants = write_participants(root / "courseid_7_participants.csv", [
        ("Jane", "Doe", JANE.email), ("John", "Doe, Jr.", JOHN.email), ('Zoë "Zo"', "Ünal", ZOE.email),
        ("Max", "Mustermann", MAX.email), ("No", "Show", NOBODY.email), ("Tina", "Teacher", "t@uni.example")])
    download_hash = hashlib.sha256(download.read_bytes()).hexdigest()
    report = collect(course, download, worksheet=worksheet, participants=participants,
                     timezone="Europe/Berlin")
    autograde(course)
    feedback(course)
    return MoodleClass(course, download, download_hash, worksheet, report, [first, second], root / "exports")


def _expected_grade(course: Course, student: str, maximum: float = 100.0) -> str:
    totals = notebook_totals(cell_scores(course))
    score = sum(s for (who, _), (s, _) in totals.items() if who == student)
    possible = sum(m for (who, _), (_, m) in totals.items() if who == student)
    return number(score / possible * maximum)


def test_collect_maps_every_submission_to_the_expected_notebooks(moodle_class: MoodleClass) -> None:
    report, (first, second) = moodle_class.report, moodle_class.notebooks
    assert report.lms == "moodle"
    assert report.collected == {
        JANE.student_id: [first], JOHN.student_id: [first], ZOE.student_id: [first],
        MAX.student_id: sorted({first, second})}
    assert report.without_submission == [NOBODY.student_id]
    assert report.problems == []
    notes = "\n".join(report.notes)
    assert f"'Kopie von {first}.ipynb' collected as {first}.ipynb (recognised by its graded cells)" in notes
    assert f"'lecture01 (1).ipynb' collected as {first}.ipynb" in notes
    assert "ignored the timestamp.txt" in notes
    assert f"{ZOE.student_id} ({ZOE.full_name}): the worksheet gives no submission time; used the date of " \
           "the download, 2024-01-16 09:00." in notes
    assert any("notes.pdf (not a notebook)" in line for line in report.ignored)
    assert not any("DS_Store" in line or "MACOSX" in line for line in report.ignored + report.notes)
    for student in (JANE, JOHN, ZOE, MAX):
        folder = moodle_class.course.step_dir("submitted", student.student_id)
        assert sorted(p.name for p in folder.iterdir()) == sorted(
            [f"{name}.ipynb" for name in report.collected[student.student_id]] + ["timestamp.txt"])


def test_submission_times_come_from_the_lms_never_from_the_student(moodle_class: MoodleClass) -> None:
    def stamp(student: MoodleStudent) -> str:
        path = moodle_class.course.step_dir("submitted", student.student_id) / "timestamp.txt"
        return path.read_text().strip()

    assert stamp(JANE) == "2024-01-15 14:30:00+01:00"  # worksheet, English date format
    assert stamp(JOHN) == "2024-01-16 08:05:00+01:00"
    assert stamp(MAX) == "2024-01-15 23:59:00+01:00"  # worksheet, German date format
    assert stamp(ZOE) == "2024-01-16 09:00:00+01:00"  # no time in the worksheet: the download's date
    with moodle_class.course.gradebook() as gradebook:
        submission = gradebook.find_submission("lecture01", JANE.student_id)
        assert submission.timestamp.isoformat(" ") == "2024-01-15 13:30:00"  # nbgrader keeps UTC


def test_students_are_registered_with_names_emails_and_lms_ids(moodle_class: MoodleClass) -> None:
    with moodle_class.course.gradebook() as gradebook:
        students = {s.id: s for s in gradebook.students}
        for student in STUDENTS:
            record = students[student.student_id]
            assert record.email == student.email
            assert record.lms_user_id == str(student.participant_id)
        john = students[JOHN.student_id]
        assert (john.first_name, john.last_name) == ("John", "Doe, Jr.")
        assert students[ZOE.student_id].last_name == "Ünal"


def test_the_download_is_never_changed(moodle_class: MoodleClass) -> None:
    assert hashlib.sha256(moodle_class.download.read_bytes()).hexdigest() == moodle_class.download_hash


def test_export_fills_the_worksheet_rows_and_keeps_its_format(moodle_class: MoodleClass) -> None:
    course, worksheet = moodle_class.course, moodle_class.worksheet
    original = worksheet.read_bytes()
    folder = moodle_class.exports / "worksheet"
    result = export(course, folder / "scores.csv", LmsFiles(moodle_worksheet=worksheet, feedback_zip=True))
    filled = folder / MOODLE_WORKSHEET
    assert filled in result.written
    assert worksheet.read_bytes() == original
    data = filled.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf") and b"\r\n" in data and data.count(b"\n") == data.count(b"\r\n")
    before, after = read_rows(worksheet), read_rows(filled)
    assert after[0] == before[0]
    assert [row[0] for row in after] == [row[0] for row in before]
    grade, comments = before[0].index("Grade"), before[0].index("Feedback comments")
    for old, new in zip(before[1:], after[1:], strict=True):
        assert [c for i, c in enumerate(new) if i not in (grade, comments)] == \
            [c for i, c in enumerate(old) if i not in (grade, comments)]
    rows = {row[0]: row for row in after[1:]}
    for student in (JANE, JOHN, ZOE, MAX):
        row = rows[f"Participant {student.participant_id}"]
        assert row[1] == student.full_name
        assert row[grade] == _expected_grade(course, student.student_id)
        assert row[comments].startswith("lecture01: ")
        assert all(name in row[comments] for name in course.notebook_names())
    assert rows["Participant 105"][grade] == "" and rows["Participant 105"][comments] == ""
    assert float(rows["Participant 101"][grade]) > float(rows["Participant 102"][grade])
    assert float(rows["Participant 101"][grade]) == float(rows["Participant 103"][grade])
    assert any("scaled" in note for note in result.notes)


def test_points_are_not_scaled_when_the_maximum_grade_matches(moodle_class: MoodleClass) -> None:
    course = moodle_class.course
    possible = sum(row.max_score for row in cell_scores(course) if row.student == JANE.student_id)
    worksheet = write_worksheet(moodle_class.exports.parent / "points.csv", STUDENTS,
                                max_grade=f"{possible:.2f}")
    folder = moodle_class.exports / "points"
    export(course, folder / "scores.csv", LmsFiles(moodle_worksheet=worksheet, zero_missing=True))
    rows = {row[0]: row for row in read_rows(folder / MOODLE_WORKSHEET)[1:]}
    jane = sum(row.score for row in cell_scores(course) if row.student == JANE.student_id)
    assert rows["Participant 101"][4] == number(jane)
    assert rows["Participant 105"][4] == "0"
    assert rows["Participant 105"][9] == "No submission for lecture01."
    assert worksheet.read_bytes()[:3] != b"\xef\xbb\xbf"
    assert (folder / MOODLE_WORKSHEET).read_bytes()[:3] != b"\xef\xbb\xbf"


def test_feedback_zip_has_a_folder_per_participant_with_their_html(moodle_class: MoodleClass) -> None:
    course = moodle_class.course
    folder = moodle_class.exports / "worksheet"
    if not (folder / FEEDBACK_ZIP).exists():
        export(course, folder / "scores.csv",
               LmsFiles(moodle_worksheet=moodle_class.worksheet, feedback_zip=True))
    with zipfile.ZipFile(folder / FEEDBACK_ZIP) as archive:
        names = archive.namelist()
        for student in (JANE, JOHN, ZOE, MAX):
            prefix = moodle_folder(student.full_name, student.participant_id)
            html = sorted(course.step_dir("feedback", student.student_id).glob("*.html"))
            assert html
            expected = sorted(f"{prefix}/{p.name}" for p in html)
            assert sorted(n for n in names if n.startswith(prefix)) == expected
            for path in html:
                assert archive.read(f"{prefix}/{path.name}") == path.read_bytes()
        assert not any("_105_" in name for name in names)
        assert all(name.endswith(".html") for name in names)


def test_scores_csv_quotes_names_and_keeps_non_ascii(moodle_class: MoodleClass) -> None:
    folder = moodle_class.exports / "worksheet"
    if not (folder / "scores.csv").exists():
        export(moodle_class.course, folder / "scores.csv")
    text = (folder / "scores.csv").read_text(encoding="utf-8")
    assert '"Doe, Jr."' in text
    rows = read_rows(folder / "scores.csv")
    header = rows[0]
    assert header[:7] == ["student", "last_name", "first_name", "email", "lms_user_id", "total", "max_total"]
    by_id = {row[0]: row for row in rows[1:]}
    assert by_id[JOHN.student_id][1:5] == ["Doe, Jr.", "John", JOHN.email, "102"]
    assert by_id[ZOE.student_id][1:3] == ["Ünal", 'Zoë "Zo"']
    assert any(":" in column for column in header)  # per-question columns


def test_export_command_line(moodle_class: MoodleClass) -> None:
    folder = moodle_class.exports / "cli"
    args = ["export", "--course", str(moodle_class.course.root), "-o", str(folder / "scores.csv"),
            "--moodle-worksheet", str(moodle_class.worksheet), "--feedback-zip"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert f"written: {folder / MOODLE_WORKSHEET}" in result.output
    again = CliRunner().invoke(app, args)
    assert again.exit_code == 1
    assert "already exists; pass --force" in again.output
    assert CliRunner().invoke(app, [*args, "--force"]).exit_code == 0


def test_collecting_again_keeps_what_was_collected(moodle_class: MoodleClass) -> None:
    course = moodle_class.course
    again = collect(course, moodle_class.download, worksheet=moodle_class.worksheet, timezone="Europe/Berlin")
    assert again.collected == {}
    assert sorted(again.unchanged) == sorted(moodle_class.report.collected)


def test_worksheet_without_grade_column_is_refused(moodle_class: MoodleClass) -> None:
    header = [column for column in WORKSHEET_HEADER if column != "Grade"]
    worksheet = write_worksheet(moodle_class.exports.parent / "nograde.csv", STUDENTS, header=header)
    folder = moodle_class.exports / "nograde"
    with pytest.raises(GraderError, match=r"nograde\.csv: the worksheet has no 'Grade' column"):
        export(moodle_class.course, folder / "scores.csv", LmsFiles(moodle_worksheet=worksheet))
    assert not folder.exists()


def test_export_never_writes_over_its_input(moodle_class: MoodleClass) -> None:
    folder = moodle_class.exports / "input"
    folder.mkdir(parents=True)
    worksheet = shutil.copy(moodle_class.worksheet, folder / MOODLE_WORKSHEET)
    before = Path(worksheet).read_bytes()
    with pytest.raises(GraderError, match="input file and is never overwritten"):
        export(moodle_class.course, folder / "scores.csv", LmsFiles(moodle_worksheet=Path(worksheet)),
               force=True)
    assert Path(worksheet).read_bytes() == before
    assert not (folder / "scores.csv").exists()


@pytest.mark.parametrize(("encoding", "separator", "menu"), [
    ("cp1252", ";", "Encoding WINDOWS-1252 and Separator Semicolon"),
    ("utf-8-sig", "\t", "Encoding UTF-8 and Separator Tab"),
    ("utf-8", ":", "Encoding UTF-8 and Separator Colon"),
    ("utf-16", "\t", "Encoding UTF-8 and Separator Tab"),
])
def test_worksheets_in_the_encodings_and_separators_of_moodles_upload_form(
        moodle_class: MoodleClass, encoding: str, separator: str, menu: str) -> None:
    """Moodle's 'Upload grading worksheet' form (mod/assign/feedback/offline/uploadgradesform.php) offers an
    Encoding menu and the separators Tab, Comma, Colon and Semicolon: such a file is read, and written back
    the same way (UTF-16, which the menu may lack, as UTF-8), with the form's words in the notes."""
    rows = read_rows(moodle_class.worksheet)
    rows[1][1] = "Jürgen Müller; Jr."  # needs quotes with ';', and a Windows-1252 character
    name = f"worksheet-{encoding}-{ord(separator)}.csv"
    path = moodle_class.exports.parent / name
    buffer = io.StringIO(newline="")
    csv.writer(buffer, delimiter=separator, lineterminator="\r\n").writerows(rows)
    path.write_bytes(buffer.getvalue().encode(encoding))
    folder = moodle_class.exports / name
    result = export(moodle_class.course, folder / "scores.csv", LmsFiles(moodle_worksheet=path))
    assert any(menu in note and "'Upload grading worksheet' form" in note for note in result.notes)
    written = (folder / MOODLE_WORKSHEET).read_bytes()
    out_encoding = "utf-8-sig" if encoding == "utf-16" else encoding
    assert written.startswith(b"\xef\xbb\xbf") == (out_encoding == "utf-8-sig")
    text = written.decode(out_encoding)
    filled = list(csv.reader(io.StringIO(text, newline=""), delimiter=separator))
    assert filled[0] == rows[0] and [row[:4] for row in filled] == [row[:4] for row in rows]
    assert filled[1][1] == "Jürgen Müller; Jr."
    grades = {row[0]: row[4] for row in filled[1:]}
    assert grades["Participant 101"] == _expected_grade(moodle_class.course, JANE.student_id)
    assert grades["Participant 102"] == _expected_grade(moodle_class.course, JOHN.student_id)
    assert "\r\n" in text


def test_locked_rows_and_students_missing_from_the_worksheet_are_reported(moodle_class: MoodleClass) -> None:
    path = write_worksheet(moodle_class.exports.parent / "partial.csv", [JANE, ZOE, NOBODY])
    rows = read_rows(path)
    rows[1][6] = "No"  # Jane's grade is locked in Moodle
    with path.open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle, lineterminator="\n").writerows(rows)
    folder = moodle_class.exports / "partial"
    result = export(moodle_class.course, folder / "scores.csv", LmsFiles(moodle_worksheet=path))
    notes = "\n".join(result.notes)
    assert f"{JANE.student_id}: Moodle says these grades cannot be changed" in notes
    assert f"{JOHN.student_id}: graded but not in the grading worksheet" in notes
    assert f"{MAX.student_id}: graded but not in the grading worksheet" in notes
    filled = {row[0]: row for row in read_rows(folder / MOODLE_WORKSHEET)[1:]}
    assert filled["Participant 101"][4] == ""
    assert filled["Participant 103"][4] == _expected_grade(moodle_class.course, ZOE.student_id)


def test_a_re_export_with_an_old_worksheet_says_to_download_a_fresh_one(moodle_class: MoodleClass) -> None:
    folder = moodle_class.exports / "again"
    worksheet = shutil.copy(moodle_class.worksheet, moodle_class.exports.parent / "again.csv")
    first = export(moodle_class.course, folder / "scores.csv", LmsFiles(moodle_worksheet=Path(worksheet)))
    assert not any("download a fresh worksheet and export again" in note for note in first.notes)
    stamp = (folder / MOODLE_WORKSHEET).stat().st_mtime
    os.utime(worksheet, (stamp - 3600, stamp - 3600))  # downloaded an hour before that export
    again = export(moodle_class.course, folder / "scores.csv", LmsFiles(moodle_worksheet=Path(worksheet)),
                   force=True)
    assert any("this worksheet is older than the moodle-grading-worksheet.csv exported before" in note
               and "download a fresh worksheet and export again" in note for note in again.notes)

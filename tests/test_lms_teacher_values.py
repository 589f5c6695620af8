"""A teacher's own grades and words survive the Moodle round trip: the filled worksheet goes through an
emulation of Moodle's import (mod/assign/feedback/offline/locallib.php, process_import_grades), and what
Moodle would store is compared with what was there before.

The class: Ana and Bob submitted (Bob's row carries a comment the teacher typed in Moodle, Ana's one from
Moodle's HTML editor; Bob left one exercise out, so his grade has decimals); Eve submitted, was collected
and graded, and then her attempt was reopened; Cat handed in on paper and has a grade typed by hand; Dan
has an extension; Fin submitted nothing.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest

from grader.autograde import autograde
from grader.classroom import solved_notebook
from grader.course import Course
from grader.export import FEEDBACK_ZIP, MOODLE_WORKSHEET, LmsFiles, export
from grader.feedback import feedback
from grader.lms.collect import collect
from grader.scores import cell_scores
from tests.test_lms_support import (
    WORKSHEET_HEADER,
    MoodleStudent,
    broken_solution,
    class_course,
    moodle_folder,
    notebook_bytes,
    read_rows,
    write_worksheet,
    write_zip,
)

pytestmark = pytest.mark.slow  # the module grades a class with autograde

ANA = MoodleStudent(301, "Ana Alpha", "ana@uni.example", "Monday, 15 January 2024, 2:30 PM")
BOB = MoodleStudent(302, "Bob Beta", "bob@uni.example", "Monday, 15 January 2024, 2:40 PM")
EVE = MoodleStudent(305, "Eve Epsilon", "eve@uni.example", "Monday, 15 January 2024, 3:00 PM")
CAT = MoodleStudent(303, "Cat Gamma", "cat@uni.example", "-", "No submission")
DAN = MoodleStudent(304, "Dan Delta", "dan@uni.example", "-",
                    "No submission - Extension granted until: Friday, 19 January 2024, 11:59 PM")
FIN = MoodleStudent(306, "Fin Phi", "fin@uni.example", "-", "No submission")
CLASS = [ANA, BOB, CAT, DAN, EVE, FIN]
TEACHER = "See me about the bonus."
EDITOR = "<p>Nice plots!</p>"
GRADE, MAXIMUM, STATUS, SUBMITTED, COMMENT = (WORKSHEET_HEADER.index(column) for column in (
    "Grade", "Maximum Grade", "Status", "Last modified (submission)", "Feedback comments"))


@dataclass
class TeacherClass:
    course: Course
    root: Path


@pytest.fixture(scope="module")
def teacher_class(released_template: Course, tmp_path_factory: pytest.TempPathFactory) -> TeacherClass:
    root = tmp_path_factory.mktemp("teacher")
    course = class_course(released_template, root)
    first = course.notebook_names()[0]
    solved = notebook_bytes(solved_notebook(course, first))
    broken = notebook_bytes(solved_notebook(course, first, broken_solution(course, first)))
    download = write_zip(root / "download.zip", [
        (f"{moodle_folder(student.full_name, student.participant_id)}/{first}.ipynb", data)
        for student, data in ((ANA, solved), (BOB, broken), (EVE, solved))])
    collect(course, download, worksheet=write_worksheet(root / "at-collect.csv", CLASS), timezone="UTC")
    autograde(course)
    feedback(course)
    return TeacherClass(course, root)


def fresh_worksheet(path: Path, cells: dict[int, dict[int, str]], decimal_comma: bool = False) -> Path:
    """The worksheet Moodle gives after the teacher's changes: mod/assign/gradingtable.php while downloading,

        display_grade:  if ($grade == -1 || $grade === null) { return ''; }
                        return format_float($grade, $gradeitem->get_decimals());
        col_status:     $o = strip_tags(rtrim(str_replace('</div>', ' - ', $o), '- '));
                        (the statuses, then get_string('userextensiondate', ...), joined by ' - ')
        other_cols:     if (isset($field)) { return $plugin->get_editor_text($field, $row->gradeid); }

    (the Feedback comments cell is the comment as stored). `cells` maps participant id -> column -> value.
    With `decimal_comma`, the file as a spreadsheet under a German locale saves it ("100,00")."""
    write_worksheet(path, CLASS, max_grade="100,00" if decimal_comma else "100.00")
    rows = read_rows(path)
    for row in rows[1:]:
        for column, value in cells.get(int(row[0].split()[-1]), {}).items():
            row[column] = value
    buffer = io.StringIO(newline="")
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    path.write_text(buffer.getvalue(), encoding="utf-8")
    return path


BEFORE = {
    ANA.participant_id: {COMMENT: EDITOR},
    BOB.participant_id: {COMMENT: TEACHER},
    CAT.participant_id: {GRADE: "8.50", COMMENT: "Paper hand-in, graded by hand."},
    EVE.participant_id: {STATUS: "Reopened", SUBMITTED: "Wednesday, 17 January 2024, 10:00 AM"},
}


def unformat_float(text: str) -> float | None:
    """lib/moodlelib.php, unformat_float, in an English Moodle (decsep "."):

        $localisedfloat = str_replace(' ', '', $localisedfloat);
        $localisedfloat = str_replace(get_string('decsep', 'langconfig'), '.', $localisedfloat);
        return (float)$localisedfloat;

    PHP's (float) cast reads the longest leading number ("6,11" gives 6)."""
    text = text.strip().replace(" ", "")
    if not text:
        return None
    match = re.match(r"[+-]?(\d+(\.\d*)?|\.\d+)", text)
    return float(match.group(0)) if match else 0.0


def moodle_import(before: list[list[str]], filled: list[list[str]]) -> dict[int, tuple[float | None, str]]:
    """What Moodle stores per participant after importing `filled` over a Moodle holding `before`:
    mod/assign/feedback/offline/locallib.php, process_import_grades:

        $record->grade = unformat_float($record->grade);
        if ($usergrade && $usergrade->grade == $record->grade) { $skip = true; }   // not modified
        else if (!isset($record->grade) || $record->grade === '' || $record->grade < 0) { $skip = true; }
        ...
        if ($newvalue != $oldvalue) { ... $plugin->set_editor_text($field, $newvalue, $grade->id); }
    """
    old = {int(row[0].split()[-1]): row for row in before[1:]}
    stored = {}
    for row in filled[1:]:
        pid = int(row[0].split()[-1])
        grade, current = unformat_float(row[GRADE]), unformat_float(old[pid][GRADE])
        keep = grade is None or grade == current
        stored[pid] = (current if keep else grade, row[COMMENT] if row[COMMENT] != old[pid][COMMENT]
                       else old[pid][COMMENT])
    return stored


def _points(course: Course, student: MoodleStudent) -> float:
    rows = [row for row in cell_scores(course) if row.student == student.student_id]
    return sum(row.score for row in rows) / sum(row.max_score for row in rows) * 100


def _export(teacher_class: TeacherClass, name: str, worksheet: Path, **options: bool) -> Path:
    folder = teacher_class.root / name
    export(teacher_class.course, folder / "scores.csv", LmsFiles(moodle_worksheet=worksheet, **options))
    return folder


def test_a_teachers_comment_is_kept_and_only_the_graders_summary_replaced(
        teacher_class: TeacherClass) -> None:
    worksheet = fresh_worksheet(teacher_class.root / "first.csv", BEFORE)
    filled = read_rows(_export(teacher_class, "first", worksheet) / MOODLE_WORKSHEET)
    stored = moodle_import(read_rows(worksheet), filled)
    bob, ana = stored[BOB.participant_id][1], stored[ANA.participant_id][1]
    assert bob.startswith(TEACHER) and "\nlecture01: " in bob
    assert ana.startswith(EDITOR) and "<p>lecture01: " in ana
    # The next worksheet carries what Moodle stored; after a regrade the export again keeps the teacher's
    # words once and holds one summary.
    again = fresh_worksheet(teacher_class.root / "second.csv", {
        **BEFORE, BOB.participant_id: {COMMENT: bob, GRADE: "10.00"},
        ANA.participant_id: {COMMENT: ana}})
    filled_again = read_rows(_export(teacher_class, "second", again) / MOODLE_WORKSHEET)
    second = moodle_import(read_rows(again), filled_again)
    for pid, teacher in ((BOB.participant_id, TEACHER), (ANA.participant_id, EDITOR)):
        comment = second[pid][1]
        assert comment.count(teacher) == 1 and comment.count("lecture01: ") == 1, comment


def test_zero_missing_never_erases_a_grade_or_an_extension(teacher_class: TeacherClass) -> None:
    worksheet = fresh_worksheet(teacher_class.root / "zero.csv", BEFORE)
    folder = _export(teacher_class, "zero", worksheet, zero_missing=True)
    stored = moodle_import(read_rows(worksheet), read_rows(folder / MOODLE_WORKSHEET))
    assert stored[CAT.participant_id] == (8.5, "Paper hand-in, graded by hand.")
    assert stored[DAN.participant_id] == (None, "")
    assert stored[FIN.participant_id] == (0.0, "No submission for lecture01.")


def test_a_reopened_attempt_gets_nothing_of_the_graded_one(teacher_class: TeacherClass) -> None:
    """Eve's row is her new, reopened attempt (the grading table shows the latest): no grade, no comment,
    no feedback folder; export says why."""
    worksheet = fresh_worksheet(teacher_class.root / "reopened.csv", BEFORE)
    folder = teacher_class.root / "reopened"
    result = export(teacher_class.course, folder / "scores.csv",
                    LmsFiles(moodle_worksheet=worksheet, feedback_zip=True))
    stored = moodle_import(read_rows(worksheet), read_rows(folder / MOODLE_WORKSHEET))
    assert stored[EVE.participant_id] == (None, "")
    assert stored[ANA.participant_id][0] == pytest.approx(_points(teacher_class.course, ANA), abs=0.005)
    with zipfile.ZipFile(folder / FEEDBACK_ZIP) as archive:
        assert not any(f"_{EVE.participant_id}_" in name for name in archive.namelist())
        assert any(f"_{ANA.participant_id}_" in name for name in archive.namelist())
    assert any(note.startswith(f"{EVE.student_id}: Moodle's Status is 'Reopened'") for note in result.notes)


def test_a_later_submission_in_moodle_keeps_its_row_unchanged(teacher_class: TeacherClass) -> None:
    """Bob submitted again after the download that was collected: his row is not the graded attempt."""
    worksheet = fresh_worksheet(teacher_class.root / "later.csv", {
        BOB.participant_id: {SUBMITTED: "Tuesday, 16 January 2024, 9:00 AM"}})
    folder = _export(teacher_class, "later", worksheet)
    stored = moodle_import(read_rows(worksheet), read_rows(folder / MOODLE_WORKSHEET))
    assert stored[BOB.participant_id] == (None, "")
    assert stored[ANA.participant_id][0] is not None


def test_grades_are_written_as_an_english_moodle_reads_them(teacher_class: TeacherClass) -> None:
    """The worksheet was re-saved under a German locale ("100,00"); the importing Moodle is English (its
    headers are): every grade reads back as the points scaled to 100."""
    worksheet = fresh_worksheet(teacher_class.root / "german-locale.csv", BEFORE, decimal_comma=True)
    stored = moodle_import(read_rows(worksheet),
                           read_rows(_export(teacher_class, "german-locale", worksheet) / MOODLE_WORKSHEET))
    assert _points(teacher_class.course, BOB) % 1  # a grade with decimals
    for student in (ANA, BOB):
        assert stored[student.participant_id][0] == pytest.approx(_points(teacher_class.course, student),
                                                                  abs=0.005)


@pytest.mark.parametrize(("current", "expected"), [
    ("", "{summary}"),
    ("See me.", "See me.\n\n{summary}"),
    ("See me.\n\nlecture01: 10 of 36 points. 01_forward_propagation 10/11.", "See me.\n\n{summary}"),
    ("No submission for lecture01.", "{summary}"),
    ("<p>Nice!</p>\n<p>Group submission of R&D. lecture01: 3,5 of 36 points (grade 9.72 of 100).</p>",
     "<p>Nice!</p>\n<p>{summary}</p>"),
    ("lecture01: see the notes on the plots.", "lecture01: see the notes on the plots.\n\n{summary}"),
    ("lecture02: 5 of 10 points.", "lecture02: 5 of 10 points.\n\n{summary}"),
])
def test_only_the_graders_own_summary_is_replaced(current: str, expected: str) -> None:
    """A line is the grader's when it starts as its summaries do; a teacher's line about the assignment,
    or another assignment's summary, stays."""
    from grader.lms.worksheet import merged_comment  # here, so the module's other tests run without it

    summary = "lecture01: 30 of 36 points. 01_forward_propagation 11/11."
    assert merged_comment(current, summary, "lecture01") == expected.format(summary=summary)

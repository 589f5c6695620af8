"""Group assignments and existing grades through the whole round trip, on files built by the LMS's own rules.

One class is collected from three downloads (a Moodle 4.1+ group download, a Moodle download from before 4.1
with one folder per group member, a Canvas download), graded once, and exported; every output is read back
with csv and zipfile and checked against the LMS's own import rules, implemented here as small functions:
Moodle's feedback-zip upload (which participant a folder goes to) and Canvas's gradebook import (which
grades change).
"""

from __future__ import annotations

import csv
import io
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from grader.autograde import autograde
from grader.classroom import release_notebook, solved_notebook
from grader.course import Course
from grader.export import CANVAS_IMPORT, FEEDBACK_ZIP, MOODLE_WORKSHEET, LmsFiles, export
from grader.feedback import feedback
from grader.lms.collect import CollectReport, collect
from grader.lms.student_grades import number, scaled
from grader.scores import cell_scores
from tests.test_lms_support import (
    CANVAS_TOTALS,
    CanvasStudent,
    broken_solution,
    class_course,
    clean_filename,
    moodle_group_folder,
    notebook_bytes,
    read_rows,
    write_zip,
)

pytestmark = pytest.mark.slow

# --- Moodle: the offline grading worksheet of a group assignment ------------------------------------------

#: Columns of the worksheet of an assignment with "Students submit in groups", in the order of
#: mod/assign/gradingtable.php (assign_grading_table::__construct while downloading: recordid, fullname,
#: identity fields, status, team, grade, grademax, gradecanbechanged, timesubmitted, timemarked, feedback).
GROUP_HEADER = ["Identifier", "Full name", "Email address", "Status", "Group", "Grade", "Maximum Grade",
                "Grade can be changed", "Last modified (submission)", "Last modified (grade)",
                "Feedback comments"]
GERMAN_HEADER = ["ID", "Vollständiger Name", "E-Mail-Adresse", "Status", "Gruppe", "Bewertung",
                 "Bestwertung", "Bewertung kann geändert werden", "Zuletzt geändert (Abgabe)",
                 "Zuletzt geändert (Bewertung)", "Feedback als Kommentar"]


@dataclass(frozen=True)
class Member:
    participant_id: int
    full_name: str
    group: str  # the worksheet's Group cell: the group's name, or "Default group" (col_team)
    locked: bool = False

    @property
    def student_id(self) -> str:
        return f"moodle-{self.participant_id}"


def write_group_worksheet(path: Path, members: list[Member], german: bool = False) -> Path:
    """A worksheet as mod/assign/gradingtable.php writes it for a group assignment (col_team gives the group
    name, or get_string('defaultteam') for a participant in no group; col_recordid gives
    "Participant <id>")."""
    header = GERMAN_HEADER if german else GROUP_HEADER
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    for member in members:
        writer.writerow([f"{'Teilnehmer/in' if german else 'Participant'} {member.participant_id}",
                         member.full_name, f"p{member.participant_id}@uni.example",
                         "Submitted for grading", member.group, "", "100.00",
                         ("Nein" if german else "No") if member.locked else ("Ja" if german else "Yes"),
                         "Monday, 15 January 2024, 2:30 PM", "-", ""])
    path.write_bytes(b"\xef\xbb\xbf" + buffer.getvalue().encode("utf-8"))
    return path


def group_folder(group_name: str, group_id: int | None) -> str:
    """The folder Moodle 4.1+ gives a group submission (see test_lms_support.moodle_group_folder)."""
    return moodle_group_folder(group_name, group_id)


def member_folder(group_name: str, member: Member) -> str:
    """The folder Moodle before 4.1 gives each member of a group: mod/assign/locallib.php,
    download_submissions (group name + "-" + full name, "_" as space, then "_<participant id>", then
    "_assignsubmission_file_")."""
    prefix = clean_filename(f"{group_name}-{member.full_name}".replace("_", " ")
                             + f"_{member.participant_id}")
    return f"{prefix}_assignsubmission_file_"


def moodle_zip_upload(names: list[str], participants: set[int]) -> dict[str, int | None]:
    """Which participant Moodle's "Upload multiple feedback files in a zip" gives each file of the zip.

    Follows mod/assign/feedback/file/importziplib.php, is_valid_filename_for_import: hidden files ("." or
    "~") are skipped; each path part is split at "_" into at most 5 fields; the first part with at least 4
    fields whose second field is the number of a participant of the assignment decides (the plugin fields
    must name a plugin; both assignsubmission_file and assignfeedback_file do).
    """
    owners: dict[str, int | None] = {}
    for name in names:
        if name.endswith("/") or name.rsplit("/", 1)[-1].startswith((".", "~")):
            continue
        owners[name] = None
        for part in name.split("/"):
            fields = part.split("_", 4)
            if len(fields) < 4 or not fields[1].isdigit() or int(fields[1]) not in participants:
                continue
            if (fields[2], fields[3]) in (("assignsubmission", "file"), ("assignfeedback", "file")):
                owners[name] = int(fields[1])
                break
    return owners


# --- Canvas: the gradebook export with grades already in it ------------------------------------------------


def write_gradebook_with_values(path: Path, students: list[CanvasStudent], title: str, assignment_id: int,
                                points: str, values: dict[int, str]) -> Path:
    """A Canvas gradebook export (Grades, Export) whose assignment column already holds values: a grade typed
    by hand, EX (excused), or nothing."""
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["Student", "ID", "SIS User ID", "SIS Login ID", "Section", f"{title} ({assignment_id})",
                     *CANVAS_TOTALS])
    writer.writerow(["    Points Possible", "", "", "", "", points, *["(read only)"] * len(CANVAS_TOTALS)])
    for student in students:
        writer.writerow([student.sortable_name, student.user_id, f"S{student.user_id}", student.login,
                         student.section, values.get(student.user_id, ""), *["0.00"] * len(CANVAS_TOTALS)])
    path.write_text(buffer.getvalue(), encoding="utf-8")
    return path


def canvas_import_changes(exported: list[list[str]], imported: list[list[str]]) -> dict[str, str]:
    """The grades Canvas's import posts: ui/features/gradebook_uploads/jquery/process_gradebook_upload.js,
    populateGradeDataPerSubmission, posts every cell that differs from the grade Canvas has (an empty
    cell included, which erases), and "EX" as excused; students not in the file are not touched."""
    current = {row[1]: row[5] for row in exported[2:]}
    return {row[1]: row[-1] for row in imported[2:] if row[-1] != current.get(row[1], "")}


# --- the class ---------------------------------------------------------------------------------------------

ANN = Member(501, "Ann Alpha", "Team_Alpha")
BEN = Member(502, "Ben Alpha", "Team_Alpha", locked=True)
CID = Member(503, "Cid Beta", "Beta")
DORA = Member(77, "Dora Seventy", "Default group")  # her participant id is Team_Alpha's group id
ELI = Member(504, "Eli Nogroup", "Default group")
FAY = Member(505, "Fay Gamma", "Gamma")  # her group submitted nothing
MODERN = [ANN, BEN, CID, DORA, ELI, FAY]
GIL = Member(601, "+Gil Delta", "Delta")  # a spreadsheet would run it
HAL = Member(602, "Hal Delta", "Delta")
OLD = [GIL, HAL]
GROUPS = {"Team_Alpha": 77, "Beta": 78}

JANE = CanvasStudent(201, '=HYPERLINK("http://evil.example"), Jane', "jdoe@uni.example")  # a formula
HAND = CanvasStudent(202, "Hand, Graded", "hand@uni.example")
EXCUSED = CanvasStudent(203, "Excused, Not", "ex@uni.example")
EMPTY = CanvasStudent(204, "Empty, Still", "empty@uni.example")
EXCUSED_SUBMITTER = CanvasStudent(205, "Excused, But Submitted", "exs@uni.example")
LATE = CanvasStudent(206, "Late, Comer", "late@uni.example")
CANVAS = [JANE, HAND, EXCUSED, EMPTY, EXCUSED_SUBMITTER, LATE]
CANVAS_VALUES = {202: "7", 203: "EX", 205: "EX"}


@dataclass
class GroupClass:
    course: Course
    root: Path
    modern: Path
    old: Path
    gradebook: Path
    reports: dict[str, CollectReport] = field(default_factory=dict)


@pytest.fixture(scope="module")
def group_class(released_template: Course, tmp_path_factory: pytest.TempPathFactory) -> GroupClass:
    root = tmp_path_factory.mktemp("groups")
    course = class_course(released_template, root)
    first = course.notebook_names()[0]
    solved = notebook_bytes(solved_notebook(course, first))
    broken = notebook_bytes(solved_notebook(course, first, broken_solution(course, first)))
    blank = notebook_bytes(release_notebook(course, first))
    modern = write_zip(root / "DL-Groups-41.zip", [
        (f"{group_folder('Team_Alpha', 77)}/{first}.ipynb", solved),
        (f"{group_folder('Beta', 78)}/{first}.ipynb", broken),
        (f"{group_folder('Default group', None)}/{first}.ipynb", blank),
    ])
    old = write_zip(root / "DL-Groups-40.zip", [
        (f"{member_folder('Delta', GIL)}/{first}.ipynb", solved),
        (f"{member_folder('Delta', HAL)}/{first}.ipynb", solved),
    ])
    canvas = write_zip(root / "canvas submissions.zip", [
        (f"{JANE.file_prefix()}_9001_{first}.ipynb", solved),
        (f"{EXCUSED_SUBMITTER.file_prefix()}_9005_{first}.ipynb", broken),
    ])
    gradebook = write_gradebook_with_values(root / "Grades-DL.csv", CANVAS, "Lecture 1", 5001, "34.00",
                                            CANVAS_VALUES)
    reports = {
        "modern": collect(course, modern, worksheet=write_group_worksheet(root / "modern.csv", MODERN),
                          timezone="UTC"),
        "old": collect(course, old, worksheet=write_group_worksheet(root / "old.csv", OLD, german=True),
                       timezone="UTC"),
        "canvas": collect(course, canvas, canvas_gradebook=gradebook, timezone="UTC"),
    }
    autograde(course)
    feedback(course)
    late = write_zip(root / "late.zip", [(f"{LATE.file_prefix()}_9006_{first}.ipynb", solved)])
    reports["late"] = collect(course, late, canvas_gradebook=gradebook, timezone="UTC")
    return GroupClass(course, root, root / "modern.csv", root / "old.csv", gradebook, reports)


def _total(course: Course, student: str) -> float:
    return sum(row.score for row in cell_scores(course) if row.student == student)


def _possible(course: Course, student: str) -> float:
    return sum(row.max_score for row in cell_scores(course) if row.student == student)


def _grade(course: Course, student: str) -> str:
    return number(_total(course, student) / _possible(course, student) * 100)


def _canvas_grade(course: Course, student: CanvasStudent) -> str:
    """The grade for Canvas: points scaled to the export's 34 points possible."""
    return number(scaled(_total(course, student.student_id), _possible(course, student.student_id), 34.0))


def test_each_group_is_collected_once_and_no_group_id_becomes_a_student(group_class: GroupClass) -> None:
    report, course = group_class.reports["modern"], group_class.course
    assert sorted(report.collected) == ["moodle-group-0", "moodle-group-77", "moodle-group-78"]
    assert report.problems == []
    assert report.without_submission == [FAY.student_id]
    notes = "\n".join(report.notes)
    assert f"moodle-group-77 (Team_Alpha): a group submission, graded once; export gives its grade and " \
           f"feedback to each member: {ANN.student_id} (Ann Alpha), {BEN.student_id} (Ben Alpha)." in notes
    assert f"{DORA.student_id} (Dora Seventy), {ELI.student_id} (Eli Nogroup)" in notes
    assert not course.step_dir("submitted", DORA.student_id).exists()  # id 77 is Team_Alpha's group id
    assert not course.step_dir("submitted", ANN.student_id).exists()
    with course.gradebook() as gradebook:
        assert gradebook.find_student("moodle-group-77").last_name == "Team_Alpha"
    assert group_class.reports["old"].collected == {GIL.student_id: [course.notebook_names()[0]],
                                                    HAL.student_id: [course.notebook_names()[0]]}


def test_every_member_gets_the_group_grade_in_the_worksheet(group_class: GroupClass) -> None:
    course = group_class.course
    folder = group_class.root / "modern-export"
    result = export(course, folder / "scores.csv",
                    LmsFiles(moodle_worksheet=group_class.modern, feedback_zip=True))
    rows = {row[0]: row for row in read_rows(folder / MOODLE_WORKSHEET)[1:]}
    grade, comment = GROUP_HEADER.index("Grade"), GROUP_HEADER.index("Feedback comments")
    expected = {ANN: "moodle-group-77", CID: "moodle-group-78", DORA: "moodle-group-0", ELI: "moodle-group-0"}
    for member, group in expected.items():
        row = rows[f"Participant {member.participant_id}"]
        assert row[grade] == _grade(course, group)
        assert row[comment].startswith(f"Group submission of {member.group}. lecture01: ")
    assert float(rows["Participant 501"][grade]) > float(rows["Participant 503"][grade]) > \
        float(rows["Participant 77"][grade])
    assert rows["Participant 502"][grade] == "" and rows["Participant 502"][comment] == ""  # locked
    assert rows["Participant 505"][grade] == ""  # Gamma handed in nothing
    notes = "\n".join(result.notes)
    assert f"{BEN.student_id}: Moodle says these grades cannot be changed" in notes
    assert "their feedback files are not in the feedback zip" in notes
    assert f"upload {MOODLE_WORKSHEET} first" in notes and f"then {FEEDBACK_ZIP}" in notes
    assert "download a fresh worksheet" in notes
    assert "Allow updating records that have been modified more recently in Moodle than in the " \
           "spreadsheet" in notes


def test_feedback_folders_go_to_exactly_the_intended_participants(group_class: GroupClass) -> None:
    course = group_class.course
    folder = group_class.root / "modern-export"
    if not (folder / FEEDBACK_ZIP).exists():
        export(course, folder / "scores.csv",
               LmsFiles(moodle_worksheet=group_class.modern, feedback_zip=True))
    with zipfile.ZipFile(folder / FEEDBACK_ZIP) as archive:
        names = archive.namelist()
        owners = moodle_zip_upload(names, {m.participant_id for m in MODERN})
        assert None not in owners.values()
        expected = {ANN: "moodle-group-77", CID: "moodle-group-78", DORA: "moodle-group-0",
                    ELI: "moodle-group-0"}
        assert set(owners.values()) == {m.participant_id for m in expected}  # not Ben (locked), not Fay
        for member, group in expected.items():
            pages = sorted(course.step_dir("feedback", group).glob("*.html"))
            assert pages
            received = sorted(name for name, owner in owners.items() if owner == member.participant_id)
            assert [name.rsplit("/", 1)[-1] for name in received] == [page.name for page in pages]
            assert [archive.read(name) for name in received] == [page.read_bytes() for page in pages]
        numbers = {str(m.participant_id) for m in MODERN}
        assert all(name.split("/")[0].split("_")[1] in numbers for name in names)


def test_members_graded_on_their_own_before_moodle_4_1_keep_their_grades(group_class: GroupClass) -> None:
    course = group_class.course
    folder = group_class.root / "old-export"
    export(course, folder / "scores.csv", LmsFiles(moodle_worksheet=group_class.old, feedback_zip=True))
    rows = {row[0]: row for row in read_rows(folder / MOODLE_WORKSHEET)[1:]}
    grade = GERMAN_HEADER.index("Bewertung")
    for member in OLD:
        assert rows[f"Teilnehmer/in {member.participant_id}"][grade] == _grade(course, member.student_id)
    with zipfile.ZipFile(folder / FEEDBACK_ZIP) as archive:
        owners = moodle_zip_upload(archive.namelist(), {m.participant_id for m in OLD})
    assert sorted(set(owners.values())) == [601, 602]  # type: ignore[type-var]


def test_canvas_import_never_changes_a_value_without_a_new_result(group_class: GroupClass) -> None:
    course = group_class.course
    folder = group_class.root / "canvas-export"
    result = export(course, folder / "scores.csv", LmsFiles(canvas_gradebook=group_class.gradebook))
    exported, imported = read_rows(group_class.gradebook), read_rows(folder / CANVAS_IMPORT)
    assert canvas_import_changes(exported, imported) == {"201": _canvas_grade(course, JANE)}
    notes = "\n".join(result.notes)
    assert "5 students left unchanged in Canvas" in notes
    assert "2 no submission (canvas-202, canvas-204)" in notes
    assert "1 collected but not graded yet (canvas-206)" in notes
    assert "2 excused (EX) in Canvas (canvas-203, canvas-205)" in notes


def test_zero_missing_fills_only_empty_cells(group_class: GroupClass) -> None:
    course = group_class.course
    folder = group_class.root / "canvas-zero"
    result = export(course, folder / "scores.csv",
                    LmsFiles(canvas_gradebook=group_class.gradebook, zero_missing=True))
    exported, imported = read_rows(group_class.gradebook), read_rows(folder / CANVAS_IMPORT)
    assert canvas_import_changes(exported, imported) == {"201": _canvas_grade(course, JANE), "204": "0"}
    assert "1 no submission, but a grade in Canvas already (canvas-202)" in "\n".join(result.notes)


def test_names_a_spreadsheet_would_run_are_neutralized_only_in_scores_csv(group_class: GroupClass) -> None:
    course = group_class.course
    folder = group_class.root / "formulas"
    export(course, folder / "scores.csv", LmsFiles(canvas_gradebook=group_class.gradebook,
                                                   moodle_worksheet=group_class.old))
    scores = {row[0]: row for row in read_rows(folder / "scores.csv")[1:]}
    assert scores[JANE.student_id][1] == "'=HYPERLINK(\"http://evil.example\")"
    assert scores[GIL.student_id][1:3] == ["Delta", "'+Gil"]
    formula = ("=", "+", "-", "@", "\t", "\r")
    assert not any(cell.startswith(formula) for row in scores.values() for cell in row[:5])
    # the LMS files keep the LMS's own values: Canvas and Moodle read them back
    imported = {row[1]: row for row in read_rows(folder / CANVAS_IMPORT)[2:]}
    assert imported["201"][0] == JANE.sortable_name
    worksheet = {row[0]: row for row in read_rows(folder / MOODLE_WORKSHEET)[1:]}
    assert worksheet["Teilnehmer/in 601"][1] == GIL.full_name

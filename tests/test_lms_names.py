"""Every name of a download is read as the LMS wrote it, and whose submission it is comes from the part the
LMS controls (ids in fixed places, checked against the worksheet or gradebook export), never from text a
student can choose. A name that can be read two ways stops collect with one line.

The download names are built here by the LMS's own rules (the files and functions are named in each
builder's docstring), independently of grader's code.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from grader.classroom import release_notebook, solved_notebook
from grader.course import Course
from grader.errors import GraderError
from grader.lms.collect import collect
from grader.lms.groups import graded_for
from grader.lms.moodle import read_worksheet
from tests.test_lms_groups import Member, write_group_worksheet
from tests.test_lms_support import (
    CanvasStudent,
    canvas_prefix,
    moodle_group_folder,
    notebook_bytes,
    write_gradebook,
    write_zip,
)

# --- Moodle 4.1+: group folders through format_string (test_lms_support.moodle_group_folder) -----------

MULTILANG = ('<span lang="en" class="multilang">Team Owls</span>'
             '<span lang="de" class="multilang">Team Eulen</span>')
DORA = Member(77, "Dora Seventy", "Default group")  # her participant id is R&D's group id
ANN, BEN = Member(501, "Ann Arbor", "R&D"), Member(502, "Ben Bolt", "R&D")
CID, DEB = Member(503, "Cid Cole", "<b>Bold</b> > Rest"), Member(504, "Deb Dale", MULTILANG)
EVA = Member(505, "Eva Edge", MULTILANG)
ZED = Member(79, "Zed Zulu", "Default group")


def _first(course: Course) -> str:
    return course.notebook_names()[0]


def test_a_group_whose_id_is_a_participants_goes_to_its_members(course: Course, tmp_path: Path) -> None:
    """'R&D' becomes the folder 'Ramp;D_77' (format_string, then clean_filename); its id 77 is also Dora's
    participant id. The group's members get the submission, Dora (in no group) nothing."""
    first = _first(course)
    folder = moodle_group_folder("R&D", 77)
    assert folder == "Ramp;D_77_assignsubmission_file"
    download = write_zip(tmp_path / "groups.zip",
                         [(f"{folder}/{first}.ipynb", notebook_bytes(solved_notebook(course, first)))])
    worksheet = write_group_worksheet(tmp_path / "w.csv", [DORA, ANN, BEN])
    report = collect(course, download, worksheet=worksheet, timezone="UTC")
    assert sorted(report.collected) == ["moodle-group-77"]
    assert not course.folder("submitted", course.assignment(), DORA.student_id).exists()
    assert "moodle-group-77 (R&D): a group submission, graded once; export gives its grade and feedback to " \
           "each member: moodle-501 (Ann Arbor), moodle-502 (Ben Bolt)." in "\n".join(report.notes)
    assert report.without_submission == [DORA.student_id]


@pytest.mark.parametrize(("group", "filter_language", "expected_folder", "members"), [
    ("<b>Bold</b> > Rest", None, "Bold gt; Rest_80_assignsubmission_file", [CID]),
    (MULTILANG, "de", "Team Eulen_80_assignsubmission_file", [DEB, EVA]),
    (MULTILANG, "en", "Team Owls_80_assignsubmission_file", [DEB, EVA]),
    (MULTILANG, None, "Team OwlsTeam Eulen_80_assignsubmission_file", [DEB, EVA]),  # filters off
])
def test_group_names_with_markup_are_matched_as_format_string_writes_them(
        course: Course, tmp_path: Path, group: str, filter_language: str | None, expected_folder: str,
        members: list[Member]) -> None:
    """Tags are stripped and "<", ">" escaped (then cleaned to "lt;", "gt;"); a multilang name is one
    language with "Filter all strings" on, all of them run together with it off."""
    first = _first(course)
    folder = moodle_group_folder(group, 80, filter_language)
    assert folder == expected_folder
    download = write_zip(tmp_path / "groups.zip",
                         [(f"{folder}/{first}.ipynb", notebook_bytes(solved_notebook(course, first)))])
    others = [Member(506, "Fay Far", "Another group")]
    report = collect(course, download, worksheet=write_group_worksheet(tmp_path / "w.csv", members + others),
                     timezone="UTC")
    assert sorted(report.collected) == ["moodle-group-80"]
    names = ", ".join(f"{m.student_id} ({m.full_name})" for m in members)
    assert f"export gives its grade and feedback to each member: {names}." in "\n".join(report.notes)


def test_a_folder_named_neither_like_its_participant_nor_like_a_group_is_refused(course: Course,
                                                                                 tmp_path: Path) -> None:
    """The number 79 is Zed's participant id, but the folder's name is nobody's: it could be a group the
    worksheet names differently, or Zed's; collect names the folder and what to do, and writes nothing."""
    first = _first(course)
    download = write_zip(tmp_path / "groups.zip", [
        (f"{moodle_group_folder('Night Owls', 79)}/{first}.ipynb",
         notebook_bytes(solved_notebook(course, first)))])
    worksheet = write_group_worksheet(tmp_path / "w.csv", [ZED, ANN])
    with pytest.raises(GraderError) as error:
        collect(course, download, worksheet=worksheet, timezone="UTC")
    message = str(error.value)
    assert "\n" not in message and "groups.zip" in message
    assert "Night Owls_79_assignsubmission_file" in message
    assert "participant 79 (Zed Zulu)" in message and "Download grading worksheet" in message
    assert not course.step_root("submitted", course.assignment()).exists() or \
        not any(course.step_root("submitted", course.assignment()).iterdir())


# --- Canvas: sortable names a student chose -------------------------------------------------------------


def canvas_file(sortable_name: str, user_id: int, attachment_id: int, filename: str,
                late: bool = False) -> str:
    """A file name of Canvas's Download Submissions (test_lms_support.canvas_prefix, content_zipper.rb)."""
    return f"{canvas_prefix(sortable_name, user_id, late)}_{attachment_id}_{filename}"


BOB = CanvasStudent(202, "Brown, Bob", "bob@uni.example")
EVE = CanvasStudent(203, "Smith_202-_77-_, Eve", "eve@uni.example")  # her name reads like Bob's id


def test_a_sortable_name_with_numbers_is_read_against_the_gradebook(course: Course, tmp_path: Path) -> None:
    """Eve's late, blank notebook is named 'smith_202_77_eve_LATE_203_5003_...': read from the left, it is
    user 202's (Bob's). Read against the gradebook's sortable names it is hers, late, and Bob's own
    submission is his."""
    first = _first(course)
    eve_file = canvas_file(EVE.sortable_name, 203, 5003, f"{first}.ipynb", late=True)
    assert eve_file.startswith("smith_202_77_eve_LATE_203_5003_")
    blank = notebook_bytes(release_notebook(course, first))
    solved = notebook_bytes(solved_notebook(course, first))
    download = write_zip(tmp_path / "submissions.zip", [
        (eve_file, blank), (canvas_file(BOB.sortable_name, 202, 5002, f"{first}.ipynb"), solved)])
    gradebook = write_gradebook(tmp_path / "grades.csv", [BOB, EVE], [("Lecture 1", 9, "34")])
    report = collect(course, download, canvas_gradebook=gradebook, timezone="UTC")
    assert sorted(report.collected) == [BOB.student_id, EVE.student_id]
    assignment = course.assignment()
    assert (course.folder("submitted", assignment, EVE.student_id) / f"{first}.ipynb").read_bytes() == blank
    assert (course.folder("submitted", assignment, BOB.student_id) / f"{first}.ipynb").read_bytes() == solved
    notes = "\n".join(report.notes)
    assert f"{EVE.student_id} (Eve Smith_202-_77-_): Canvas marks this submission late." in notes
    assert f"{BOB.student_id} (Bob Brown): Canvas marks" not in notes


def test_a_name_that_reads_as_two_students_is_refused(course: Course, tmp_path: Path) -> None:
    """Eve has renamed herself since the download, so her file's name fits neither student's sortable name
    and reads as Bob's (202) or hers (203): collect stops with one line and writes nothing."""
    first = _first(course)
    download = write_zip(tmp_path / "submissions.zip", [
        (canvas_file(EVE.sortable_name, 203, 5003, f"{first}.ipynb"),
         notebook_bytes(release_notebook(course, first)))])
    renamed = CanvasStudent(203, "Smith, Eve", "eve@uni.example")
    gradebook = write_gradebook(tmp_path / "grades.csv", [BOB, renamed], [("Lecture 1", 9, "34")])
    with pytest.raises(GraderError) as error:
        collect(course, download, canvas_gradebook=gradebook, timezone="UTC")
    message = str(error.value)
    assert "\n" not in message and "submissions.zip" in message
    assert "Canvas user 202 and 203" in message and "Sortable Name" in message
    assert not course.folder("submitted", course.assignment(), BOB.student_id).exists()


def test_without_the_gradebook_a_name_of_two_readings_is_refused(course: Course, tmp_path: Path) -> None:
    """Without the export, Canvas's own rule (the first two all-digit fields) would make Eve's file Bob's;
    collect asks for the gradebook export instead. An honest name whose file name starts with digits
    ("01_...") is the same ids shifted by one field and is read as Canvas reads it."""
    first = _first(course)
    honest = canvas_file(BOB.sortable_name, 202, 5002, f"{first}.ipynb")
    assert re.match(r"brownbob_202_5002_\d+_", honest)
    report = collect(course, write_zip(tmp_path / "honest.zip", [
        (honest, notebook_bytes(solved_notebook(course, first)))]), timezone="UTC")
    assert sorted(report.collected) == [BOB.student_id]
    download = write_zip(tmp_path / "submissions.zip", [
        (canvas_file(EVE.sortable_name, 203, 5003, f"{first}.ipynb"),
         notebook_bytes(release_notebook(course, first)))])
    with pytest.raises(GraderError) as error:
        collect(course, download, timezone="UTC")
    message = str(error.value)
    assert "\n" not in message and "Canvas user 202 and 203" in message and "--canvas-gradebook" in message
    assert not course.folder("submitted", course.assignment(), EVE.student_id).exists()


def test_groups_whose_plain_names_are_alike_are_told_apart_by_format_string(course: Course,
                                                                            tmp_path: Path) -> None:
    """'A&B' and 'AB' share the plain name key, but Moodle 4.1+ writes 'Aamp;B_81' and 'AB_82'."""
    first = _first(course)
    solved = notebook_bytes(solved_notebook(course, first))
    download = write_zip(tmp_path / "groups.zip", [
        (f"{moodle_group_folder('A&B', 81)}/{first}.ipynb", solved),
        (f"{moodle_group_folder('AB', 82)}/{first}.ipynb", solved)])
    worksheet = write_group_worksheet(tmp_path / "w.csv", [Member(601, "Gil Green", "A&B"),
                                                           Member(602, "Hal Hill", "AB")])
    report = collect(course, download, worksheet=worksheet, timezone="UTC")
    assert sorted(report.collected) == ["moodle-group-81", "moodle-group-82"]
    notes = "\n".join(report.notes)
    assert "moodle-group-81 (A&B): a group submission, graded once; export gives its grade and feedback to " \
           "each member: moodle-601 (Gil Green)." in notes
    assert "each member: moodle-602 (Hal Hill)." in notes
    # and export gives each member their own group's grade
    found, problems = graded_for(course, read_worksheet(worksheet), {"moodle-group-81", "moodle-group-82"})
    assert [found["601"].student, found["602"].student] == ["moodle-group-81", "moodle-group-82"]
    assert problems == []

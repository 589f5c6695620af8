"""The feedback zip for Moodle's "Upload multiple feedback files in a zip".

One folder per participant, named like the submissions download
(``<Full Name>_<participant id>_assignsubmission_file_``), holding that student's feedback HTML files
(one per graded notebook). Moodle's importer (``mod/assign/feedback/file/importziplib.php``,
``is_valid_filename_for_import``) finds the participant by the number in the second "_"-separated field of
the first path part that has one, among the assignment's participants, and attaches the files; the name
part is only for people. It does not check whether a grade is locked, and it marks each grade as modified.

With the worksheet given, only its participants get folders, each named by their own participant id: a
member of a graded group gets the group's pages, a row with "Grade can be changed: No" gets none (so no
student reads points that never reach the gradebook), and neither does a row that stands for another attempt
than the one graded (Status "Reopened", or a later submission; :func:`grader.lms.worksheet.other_attempt`).
Without it, every graded Moodle student gets a
folder; group submissions need the worksheet to know their members.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

from grader.course import Course
from grader.errors import GraderError
from grader.lms.groups import graded_for
from grader.lms.moodle import Worksheet, feedback_folder
from grader.lms.roster import MOODLE, known_students, parse_student_id
from grader.lms.student_grades import StudentResult
from grader.lms.worksheet import is_locked, other_attempt


def feedback_zip(course: Course, assignment: str, results: dict[str, StudentResult],
                 worksheet: Worksheet | None = None) -> tuple[bytes, list[str]]:
    """The feedback zip of every graded Moodle student (its bytes), and notes for the instructor."""
    folders, notes = (_from_worksheet(course, assignment, results, worksheet) if worksheet is not None
                      else _from_gradebook(course, assignment, results))
    buffer = io.BytesIO()
    added = 0
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for folder, sid in folders:
            files = _feedback_files(course, assignment, sid)
            for path in files:
                archive.writestr(f"{folder}/{path.name}", path.read_bytes())
                added += 1
    if not added:
        raise GraderError(f"{course.step_root('feedback', assignment)}: no feedback files of "
                          "Moodle students; collect a Moodle download, run `grader autograde` and "
                          "`grader feedback`, then export again.")
    return buffer.getvalue(), notes


def _feedback_files(course: Course, assignment: str, student: str) -> list[Path]:
    return sorted(course.folder("feedback", assignment, student).glob("*.html"))


def _from_worksheet(course: Course, assignment: str, results: dict[str, StudentResult],
                    sheet: Worksheet) -> tuple[list[tuple[str, str]], list[str]]:
    """(folder, nbgrader id whose pages go in it) for each participant of the worksheet, and notes."""
    graded, notes = graded_for(course, sheet, set(results))
    folders, missing, used = [], [], set()
    for row, person in zip(sheet.table.rows, sheet.participants, strict=True):
        found = graded.get(person.lms_id)
        if found is None or is_locked(sheet, row) \
                or other_attempt(course, assignment, sheet, row, found.student) is not None:
            continue
        used.add(found.student)
        if not _feedback_files(course, assignment, found.student):
            missing.append(found.student)
            continue
        folders.append((feedback_folder(person.full_name, person.lms_id), found.student))
    notes += [f"{sid}: graded but has no feedback files; run `grader feedback`, then export again."
              for sid in dict.fromkeys(missing)]
    left_out = sorted(sid for sid in results if sid not in used and parse_student_id(sid) is not None
                      and parse_student_id(sid)[0] == MOODLE  # type: ignore[index]
                      and all(person.student_id != sid for person in sheet.participants))
    if left_out:
        notes.append(f"{', '.join(left_out)}: not participants of the worksheet; no feedback folder for them "
                     "(Moodle would give it to whoever has that number).")
    return folders, notes


def _from_gradebook(course: Course, assignment: str,
                    results: dict[str, StudentResult]) -> tuple[list[tuple[str, str]], list[str]]:
    """(folder, nbgrader id) for each graded Moodle participant registered in the gradebook, and notes."""
    names = {p.student_id: p.full_name for p in known_students(course).values()}
    folders, notes, others, groups = [], [], 0, []
    for sid in sorted(results):
        parsed = parse_student_id(sid)
        if parsed is None or parsed[0] != MOODLE:
            groups += [sid] if sid.startswith(f"{MOODLE}-group-") else []
            others += not sid.startswith(f"{MOODLE}-group-")
            continue
        if not _feedback_files(course, assignment, sid):
            notes.append(f"{sid}: graded but has no feedback files; run `grader feedback`, then export "
                         "again.")
            continue
        folders.append((feedback_folder(names.get(sid, ""), parsed[1]), sid))
    if groups:
        notes.append(f"{', '.join(groups)}: group submissions; pass the grading worksheet with "
                     "--moodle-worksheet so that each member gets a feedback folder.")
    if others:
        notes.append(f"{others} graded students are not Moodle participants and are not in the feedback zip.")
    return folders, notes

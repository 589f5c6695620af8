"""The feedback zip for Moodle's "Upload multiple feedback files in a zip".

One folder per participant, named like the submissions download
(``<Full Name>_<participant id>_assignsubmission_file_``), holding that student's feedback HTML files
(one per graded notebook). Moodle's importer finds the participant by the id in the folder name and
attaches the files as feedback files; the name part is only for people.
"""

from __future__ import annotations

import io
import zipfile

from grader.course import Course
from grader.errors import GraderError
from grader.lms.grades import StudentResult
from grader.lms.moodle import Worksheet, feedback_folder
from grader.lms.roster import MOODLE, known_students, parse_student_id


def feedback_zip(course: Course, results: dict[str, StudentResult],
                 worksheet: Worksheet | None = None) -> tuple[bytes, list[str]]:
    """The feedback zip of every graded Moodle student (its bytes), and notes for the instructor."""
    names = {p.student_id: p.full_name for p in known_students(course).values()}
    if worksheet is not None:
        names.update({p.student_id: p.full_name for p in worksheet.participants if p.full_name})
    notes: list[str] = []
    buffer = io.BytesIO()
    added = 0
    others = 0
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for sid in sorted(results):
            parsed = parse_student_id(sid)
            if parsed is None or parsed[0] != MOODLE:
                others += 1
                continue
            files = sorted(course.step_dir("feedback", sid).glob("*.html"))
            if not files:
                notes.append(f"{sid}: graded but has no feedback files; run `grader feedback`, then export "
                             "again.")
                continue
            folder = feedback_folder(names.get(sid, ""), parsed[1])
            for path in files:
                archive.writestr(f"{folder}/{path.name}", path.read_bytes())
                added += 1
    if not added:
        raise GraderError(f"{course.step_dir('feedback', '*').parent.parent}: no feedback files of "
                          "Moodle students; collect a Moodle download, run `grader autograde` and "
                          "`grader feedback`, then export again.")
    if others:
        notes.append(f"{others} graded students are not Moodle participants and are not in the feedback zip.")
    return buffer.getvalue(), notes

"""The feedback zip for Canvas's "Re-Upload Submissions", and the Canvas file ids it needs from collect.

Canvas attaches the files of such a zip as comments (``app/models/assignment.rb``,
``generate_comments_from_files`` and ``infer_comment_context_from_filename``): it splits each file's base
name at "_", takes the first two all-digit fields as the user id and the attachment id
(``split_filename.grep(/^\\d+$/).take(2)``), drops the attachment when the last field starts with "link",
skips names starting "._", and ignores the file unless the user has a submission of the assignment and the
attachment is one of that submission's files (``submission.attachments.where(id: attachment_id)``). Each
student's files become one comment, "See attached files", and each attached file is shown under the
display name of the submission's file it names.

So every feedback page is named ``<name>_<user id>_<attachment id>_<notebook>_feedback.html``: the name
part is the student's download name without digits (a sortable name with numbers in it could otherwise
put another number first), the attachment id is that of the notebook file the page grades (as collect
read it from the download), and the last field is never "link...".

Collect records the attachment ids in ``canvas-submission-files.json`` beside the exports of the assignment
(autograded/, never in git): nbgrader id -> user id, download name, notebook -> attachment id.
"""

from __future__ import annotations

import io
import json
import re
import zipfile
from collections.abc import Iterable
from pathlib import Path

from grader.course import Course
from grader.errors import GraderError
from grader.files import write_atomically
from grader.lms.roster import CANVAS, parse_student_id
from grader.lms.student_grades import StudentResult

CANVAS_FEEDBACK_ZIP = "canvas-feedback-files.zip"
RECORD = "canvas-submission-files.json"


def record_path(course: Course, assignment: str) -> Path:
    """Where collect keeps the Canvas file ids of the collected notebooks."""
    return course.exports(assignment) / RECORD


def read_record(course: Course, assignment: str) -> dict[str, dict]:
    """The recorded Canvas files: nbgrader id -> {"user_id", "name", "files": {notebook: attachment id}}."""
    path = record_path(course, assignment)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError):
        raise GraderError(f"{path}: cannot be read; delete it and collect the Canvas download again "
                          "(with --force).") from None
    return data if isinstance(data, dict) else {}


def write_record(course: Course, assignment: str,
                 entries: Iterable[tuple[str, str, str, dict[str, str]]]) -> None:
    """Add or replace the entries (nbgrader id, user id, download name, notebook -> attachment id)."""
    record = read_record(course, assignment)
    changed = False
    for student, user_id, name, files in entries:
        record[student] = {"user_id": user_id, "name": name, "files": dict(sorted(files.items()))}
        changed = True
    if changed:
        path = record_path(course, assignment)
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(path, (json.dumps(record, indent=1, sort_keys=True) + "\n").encode("utf-8"))


def page_name(name: str, user_id: str, attachment_id: str, notebook: str) -> str:
    """The zip member name Canvas reads back as this user's comment on that attachment."""
    safe = re.sub(r"[^a-z]+", "", name.lower()) or "student"
    return f"{safe}_{user_id}_{attachment_id}_{notebook}_feedback.html"


def canvas_feedback_zip(course: Course, assignment: str, results: dict[str, StudentResult],
                        students: set[str] | None = None) -> tuple[bytes, list[str]]:
    """The zip for Canvas's Re-Upload Submissions (its bytes), and notes for the instructor.

    `students`, when given, limits the zip to these nbgrader ids (the students of the gradebook export).
    """
    record = read_record(course, assignment)
    buffer = io.BytesIO()
    added, unrecorded, missing = 0, [], []
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for sid in sorted(results):
            parsed = parse_student_id(sid)
            if parsed is None or parsed[0] != CANVAS or (students is not None and sid not in students):
                continue
            pages = sorted(course.folder("feedback", assignment, sid).glob("*.html"))
            entry = record.get(sid)
            if not pages:
                missing.append(sid)
            elif not entry or not entry.get("files"):
                unrecorded.append(sid)
            else:
                files: dict[str, str] = entry["files"]
                for page in pages:
                    attachment = files.get(page.stem) or next(iter(files.values()))
                    archive.writestr(page_name(entry.get("name", ""), parsed[1], attachment, page.stem),
                                     page.read_bytes())
                    added += 1
    notes = [f"{sid}: graded but has no feedback files; run `grader feedback`, then export again."
             for sid in missing]
    if unrecorded:
        notes.append(f"{', '.join(unrecorded)}: collected before grader recorded Canvas's file ids, so not "
                     f"in {CANVAS_FEEDBACK_ZIP}; collect the same Canvas download again (what was collected "
                     "stays as it is), then export again.")
    if not added:
        raise GraderError(f"{course.step_root('feedback', assignment)}: no feedback files of Canvas "
                          "students with a collected submission; collect a Canvas download, run `grader "
                          "autograde` and `grader feedback`, then export again.")
    return buffer.getvalue(), notes

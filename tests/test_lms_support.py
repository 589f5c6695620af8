"""Builders of LMS files in the real formats, for the LMS tests (this module holds no tests).

- Moodle "Download all submissions": a folder per participant,
  ``Full Name_<participant id>_assignsubmission_file`` (4.1+) or with a trailing "_" (earlier), or flat
  files ``Full Name_<id>_assignsubmission_file_<file>``;
- Moodle "Download grading worksheet": Identifier ("Participant 12345"), Full name, Email address, Status,
  Grade, Maximum Grade, Grade can be changed, Last modified (submission), Last modified (grade),
  Feedback comments;
- Moodle participants export: First name, Last name, Email address;
- Canvas "Download Submissions": flat files ``<sortable name>[_LATE]_<user id>_<attachment id>_<file>``;
- Canvas gradebook export: Student, ID, SIS User ID, SIS Login ID, Section, "Title (id)" columns, totals,
  and a "Points Possible" line.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import nbformat
from nbformat import NotebookNode

from grader.course import Course
from grader.notebooks import read_notebook, solutions

DOWNLOAD_DATE = (2024, 1, 16, 9, 0, 0)
WORKSHEET_HEADER = ["Identifier", "Full name", "Email address", "Status", "Grade", "Maximum Grade",
                    "Grade can be changed", "Last modified (submission)", "Last modified (grade)",
                    "Feedback comments"]
CANVAS_TOTALS = ["Current Points", "Final Points", "Current Score", "Unposted Current Score", "Final Score",
                 "Unposted Final Score"]


def notebook_bytes(notebook: NotebookNode) -> bytes:
    """A notebook as the bytes a student uploads."""
    return nbformat.writes(notebook).encode("utf-8")


def zip_bytes(entries: Iterable[tuple[str, bytes]], date: tuple[int, ...] = DOWNLOAD_DATE) -> bytes:
    """A zip file's bytes with these (name, content) entries, all dated `date`."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries:
            info = zipfile.ZipInfo(name, date_time=date)
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, data)
    return buffer.getvalue()


def write_zip(path: Path, entries: Iterable[tuple[str, bytes]],
              date: tuple[int, ...] = DOWNLOAD_DATE) -> Path:
    path.write_bytes(zip_bytes(entries, date))
    return path


def moodle_folder(full_name: str, participant_id: int | str, modern: bool = False) -> str:
    """The folder Moodle's download gives a participant: mod/assign/classes/downloader.php,
    get_student_prefix ("_" in the name as space, then clean_filename, which is lib/moodlelib.php
    clean_param PARAM_FILE: control characters and & < > " ` | ' : \\ / removed)."""
    name = re.sub(r"""[\x00-\x1f\x7f&<>"`|':\\/]""", "", full_name.replace("_", " "))
    return f"{name}_{participant_id}_assignsubmission_file" + ("" if modern else "_")


@dataclass
class MoodleStudent:
    """A row of the worksheet."""

    participant_id: int
    full_name: str
    email: str
    submitted: str = "-"
    status: str = "Submitted for grading"

    @property
    def student_id(self) -> str:
        return f"moodle-{self.participant_id}"


def write_worksheet(path: Path, students: Iterable[MoodleStudent], *, header: list[str] | None = None,
                    max_grade: str = "100.00", bom: bool = False, newline: str = "\n") -> Path:
    """A Moodle grading worksheet as Moodle writes it: mod/assign/gradingtable.php, assign_grading_table
    while downloading (col_recordid "Participant <id>", then full name, identity fields, status, grade,
    maximum grade, grade can be changed, last modified, feedback columns); columns dropped from `header`
    are left out."""
    header = header or WORKSHEET_HEADER
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator=newline)
    writer.writerow(header)
    for student in students:
        values = {"Identifier": f"Participant {student.participant_id}", "Full name": student.full_name,
                  "Email address": student.email, "Status": student.status, "Grade": "",
                  "Maximum Grade": max_grade, "Grade can be changed": "Yes",
                  "Last modified (submission)": student.submitted, "Last modified (grade)": "-",
                  "Feedback comments": ""}
        writer.writerow([values.get(column, "") for column in header])
    path.write_bytes((codecs.BOM_UTF8 if bom else b"") + buffer.getvalue().encode("utf-8"))
    return path


def write_participants(path: Path, people: Iterable[tuple[str, str, str]]) -> Path:
    """A Moodle participants export (user/classes/table/participants.php downloaded as CSV: First name,
    Last name, Email address)."""
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["First name", "Last name", "Email address"])
    writer.writerows(people)
    path.write_text(buffer.getvalue(), encoding="utf-8")
    return path


@dataclass
class CanvasStudent:
    """A row of the Canvas gradebook export."""

    user_id: int
    sortable_name: str
    login: str
    section: str = "Deep Learning 2024"

    @property
    def student_id(self) -> str:
        return f"canvas-{self.user_id}"

    def file_prefix(self, late: bool = False) -> str:
        """The prefix of this student's files in Canvas's download: lib/content_zipper.rb, get_filename
        (sortable name through sanitize_user_name, lower case, then sanitize_file_name drops every non-word
        character; "_LATE" for a late submission; then the user id)."""
        name = re.sub(r"[^\w]", "", self.sortable_name.lower())
        return f"{name}{'_LATE' if late else ''}_{self.user_id}"


def write_gradebook(path: Path, students: Iterable[CanvasStudent], assignments: list[tuple[str, int, str]], *,
                    delimiter: str = ",", bom: bool = False) -> Path:
    """A Canvas gradebook export (lib/gradebook_exporter.rb: Student, ID, SIS User ID, SIS Login ID,
    Section, one "Title (id)" column per assignment, the read-only totals, and the "Points Possible" line)
    with these (title, id, points possible) assignment columns."""
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator="\n")
    writer.writerow(["Student", "ID", "SIS User ID", "SIS Login ID", "Section",
                     *(f"{title} ({number})" for title, number, _ in assignments), *CANVAS_TOTALS])
    writer.writerow(["    Points Possible", "", "", "", "", *(points for _, _, points in assignments),
                     *["(read only)"] * len(CANVAS_TOTALS)])
    for student in students:
        writer.writerow([student.sortable_name, student.user_id, f"S{student.user_id}", student.login,
                         student.section, *[""] * len(assignments), *["0.00"] * len(CANVAS_TOTALS)])
    path.write_bytes((codecs.BOM_UTF8 if bom else b"") + buffer.getvalue().encode("utf-8"))
    return path


def broken_solution(course: Course, notebook: str) -> dict[str, str]:
    """Code that empties the notebook's first solution cell (a student who left one exercise out)."""
    first = next(iter(solutions(read_notebook(course.source / f"{notebook}.ipynb"))))
    return {first: "pass"}


def read_rows(path: Path, delimiter: str = ",") -> list[list[str]]:
    """A CSV file's rows (a byte order mark is dropped)."""
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.reader(handle, delimiter=delimiter))

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
import shutil
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


def class_course(template: Course, root: Path) -> Course:
    """A fresh copy of the released course in `root`/course, for one test module's class."""
    course = Course(root / "course")
    shutil.copytree(template.root, course.root)
    return course


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


def clean_filename(name: str) -> str:
    """lib/moodlelib.php, clean_param with PARAM_FILE:
    preg_replace('~[[:cntrl:]]|[&<>"`\\|\\':\\\\/]~u', '', $param)."""
    return re.sub(r"""[\x00-\x1f\x7f&<>"`|':\\/]""", "", name)


def _strip_tags(text: str) -> str:
    """PHP's strip_tags as far as group names need it: a "<" that starts a tag (a letter, "/", "!" or "?"
    after it) and everything to the next ">" is removed; "<" before a space stays."""
    return re.sub(r"<[A-Za-z/!?][^>]*>", "", text)


def _multilang(text: str, language: str) -> str:
    """filter/multilang: of the spans <span lang="xx" class="multilang">...</span>, the current language's."""
    return re.sub(r'<span lang="([\w-]+)" class="multilang">(.*?)</span>',
                  lambda match: match.group(2) if match.group(1) == language else "", text)


def format_string(name: str, filter_language: str | None = None) -> str:
    """lib/classes/formatting.php, format_string with the default settings (formatstringstriptags on):

        $string = replace_ampersands_not_followed_by_entity($string);    // & -> &amp; unless an entity
        if (!empty($this->get_filterall()) && $filter) {
            $string = $filtermanager->filter_string($string, $context);   // e.g. multilang
        }
        if ($this->get_striptags()) {
            $string = str_replace(['<', '>'], ['&lt;', '&gt;'], strip_tags($string));

    (lib/weblib.php, replace_ampersands_not_followed_by_entity: preg_replace("/\\&(?![a-zA-Z0-9#]{1,8};)/",
    "&amp;", $string)); `filter_language` stands for "Filter all strings" on with the multilang filter."""
    text = re.sub(r"&(?![a-zA-Z0-9#]{1,8};)", "&amp;", name)
    if filter_language:
        text = _multilang(text, filter_language)
    return _strip_tags(text).replace("<", "&lt;").replace(">", "&gt;")


def moodle_group_folder(group_name: str, group_id: int | None, filter_language: str | None = None) -> str:
    """The folder Moodle 4.1+ gives a group submission: mod/assign/classes/downloader.php,
    get_student_prefix, for a team submission:

        $groupname = format_string($submissiongroup->name, true, ['context' => $manager->get_context()]);
        $groupinfo = '_' . $submissiongroup->id;
        } else {
            $groupname = get_string('defaultteam', 'mod_assign');
            $groupinfo = '';
        ...
        $prefix = str_replace('_', ' ', $groupname);
        return clean_filename($prefix . $groupinfo);

    then load_submissionplugin_filelist adds '_assignsubmission_file' (and the file's path, starting "/").
    `group_id` None is the default group."""
    name = format_string(group_name, filter_language) if group_id is not None else group_name
    suffix = f"_{group_id}" if group_id is not None else ""
    return f"{clean_filename(name.replace('_', ' ') + suffix)}_assignsubmission_file"


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
        """The prefix of this student's files in Canvas's download (see :func:`canvas_prefix`)."""
        return canvas_prefix(self.sortable_name, self.user_id, late)


def canvas_prefix(sortable_name: str, user_id: int, late: bool = False) -> str:
    r"""The prefix of a student's files in Canvas's Download Submissions: lib/content_zipper.rb,

        user_name.gsub!(/_(\d+)_/, '\1'); user_name.downcase        (get_user_name, sanitize_user_name)
        filename = [users_name, submission.late? ? "LATE" : nil, id].compact.join("_")
        filename.gsub(/[^[[:word:]]]/, "")                            (get_filename, sanitize_file_name)

    then add_upload_submission:
    "#{filename}_#{file.id}_#{sanitize_attachment_filename(file.display_name)}"."""
    name = re.sub(r"_(\d+)_", r"\1", sortable_name).lower()
    return re.sub(r"[^\w]", "", "_".join([name, *(["LATE"] if late else []), str(user_id)]))


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

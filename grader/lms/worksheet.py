"""Fill Moodle's offline grading worksheet with each student's grade and a short feedback comment.

The instructor's file is only read; the filled copy keeps every column, their order, the encoding, the
separator, the byte order mark, the line endings and every cell Moodle reads back (Identifier, names,
Last modified (grade)), and changes only the cells Grade and Feedback comments of students who have
grades. Moodle's import (``mod/assign/feedback/offline/locallib.php``, ``process_import_grades``) reads the
file in the Encoding and with the Separator chosen in its upload form: the notes say which to choose.

The grader never changes a cell it has no news of:

- Feedback comments: Moodle replaces the comment whenever the cell differs (``if ($newvalue != $oldvalue)
  ... set_editor_text``), so a teacher's comment in the cell is kept and the grader's summary put after it;
  only an earlier summary of the grader's own (a line starting "<assignment>: ... points" or "No submission
  for <assignment>.") is replaced.
- Grade: written only where the grader graded the attempt the row stands for. A row whose Status says
  "Reopened", or whose "Last modified (submission)" is later than the collected submission, is another
  attempt (the grading table shows the latest): it is left as it is and reported.
- Numbers are written with a decimal point whatever the worksheet shows: Moodle reads the grade with
  ``unformat_float``, which replaces the decimal separator of the importing user's language by "." and
  casts, so "6.11" is 6.11 in every language and "6,11" is 6 in an English Moodle.

In a group assignment every member of a graded group gets the group's grade, with a comment naming the
group (:mod:`grader.lms.groups`). Rows with "Grade can be changed: No" are left as they are: Moodle would
skip their grade anyway.

Students without a submission keep an empty Grade (Moodle then leaves them ungraded), unless
`zero_missing` asks for 0 with the comment "No submission": only where the Grade cell is empty and the
Status shows no extension and no reopened attempt.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from pathlib import Path

from grader.course import Course
from grader.lms.csvfile import MOODLE_ENCODINGS, table_bytes
from grader.lms.groups import graded_for, registered_groups
from grader.lms.moodle import EXTENSION, NO_ANSWERS, REOPENED, Worksheet, parse_date, read_worksheet
from grader.lms.roster import MOODLE, student_id
from grader.lms.student_grades import StudentResult, number, parse_number, scaled, unlisted

#: Moodle skips a row whose grade is newer than the worksheet by more than this (process_import_grades:
#: ``$usergrade->timemodified > ($modified + 60)``); the same slack is given to submission times.
SLACK = timedelta(seconds=60)
_TAGS = re.compile(r"<[^>]*>")
_LOOKS_LIKE_HTML = re.compile(r"<(p|br|div|span)\b", re.IGNORECASE)


def is_locked(sheet: Worksheet, row: list[str]) -> bool:
    """Whether the row says "Grade can be changed: No" (locked or overridden in the gradebook)."""
    return sheet.table.cell(row, sheet.columns["can_change"]).strip().casefold() in NO_ANSWERS


def _status_says(sheet: Worksheet, row: list[str], phrases: tuple[str, ...]) -> bool:
    status = sheet.table.cell(row, sheet.columns["status"]).casefold()
    return any(phrase.casefold() in status for phrase in phrases)


def other_attempt(course: Course, assignment: str, sheet: Worksheet, row: list[str],
                  graded: str) -> str | None:
    """Why the row stands for an attempt other than the one graded (None if it is that one).

    `graded` is the nbgrader id whose collected submission was graded (a student's, or their group's).
    """
    if _status_says(sheet, row, REOPENED):
        status = sheet.table.cell(row, sheet.columns["status"]).strip()
        return f"Moodle's Status is {status!r}: a new attempt"
    submitted = parse_date(sheet.table.cell(row, sheet.columns["submitted"]))
    collected = _collected_at(course, assignment, graded)
    if submitted is not None and collected is not None and submitted > collected + SLACK:
        return (f"Moodle has a submission of {submitted:%Y-%m-%d %H:%M}, later than the one collected "
                f"({collected:%Y-%m-%d %H:%M})")
    return None


def _collected_at(course: Course, assignment: str, student: str) -> datetime | None:
    """The submission time collect wrote for a student, as wall-clock time (as the worksheet shows it)."""
    path = course.folder("submitted", assignment, student) / "timestamp.txt"
    try:
        return datetime.fromisoformat(path.read_text(encoding="utf-8").strip()).replace(tzinfo=None)
    except (OSError, ValueError):
        return None


def merged_comment(current: str, summary: str, assignment: str) -> str:
    """The comment cell with the grader's summary: the teacher's words kept, an earlier summary replaced.

    A line is an earlier summary of the grader's if, without HTML tags, it starts like one
    ("[Group submission of <group>. ]<assignment>: <n> of <m> points" or "No submission for <assignment>.").
    """
    own = re.compile(rf"^(Group submission of .*?\. )?({re.escape(assignment)}: [\d.,]+ of [\d.,]+ points|"
                     rf"No submission for {re.escape(assignment)}\.)")
    kept = [line for line in current.split("\n") if not own.match(_TAGS.sub("", line).strip())]
    teacher = "\n".join(kept).strip()
    if not teacher:
        return summary
    if _LOOKS_LIKE_HTML.search(teacher):
        return f"{teacher}\n<p>{summary}</p>"
    return f"{teacher}\n\n{summary}"


def fill_worksheet(course: Course, assignment: str, worksheet: Path, results: dict[str, StudentResult],
                   zero_missing: bool = False) -> tuple[bytes, list[str]]:
    """The filled worksheet's bytes, and notes for the instructor."""
    sheet = read_worksheet(worksheet, require_grade=True)
    columns = sheet.columns
    graded, notes = graded_for(course, sheet, set(results) | set(registered_groups(course)))
    if columns["comments"] is None:
        notes.append(f"{worksheet}: no 'Feedback comments' column, so only grades were filled in; enable "
                     "Feedback comments in the assignment's Feedback types to get the summaries too.")
    rows, in_sheet, scaled_rows, locked, kept_comments = [], set(), 0, [], 0
    for row in sheet.table.rows:
        row = row + [""] * (len(sheet.table.header) - len(row))
        pid = sheet.participant_id(row)
        sid = student_id(MOODLE, pid)
        in_sheet.add(sid)
        found = graded.get(pid)
        if found is not None:
            in_sheet.add(found.student)
        result = results.get(found.student) if found is not None else None
        other = other_attempt(course, assignment, sheet, row, found.student) \
            if result is not None and found is not None else None
        if result is not None and is_locked(sheet, row):
            locked.append(sid)
        elif other is not None:
            notes.append(f"{sid}: {other}; the grade of the collected one is not written into this row. "
                         "Download the submissions and the worksheet again, collect, grade and export again.")
        elif result is not None:
            maximum = parse_number(sheet.table.cell(row, columns["max_grade"])) or None
            grade = scaled(result.score, result.max_score, maximum)
            scaled_rows += grade != round(result.score, 2)
            row[columns["grade"]] = number(grade)  # type: ignore[index]
            comment = result.comment(maximum)
            if found is not None and found.group is not None:
                comment = f"Group submission of {found.group}. {comment}"
            kept_comments += _set_comment(row, columns["comments"], comment, assignment)
        else:
            who = found.student if found is not None else sid
            _no_result(course, assignment, sheet, row, who, zero_missing, notes)
        rows.append(row)
    if locked:
        notes.append(f"{', '.join(locked)}: Moodle says these grades cannot be changed ('Grade can be "
                     "changed: No': locked or overridden in the gradebook); their rows are left as they are "
                     "and their feedback files are not in the feedback zip.")
    if scaled_rows:
        notes.append(f"{scaled_rows} grade{'s were' if scaled_rows != 1 else ' was'} scaled from points to "
                     "the worksheet's Maximum Grade.")
    if kept_comments:
        notes.append(f"{kept_comments} Feedback comment{'s' if kept_comments != 1 else ''} already in the "
                     "worksheet kept; the grader's summary is added after each.")
    notes += unlisted(results, in_sheet, MOODLE, "the grading worksheet")
    table = sheet.table
    if (table.encoding, table.delimiter) != ("utf-8", ","):
        read_as = MOODLE_ENCODINGS.get(table.encoding, table.encoding.upper())
        notes.append(f"{worksheet}: the worksheet is {read_as} with {table.separator_name} "
                     f"between fields; the filled worksheet is {table.moodle_encoding} with "
                     f"{table.separator_name}, so choose Encoding "
                     f"{table.moodle_encoding} and Separator {table.separator_name} in Moodle's 'Upload "
                     "grading worksheet' form.")
    return table_bytes(table, table.header, rows), notes


def _set_comment(row: list[str], index: int | None, summary: str, assignment: str) -> bool:
    """Put the summary into the comment cell; whether a teacher's comment was there and kept."""
    if index is None:
        return False
    merged = merged_comment(row[index], summary, assignment)
    kept = merged != summary
    row[index] = merged
    return kept


def _no_result(course: Course, assignment: str, sheet: Worksheet, row: list[str], sid: str,
               zero_missing: bool, notes: list[str]) -> None:
    if course.folder("submitted", assignment, sid).exists():
        notes.append(f"{sid}: collected but not graded yet; run `grader autograde`, then export again.")
        return
    if not zero_missing or is_locked(sheet, row):
        return
    if sheet.table.cell(row, sheet.columns["grade"]).strip():
        notes.append(f"{sid}: no submission, but a grade in Moodle already; --zero-missing leaves it.")
    elif _status_says(sheet, row, EXTENSION + REOPENED):
        status = sheet.table.cell(row, sheet.columns["status"]).strip()
        notes.append(f"{sid}: no submission yet, and Moodle's Status is {status!r}; --zero-missing leaves "
                     "the grade empty.")
    else:
        row[sheet.columns["grade"]] = "0"  # type: ignore[index]
        if sheet.columns["comments"] is not None:
            _set_comment(row, sheet.columns["comments"], f"No submission for {assignment}.", assignment)

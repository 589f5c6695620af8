"""Fill Moodle's offline grading worksheet with each student's grade and a short feedback comment.

The instructor's file is only read; the filled copy keeps every column, their order, the encoding, the
separator, the byte order mark, the line endings and every cell Moodle reads back (Identifier, names,
Last modified (grade)), and changes only the cells Grade and Feedback comments of students who have
grades. Moodle's import (``mod/assign/feedback/offline/locallib.php``, ``process_import_grades``) reads the
file in the Encoding and with the Separator chosen in its upload form: the notes say which to choose.

In a group assignment every member of a graded group gets the group's grade, with a comment naming the
group (:mod:`grader.lms.groups`). Rows with "Grade can be changed: No" are left as they are: Moodle would
skip their grade anyway.

Students without a submission keep an empty Grade (Moodle then leaves them ungraded), unless
`zero_missing` asks for 0 with the comment "No submission".
"""

from __future__ import annotations

from pathlib import Path

from grader.course import Course
from grader.lms.csvfile import MOODLE_ENCODINGS, table_bytes
from grader.lms.groups import graded_for, registered_groups
from grader.lms.moodle import NO_ANSWERS, Worksheet, read_worksheet
from grader.lms.roster import MOODLE, student_id
from grader.lms.student_grades import (
    StudentResult,
    number,
    parse_number,
    scaled,
    unlisted,
    uses_decimal_comma,
)


def is_locked(sheet: Worksheet, row: list[str]) -> bool:
    """Whether the row says "Grade can be changed: No" (locked or overridden in the gradebook)."""
    return sheet.table.cell(row, sheet.columns["can_change"]).strip().casefold() in NO_ANSWERS


def fill_worksheet(course: Course, assignment: str, worksheet: Path, results: dict[str, StudentResult],
                   zero_missing: bool = False) -> tuple[bytes, list[str]]:
    """The filled worksheet's bytes, and notes for the instructor."""
    sheet = read_worksheet(worksheet, require_grade=True)
    columns = sheet.columns
    comma = uses_decimal_comma([sheet.table.cell(row, columns["max_grade"]) for row in sheet.table.rows])
    graded, notes = graded_for(course, sheet, set(results) | set(registered_groups(course)))
    if columns["comments"] is None:
        notes.append(f"{worksheet}: no 'Feedback comments' column, so only grades were filled in; enable "
                     "Feedback comments in the assignment's Feedback types to get the summaries too.")
    rows, in_sheet, scaled_rows, locked = [], set(), 0, []
    for row in sheet.table.rows:
        row = row + [""] * (len(sheet.table.header) - len(row))
        pid = sheet.participant_id(row)
        sid = student_id(MOODLE, pid)
        in_sheet.add(sid)
        found = graded.get(pid)
        if found is not None:
            in_sheet.add(found.student)
        result = results.get(found.student) if found is not None else None
        if result is not None and is_locked(sheet, row):
            locked.append(sid)
        elif result is not None:
            maximum = parse_number(sheet.table.cell(row, columns["max_grade"])) or None
            grade = scaled(result.score, result.max_score, maximum)
            scaled_rows += grade != round(result.score, 2)
            row[columns["grade"]] = number(grade, comma)  # type: ignore[index]
            comment = result.comment(maximum)
            if found is not None and found.group is not None:
                comment = f"Group submission of {found.group}. {comment}"
            _set(row, columns["comments"], comment)
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


def _set(row: list[str], index: int | None, value: str) -> None:
    if index is not None:
        row[index] = value


def _no_result(course: Course, assignment: str, sheet: Worksheet, row: list[str], sid: str,
               zero_missing: bool, notes: list[str]) -> None:
    if course.folder("submitted", assignment, sid).exists():
        notes.append(f"{sid}: collected but not graded yet; run `grader autograde`, then export again.")
    elif zero_missing and not is_locked(sheet, row):
        row[sheet.columns["grade"]] = "0"  # type: ignore[index]
        _set(row, sheet.columns["comments"], f"No submission for {assignment}.")

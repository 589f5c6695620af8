"""Fill Moodle's offline grading worksheet with each student's grade and a short feedback comment.

The instructor's file is only read; the filled copy keeps every column, their order, the encoding
(UTF-8, with a byte order mark if the original had one), the line endings and the identifiers, and
changes only the cells Grade and Feedback comments of students who have grades. (A worksheet that a
spreadsheet program saved with ";" between fields is written back with commas: Moodle's import reads only
commas.) Upload it with "Upload grading worksheet" (tick "Allow updating records that have been modified
more recently in Moodle than in the spreadsheet" only to overwrite grades changed in Moodle since the
download).

Students without a submission keep an empty Grade (Moodle then leaves them ungraded), unless
`zero_missing` asks for 0 with the comment "No submission".
"""

from __future__ import annotations

from pathlib import Path

from grader import ASSIGNMENT
from grader.course import Course
from grader.lms.csvfile import csv_bytes
from grader.lms.grades import StudentResult, number, parse_number, scaled, unlisted, uses_decimal_comma
from grader.lms.moodle import NO_ANSWERS, Worksheet, read_worksheet
from grader.lms.roster import MOODLE, student_id


def fill_worksheet(course: Course, worksheet: Path, results: dict[str, StudentResult],
                   zero_missing: bool = False) -> tuple[bytes, list[str]]:
    """The filled worksheet's bytes, and notes for the instructor."""
    sheet = read_worksheet(worksheet, require_grade=True)
    columns = sheet.columns
    comma = uses_decimal_comma([sheet.table.cell(row, columns["max_grade"]) for row in sheet.table.rows])
    notes: list[str] = []
    if columns["comments"] is None:
        notes.append(f"{worksheet}: no 'Feedback comments' column, so only grades were filled in; enable "
                     "Feedback comments in the assignment's Feedback types to get the summaries too.")
    rows, in_sheet, scaled_rows = [], set(), 0
    for row in sheet.table.rows:
        row = row + [""] * (len(sheet.table.header) - len(row))
        sid = student_id(MOODLE, sheet.participant_id(row))
        in_sheet.add(sid)
        result = results.get(sid)
        locked = sheet.table.cell(row, columns["can_change"]).strip().casefold() in NO_ANSWERS
        if result is not None and locked:
            notes.append(f"{sid}: Moodle says this grade cannot be changed (locked or overridden); "
                         "left as is.")
        elif result is not None:
            maximum = parse_number(sheet.table.cell(row, columns["max_grade"])) or None
            grade = scaled(result.score, result.max_score, maximum)
            scaled_rows += grade != round(result.score, 2)
            row[columns["grade"]] = number(grade, comma)  # type: ignore[index]
            _set(row, columns["comments"], result.comment(maximum))
        else:
            _no_result(course, sheet, row, sid, zero_missing, notes)
        rows.append(row)
    if scaled_rows:
        notes.append(f"{scaled_rows} grade{'s were' if scaled_rows != 1 else ' was'} scaled from points to "
                     "the worksheet's Maximum Grade.")
    notes += unlisted(results, in_sheet, MOODLE, "the grading worksheet")
    if sheet.table.delimiter != ",":
        notes.append(f"{worksheet}: fields are separated by {sheet.table.delimiter!r} (saved by a "
                     "spreadsheet program?); the filled worksheet uses commas, the only separator Moodle's "
                     "import reads.")
    data = csv_bytes(sheet.table.header, rows, bom=sheet.table.bom, newline=sheet.table.newline)
    return data, notes


def _set(row: list[str], index: int | None, value: str) -> None:
    if index is not None:
        row[index] = value


def _no_result(course: Course, sheet: Worksheet, row: list[str], sid: str, zero_missing: bool,
               notes: list[str]) -> None:
    if course.step_dir("submitted", sid).exists():
        notes.append(f"{sid}: collected but not graded yet; run `grader autograde`, then export again.")
    elif zero_missing:
        row[sheet.columns["grade"]] = "0"  # type: ignore[index]
        _set(row, sheet.columns["comments"], f"No submission for {ASSIGNMENT}.")

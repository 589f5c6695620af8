"""A Canvas gradebook import CSV made from the instructor's gradebook export; it never erases a grade.

The import file has the export's student columns (Student, ID, SIS User ID, SIS Login ID, Section, as
the export has them), its "Points Possible" line and one assignment column: the chosen one, or a new one
that Canvas creates on import. Rows stay in the export's order, with its byte order mark and line endings,
and every cell copied from the export is copied unchanged (Canvas matches rows by ID; nothing there is
neutralized for spreadsheets, since Canvas must read back its own values).

The file is written as Canvas's importer reads it, whatever the export was re-saved as
(``app/models/gradebook_importer.rb``, ``csv_stream``: ``CSV.foreach`` in Ruby's default encoding, UTF-8,
with ``col_sep`` ";" when ``semicolon_delimited?`` says so, else ","): UTF-8, with ";" if the export has
";" and "," otherwise (a tab-separated copy is read by Canvas as one column). Grades have a decimal point:
the importer's ``decimal_comma_to_period`` converter reads "6.11" and "6,11" alike, but "1,000" as 1.

Canvas's import (``ui/features/gradebook_uploads/jquery/process_gradebook_upload.js``,
``populateGradeDataPerSubmission``) compares each cell with the grade Canvas has now and posts every
difference, an empty cell included: an empty cell next to a grade erases it, and "EX" excuses. So the
import holds a row only for a student who gets a new grade:

- a student with a result gets it, except where the export says EX (excused): that row is left out;
- a student without a result (no submission, or collected but not graded yet) is left out, so Canvas keeps
  exactly what it has (a 0 from a missing-submission policy, EX, a grade typed by hand); a row kept with
  the export's value could overwrite a grade changed in Canvas after the export;
- with `zero_missing`, a student without a submission gets 0 only where the export's cell is empty.
"""

from __future__ import annotations

from pathlib import Path

from grader.course import Course
from grader.lms.canvas import assignment_column, read_gradebook
from grader.lms.csvfile import MOODLE_ENCODINGS, csv_bytes
from grader.lms.roster import CANVAS, student_id
from grader.lms.student_grades import (
    StudentResult,
    number,
    parse_number,
    scaled,
    unlisted,
)

EXCUSED = ("ex", "excused")
CANVAS_IMPORT = "canvas-grades-import.csv"
HAS_GRADE = "no submission, but a grade in Canvas already"


def canvas_import(course: Course, assignment: str, gradebook: Path, results: dict[str, StudentResult],
                  column: str | None = None, zero_missing: bool = False) -> tuple[bytes, list[str]]:
    """The import CSV's bytes, and notes for the instructor."""
    book = read_gradebook(gradebook)
    table, width = book.table, book.student_columns
    index, title = assignment_column(book, column, assignment)
    notes = [] if index is not None else [f"{gradebook}: no assignment column {title!r}; Canvas will create "
                                          "a new assignment with that name when you import."]
    exported = table.cell(book.points_row, index) if book.points_row and index is not None else ""
    exported_max = parse_number(exported) or None
    possible = max((result.max_score for result in results.values()), default=0.0)
    points = ["    Points Possible"] + [""] * (width - 1) + [number(exported_max or possible)]
    rows, listed, scaled_rows, replaced = [points], set(), 0, 0
    unchanged: dict[str, list[str]] = {"no submission": [], "collected but not graded yet": [],
                                       "excused (EX) in Canvas": [], HAS_GRADE: []}
    for row in book.student_rows:
        sid = student_id(CANVAS, table.cell(row, book.id_column).strip())
        listed.add(sid)
        current = table.cell(row, index).strip() if index is not None else ""
        result = results.get(sid)
        if current.casefold() in EXCUSED:
            unchanged["excused (EX) in Canvas"].append(sid)
            continue
        if result is not None:
            grade = scaled(result.score, result.max_score, exported_max)
            scaled_rows += grade != round(result.score, 2)
            cell = number(grade)
            replaced += bool(current) and parse_number(current) != parse_number(cell)
        elif course.folder("submitted", assignment, sid).exists():
            unchanged["collected but not graded yet"].append(sid)
            continue
        elif zero_missing and not current:
            cell = "0"
        else:
            unchanged[HAS_GRADE if zero_missing else "no submission"].append(sid)
            continue
        rows.append([table.cell(row, i) for i in range(width)] + [cell])
    notes += _unchanged_notes(unchanged)
    if replaced:
        notes.append(f"{replaced} grade{'s' if replaced != 1 else ''} already in Canvas for {title!r} will "
                     "be replaced by the new result; check them in Canvas's preview before you save.")
    if scaled_rows:
        notes.append(f"{scaled_rows} grade{'s were' if scaled_rows != 1 else ' was'} scaled from points to "
                     f"the {exported_max:g} points possible of {title!r} in Canvas.")
    notes += unlisted(results, listed, CANVAS, "the Canvas gradebook export")
    delimiter = ";" if table.delimiter == ";" else ","
    if (table.encoding, table.delimiter) != ("utf-8", delimiter):
        read_as = MOODLE_ENCODINGS.get(table.encoding, table.encoding.upper())
        separator = "semicolons" if delimiter == ";" else "commas"
        notes.append(f"{gradebook}: the export was saved as {read_as} with {table.separator_name} between "
                     f"fields; {CANVAS_IMPORT} is UTF-8 with {separator}, as Canvas's import reads it.")
    return csv_bytes([*table.header[:width], title], rows, bom=table.bom, delimiter=delimiter,
                     newline=table.newline, encoding="utf-8"), notes


def _unchanged_notes(unchanged: dict[str, list[str]]) -> list[str]:
    """One line saying how many students the import leaves alone and why."""
    total = sum(len(students) for students in unchanged.values())
    if not total:
        return []
    reasons = "; ".join(f"{len(students)} {why} ({', '.join(students)})"
                        for why, students in unchanged.items() if students)
    return [f"{total} student{'s' if total != 1 else ''} left unchanged in Canvas (not in the import, so "
            f"Canvas keeps what it has): {reasons}."]

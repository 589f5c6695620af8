"""A Canvas gradebook import CSV made from the instructor's gradebook export.

The import file has the export's student columns (Student, ID, SIS User ID, SIS Login ID, Section, as
the export has them), its "Points Possible" line and one assignment column: the chosen one, or a new one
that Canvas creates on import. Rows stay in the export's order, with its separator, byte order mark and
line endings. A student without grades gets an empty cell, which Canvas's import leaves alone (or 0 with
`zero_missing`). Upload it with Grades, Import.
"""

from __future__ import annotations

from pathlib import Path

from grader import ASSIGNMENT
from grader.course import Course
from grader.lms.canvas import assignment_column, read_gradebook
from grader.lms.csvfile import csv_bytes
from grader.lms.grades import StudentResult, number, parse_number, scaled, unlisted, uses_decimal_comma
from grader.lms.roster import CANVAS, student_id


def canvas_import(course: Course, gradebook: Path, results: dict[str, StudentResult],
                  assignment: str | None = None, zero_missing: bool = False) -> tuple[bytes, list[str]]:
    """The import CSV's bytes, and notes for the instructor."""
    book = read_gradebook(gradebook)
    table, width = book.table, book.student_columns
    index, title = assignment_column(book, assignment, ASSIGNMENT)
    notes = [] if index is not None else [f"{gradebook}: no assignment column {title!r}; Canvas will create "
                                          "a new assignment with that name when you import."]
    exported = table.cell(book.points_row, index) if book.points_row and index is not None else ""
    exported_max = parse_number(exported) or None
    possible = max((result.max_score for result in results.values()), default=0.0)
    comma = uses_decimal_comma([table.cell(book.points_row or [], i) for i in range(len(table.header))])
    points = ["    Points Possible"] + [""] * (width - 1) + [number(exported_max or possible, comma)]
    rows, listed, scaled_rows = [points], set(), 0
    for row in book.student_rows:
        sid = student_id(CANVAS, table.cell(row, book.id_column).strip())
        listed.add(sid)
        result = results.get(sid)
        cell = ""
        if result is not None:
            grade = scaled(result.score, result.max_score, exported_max)
            scaled_rows += grade != round(result.score, 2)
            cell = number(grade, comma)
        elif course.step_dir("submitted", sid).exists():
            notes.append(f"{sid}: collected but not graded yet; run `grader autograde`, then export again.")
        elif zero_missing:
            cell = "0"
        rows.append([table.cell(row, i) for i in range(width)] + [cell])
    if scaled_rows:
        notes.append(f"{scaled_rows} grade{'s were' if scaled_rows != 1 else ' was'} scaled from points to "
                     f"the {exported_max:g} points possible of {title!r} in Canvas.")
    notes += unlisted(results, listed, CANVAS, "the Canvas gradebook export")
    data = csv_bytes([*table.header[:width], title], rows, bom=table.bom, delimiter=table.delimiter,
                     newline=table.newline)
    return data, notes

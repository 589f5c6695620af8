"""`grader export`: the scores of every student, per notebook and per question, as CSV; and the LMS files.

Besides the scores CSV, export can write (beside it, in the same folder):

- ``moodle-grading-worksheet.csv``: the instructor's Moodle grading worksheet with Grade and Feedback
  comments filled in (:mod:`grader.lms.worksheet`);
- ``canvas-grades-import.csv``: a Canvas gradebook import made from the instructor's gradebook export
  (:mod:`grader.lms.canvas_import`);
- ``moodle-feedback-files.zip``: every Moodle student's feedback HTML in the layout of Moodle's
  "Upload multiple feedback files in a zip" (:mod:`grader.lms.feedback_zip`);
- ``canvas-feedback-files.zip``: every Canvas student's feedback HTML named for Canvas's "Re-Upload
  Submissions" (:mod:`grader.lms.canvas_feedback`).

With --feedback-zip the Moodle zip is written when a Moodle worksheet is given (or, with no LMS file given,
when Moodle students were graded), the Canvas zip when a Canvas gradebook export is given (or, with no LMS
file given, when Canvas students were graded).

Every output is checked before anything is written: an existing file needs --force, an input file is never
overwritten, and a bad worksheet or gradebook export stops the command before any file changes.

Text cells of ``scores.csv`` (names, emails, ids) that a spreadsheet would run as a formula (starting with
``=``, ``+``, ``-``, ``@``, a tab or a carriage return) get a leading ``'``. The LMS files are not changed
that way: Moodle and Canvas read them back, and a cell they match rows by must stay as they wrote it.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from pathlib import Path

from grader.course import Course
from grader.errors import GraderError
from grader.lms.canvas import assignment_column, read_gradebook
from grader.lms.canvas_feedback import CANVAS_FEEDBACK_ZIP, canvas_feedback_zip
from grader.lms.canvas_import import CANVAS_IMPORT, canvas_import
from grader.lms.csvfile import check_writable, neutralize, write_atomically
from grader.lms.feedback_zip import feedback_zip
from grader.lms.moodle import read_worksheet
from grader.lms.roster import CANVAS, MOODLE, parse_student_id
from grader.lms.student_grades import StudentResult, student_results
from grader.lms.worksheet import fill_worksheet
from grader.outcomes import outcomes
from grader.scores import CellScore, cell_scores, student_totals

MOODLE_WORKSHEET = "moodle-grading-worksheet.csv"
FEEDBACK_ZIP = "moodle-feedback-files.zip"
IDENTITY_COLUMNS = ["last_name", "first_name", "email", "lms_user_id"]


def export_scores(course: Course, path: Path, force: bool = False, assignment: str | None = None,
                  rows: list[CellScore] | None = None) -> Path:
    """Write one row per student: id, name, email, LMS id, total, each notebook's and question's score.

    `rows` are the gradebook's scores when the caller has read them already."""
    if path.exists() and not force:
        raise GraderError(f"{path}: already exists; pass --force to overwrite it or choose another file.")
    rows = rows if rows is not None else cell_scores(course, assignment)
    if not rows:
        raise GraderError(f"{course.db_url}: no grades yet; run `grader autograde` first.")
    columns = _columns(rows)
    identities = _identities(course)
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, quoting=csv.QUOTE_MINIMAL, lineterminator="\n")
    writer.writerow(["student", *IDENTITY_COLUMNS, "total", "max_total", *columns])
    totals = student_totals(rows)
    for student, scores in _by_student(rows).items():
        total, maximum = totals[student]
        per_column = _per_column(scores)
        identity = [neutralize(cell)
                    for cell in [student, *identities.get(student, [""] * len(IDENTITY_COLUMNS))]]
        writer.writerow([*identity, _number(total),
                         _number(maximum), *(_number(per_column.get(column, 0.0)) for column in columns)])
    write_atomically(path, buffer.getvalue().encode("utf-8"))
    return path


def _identities(course: Course) -> dict[str, list[str]]:
    with course.gradebook() as gradebook:
        return {student.id: [student.last_name or "", student.first_name or "", student.email or "",
                             student.lms_user_id or ""] for student in gradebook.students}


def _columns(rows: list[CellScore]) -> list[str]:
    notebooks = sorted({row.notebook for row in rows})
    cells = list(dict.fromkeys(f"{row.notebook}:{row.cell}" for row in rows))
    return [*notebooks, *cells]


def _per_column(scores: list[CellScore]) -> dict[str, float]:
    result: dict[str, float] = {}
    for row in scores:
        result[row.notebook] = result.get(row.notebook, 0.0) + row.score
        result[f"{row.notebook}:{row.cell}"] = row.score
    return result


def _by_student(rows: list[CellScore]) -> dict[str, list[CellScore]]:
    grouped: dict[str, list[CellScore]] = {}
    for row in rows:
        grouped.setdefault(row.student, []).append(row)
    return grouped


def _number(value: float) -> str:
    return f"{value:g}"


@dataclass
class LmsFiles:
    """Which LMS files to write, from which of the instructor's downloads."""

    moodle_worksheet: Path | None = None
    canvas_gradebook: Path | None = None
    canvas_assignment: str | None = None
    feedback_zip: bool = False
    zero_missing: bool = False


@dataclass
class ExportResult:
    """The files written and the notes for the instructor."""

    written: list[Path] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def export(course: Course, scores: Path, lms: LmsFiles | None = None, force: bool = False,
           assignment: str | None = None) -> ExportResult:
    """Write the scores CSV and the chosen LMS files beside it.

    Every input is read and every output built in memory first, so a bad worksheet, gradebook export or
    missing feedback stops the command before any file is written.
    """
    assignment = course.assignment(assignment)
    lms = lms or LmsFiles()
    folder = scores.parent
    targets = [scores]
    targets += [folder / MOODLE_WORKSHEET] if lms.moodle_worksheet else []
    targets += [folder / CANVAS_IMPORT] if lms.canvas_gradebook else []
    derived = outcomes(course, assignment)
    results = student_results(course, assignment, derived)
    moodle_zip, canvas_zip = _feedback_zips(lms, results)
    targets += [folder / FEEDBACK_ZIP] if moodle_zip else []
    targets += [folder / CANVAS_FEEDBACK_ZIP] if canvas_zip else []
    check_writable(targets, [path for path in (lms.moodle_worksheet, lms.canvas_gradebook) if path], force)
    sheet = read_worksheet(lms.moodle_worksheet, require_grade=True) if lms.moodle_worksheet else None
    stale = _stale_worksheet(lms.moodle_worksheet, folder / MOODLE_WORKSHEET)
    if lms.canvas_gradebook:
        assignment_column(read_gradebook(lms.canvas_gradebook), lms.canvas_assignment, assignment)
    if not results:
        raise GraderError(f"{course.db_url}: no grades yet; run `grader autograde` first.")
    outputs: list[tuple[Path, bytes]] = []
    result = ExportResult()
    if lms.moodle_worksheet:
        data, notes = fill_worksheet(course, assignment, lms.moodle_worksheet, results, lms.zero_missing)
        outputs.append((folder / MOODLE_WORKSHEET, data))
        result.notes += notes
    if lms.canvas_gradebook:
        data, notes = canvas_import(course, assignment, lms.canvas_gradebook, results, lms.canvas_assignment,
                                    lms.zero_missing)
        outputs.append((folder / CANVAS_IMPORT, data))
        result.notes += notes
    if moodle_zip:
        data, notes = feedback_zip(course, assignment, results, sheet)
        outputs.append((folder / FEEDBACK_ZIP, data))
        result.notes += notes
    if canvas_zip:
        listed = {p.student_id for p in read_gradebook(lms.canvas_gradebook).participants} \
            if lms.canvas_gradebook else None
        data, notes = canvas_feedback_zip(course, assignment, results, listed)
        outputs.append((folder / CANVAS_FEEDBACK_ZIP, data))
        result.notes += notes
    result.written.append(export_scores(course, scores, force=True, assignment=assignment,
                                        rows=derived.scores))
    for path, data in outputs:
        write_atomically(path, data)
        result.written.append(path)
    result.notes = list(dict.fromkeys(result.notes)) + stale + _moodle_upload_order(lms)
    return result


def _feedback_zips(lms: LmsFiles, results: dict[str, StudentResult]) -> tuple[bool, bool]:
    """Which feedback zips --feedback-zip writes: (Moodle's, Canvas's)."""
    if not lms.feedback_zip:
        return False, False
    if lms.moodle_worksheet or lms.canvas_gradebook:
        return bool(lms.moodle_worksheet), bool(lms.canvas_gradebook)
    graded = {(parse_student_id(sid) or ("",))[0] for sid in results}
    moodle = MOODLE in graded or any(sid.startswith(f"{MOODLE}-group-") for sid in results)
    return moodle or CANVAS not in graded, CANVAS in graded


def _stale_worksheet(worksheet: Path | None, earlier: Path) -> list[str]:
    """A note when the worksheet is older than a filled worksheet written before (likely uploaded since)."""
    if worksheet is None or not earlier.exists() or worksheet.stat().st_mtime >= earlier.stat().st_mtime:
        return []
    return [f"{worksheet}: this worksheet is older than the {MOODLE_WORKSHEET} exported before; if you "
            "uploaded that one, download a fresh worksheet and export again, or Moodle skips the rows "
            "graded since."]


def _moodle_upload_order(lms: LmsFiles) -> list[str]:
    """How to upload the Moodle files: Moodle's worksheet import skips rows whose grade record is newer than
    the worksheet's "Last modified (grade)", and the feedback-zip upload creates grade records dated now."""
    if not lms.moodle_worksheet:
        return []
    order = [f"upload {MOODLE_WORKSHEET} first (Submissions, 'Upload grading worksheet', Encoding and "
             "Separator as the worksheet has them, leave 'Allow updating records that have been modified "
             "more recently in Moodle than in the spreadsheet' unticked)"]
    if lms.feedback_zip:
        order.append(f"then {FEEDBACK_ZIP} ('Upload multiple feedback files in a zip'); the other way round, "
                     "the zip upload dates the grade records of students without a grade now, and the "
                     "worksheet import skips those rows")
    return ["Moodle: " + "; ".join(order) + ". Before every later export download a fresh worksheet: one "
            "downloaded before your last upload is older than the grades in Moodle, and Moodle skips those "
            "rows (unless you tick that box, which overwrites grades changed in Moodle)."]

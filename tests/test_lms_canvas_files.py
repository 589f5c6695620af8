"""The Canvas files export writes, read back as Canvas's own code reads them: the gradebook import
(app/models/gradebook_importer.rb) and the feedback zip of "Re-Upload Submissions"
(app/models/assignment.rb, generate_comments_from_files and infer_comment_context_from_filename).

The class: Joe submitted a complete notebook, Kim one with an exercise left out. The gradebook export has
two assignment columns titled "Lecture 1".
"""

from __future__ import annotations

import codecs
import csv
import io
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest
from typer.testing import CliRunner

from grader.autograde import autograde
from grader.classroom import solved_notebook
from grader.cli import app
from grader.course import Course
from grader.errors import GraderError
from grader.export import CANVAS_IMPORT, LmsFiles, export
from grader.feedback import feedback
from grader.lms.collect import collect
from grader.scores import cell_scores
from tests.test_lms_names import canvas_file
from tests.test_lms_support import (
    CANVAS_TOTALS,
    CanvasStudent,
    broken_solution,
    class_course,
    notebook_bytes,
    write_zip,
)

pytestmark = pytest.mark.slow  # the module grades a class with autograde

JOE = CanvasStudent(401, "Müller, Joe", "joe@uni.example")
KIM = CanvasStudent(402, "Kim, Ka", "kim@uni.example")
ATTACHMENTS = {JOE.user_id: 7001, KIM.user_id: 7002}
COLUMNS = [("Lecture 1", 11, "100"), ("Lecture 1", 12, "34")]


@dataclass
class CanvasFilesClass:
    course: Course
    root: Path
    gradebook: Path


def write_export(path: Path, *, encoding: str = "utf-8", delimiter: str = ",") -> Path:
    """A gradebook export (lib/gradebook_exporter.rb layout) as a spreadsheet program may save it again."""
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n")
    writer.writerow(["Student", "ID", "SIS User ID", "SIS Login ID", "Section",
                     *(f"{title} ({number})" for title, number, _ in COLUMNS), *CANVAS_TOTALS])
    writer.writerow(["    Points Possible", "", "", "", "", *(points for _, _, points in COLUMNS),
                     *["(read only)"] * len(CANVAS_TOTALS)])
    for student in (JOE, KIM):
        writer.writerow([student.sortable_name, student.user_id, "", student.login, "DL 2024",
                         *[""] * len(COLUMNS), *["0.00"] * len(CANVAS_TOTALS)])
    path.write_bytes(buffer.getvalue().encode(encoding))
    return path


@pytest.fixture(scope="module")
def canvas_files(released_template: Course, tmp_path_factory: pytest.TempPathFactory) -> CanvasFilesClass:
    root = tmp_path_factory.mktemp("canvas-files")
    course = class_course(released_template, root)
    first = course.notebook_names()[0]
    notebooks = {JOE.user_id: solved_notebook(course, first),
                 KIM.user_id: solved_notebook(course, first, broken_solution(course, first))}
    download = write_zip(root / "submissions.zip", [
        (canvas_file(student.sortable_name, student.user_id, ATTACHMENTS[student.user_id], f"{first}.ipynb"),
         notebook_bytes(notebooks[student.user_id])) for student in (JOE, KIM)])
    gradebook = write_export(root / "export.csv")
    collect(course, download, canvas_gradebook=gradebook, timezone="UTC")
    autograde(course)
    feedback(course)
    return CanvasFilesClass(course, root, gradebook)


def _scaled(course: Course, student: CanvasStudent, points: float) -> float:
    rows = [row for row in cell_scores(course) if row.student == student.student_id]
    return round(sum(row.score for row in rows) / sum(row.max_score for row in rows) * points, 2)


def canvas_reads(path: Path) -> list[list[str]]:
    """An import file as Canvas reads it: gradebook_importer.rb, csv_stream,

        csv_parse_options = { converters: %i[nil decimal_comma_to_period], skip_lines: /^[;, ]+$/,
                              col_sep: is_semicolon_delimited ? ";" : "," }
        CSV.foreach(csv_file.path, **csv_parse_options, &)

    in Ruby's default external encoding, UTF-8 (a byte that is no UTF-8 fails the import); the separator is
    ";" only when the first lines have more fields with ";" (identify_delimiter). decimal_comma_to_period:
    a pure number's last "." or "," part is the fraction, the others are joined ("1,000" is 1.000)."""
    text = path.read_bytes().decode("utf-8")  # strict: raises where Canvas's import fails
    first = text.splitlines()[:3]
    semicolon = len(next(csv.reader(first, delimiter=";"))) > len(next(csv.reader(first, delimiter=",")))
    rows = list(csv.reader(io.StringIO(text.removeprefix("\ufeff"), newline=""),
                           delimiter=";" if semicolon else ","))

    def converted(field: str) -> str:
        if re.fullmatch(r"-?[0-9.,]+%?", field):
            *parts, last = re.split(r"[,.]", field)
            return f"{''.join(parts)}.{last}" if parts else last
        return field

    return [[converted(field) for field in row] for row in rows]


def test_a_title_two_columns_share_is_refused_and_the_id_chooses(canvas_files: CanvasFilesClass) -> None:
    """The importer matches a column's assignment by the id in brackets (parse_assignments:
    Assignment.title_and_id); "Lecture 1" is the title of two."""
    folder = canvas_files.root / "title"
    with pytest.raises(GraderError) as error:
        export(canvas_files.course, folder / "scores.csv",
               LmsFiles(canvas_gradebook=canvas_files.gradebook, canvas_assignment="Lecture 1"))
    message = str(error.value)
    assert "\n" not in message and "export.csv" in message
    assert "'Lecture 1 (11)', 'Lecture 1 (12)'" in message
    assert "--canvas-assignment 'Lecture 1 (11)'" in message
    assert not folder.exists()
    export(canvas_files.course, folder / "scores.csv",
           LmsFiles(canvas_gradebook=canvas_files.gradebook, canvas_assignment="Lecture 1 (12)"))
    rows = canvas_reads(folder / CANVAS_IMPORT)
    assert rows[0][-1] == "Lecture 1 (12)"
    grades = {row[1]: float(row[-1]) for row in rows[2:]}
    assert grades == {str(s.user_id): _scaled(canvas_files.course, s, 34.0) for s in (JOE, KIM)}


@pytest.mark.parametrize(("encoding", "delimiter"), [("cp1252", ";"), ("cp1252", ","), ("utf-8", "\t")])
def test_an_export_saved_again_gives_an_import_canvas_reads(canvas_files: CanvasFilesClass, encoding: str,
                                                            delimiter: str) -> None:
    """Saved by a spreadsheet as Windows-1252 (and with ";" or tabs), the export is read as it is; the import
    file is UTF-8 with ";" or ",", as Canvas's importer reads it, with the names unchanged."""
    name = f"export-{encoding}-{ord(delimiter)}"
    gradebook = write_export(canvas_files.root / f"{name}.csv", encoding=encoding, delimiter=delimiter)
    folder = canvas_files.root / name
    result = export(canvas_files.course, folder / "scores.csv",
                    LmsFiles(canvas_gradebook=gradebook, canvas_assignment="12"))
    rows = canvas_reads(folder / CANVAS_IMPORT)
    assert rows[0][:2] == ["Student", "ID"] and rows[0][-1] == "Lecture 1 (12)"
    by_id = {row[1]: row for row in rows[2:]}
    assert by_id[str(JOE.user_id)][0] == "Müller, Joe"
    assert float(by_id[str(KIM.user_id)][-1]) == _scaled(canvas_files.course, KIM, 34.0)
    assert (folder / CANVAS_IMPORT).read_bytes().count(b";") >= 2 * len(rows) * (delimiter == ";")
    if (encoding, delimiter) != ("utf-8", ","):
        assert any("as Canvas's import reads it" in note for note in result.notes)


def canvas_comments(names: list[str], submissions: dict[int, set[int]]) -> dict[str, int | None]:
    """Which student's submission Canvas's "Re-Upload Submissions" gives each file of the zip as a comment:
    app/models/assignment.rb, infer_comment_context_from_filename:

        filename = File.basename(fullpath)
        split_filename = filename.split("_")
        user_id, attachment_id = split_filename.grep(/^\\d+$/).take(2)
        attachment_id = nil if split_filename.last =~ /^link/ || filename =~ /^\\._/
        ...
        if !attachment || !submission || ... !submission.attachments.where(:id => attachment_id).exists?
          @ignored_files << fullpath

    `submissions` maps each user id with a submission to the attachment ids of that submission."""
    owners: dict[str, int | None] = {}
    for fullpath in names:
        filename = fullpath.rsplit("/", 1)[-1]
        fields = filename.split("_")
        user_id, attachment_id, *_ = [int(field) for field in fields if re.fullmatch(r"\d+", field)] + [0, 0]
        if re.match(r"link", fields[-1]) or filename.startswith("._"):
            attachment_id = 0
        owners[fullpath] = user_id if attachment_id in submissions.get(user_id, set()) else None
    return owners


def test_the_canvas_feedback_zip_gives_each_student_their_pages(canvas_files: CanvasFilesClass) -> None:
    folder = canvas_files.root / "feedback"
    args = ["export", "--course", str(canvas_files.course.root), "-o", str(folder / "scores.csv"),
            "--canvas-gradebook", str(canvas_files.gradebook), "--canvas-assignment", "Lecture 1 (11)",
            "--feedback-zip"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    zip_path = folder / "canvas-feedback-files.zip"
    assert f"written: {zip_path}" in result.output
    submissions = {user: {attachment} for user, attachment in ATTACHMENTS.items()}
    assignment = canvas_files.course.assignment()
    with zipfile.ZipFile(zip_path) as archive:
        owners = canvas_comments(archive.namelist(), submissions)
        for student in (JOE, KIM):
            own = canvas_files.course.folder("feedback", assignment, student.student_id)
            pages = sorted(own.glob("*.html"))
            assert pages
            given = sorted(name for name, owner in owners.items() if owner == student.user_id)
            assert [archive.read(name) for name in given] == [page.read_bytes() for page in pages]
            assert all(name.endswith(".html") for name in given)
    assert None not in owners.values()
    assert not (folder / "moodle-feedback-files.zip").exists()


def test_utf8_exports_keep_their_byte_order_mark(canvas_files: CanvasFilesClass) -> None:
    gradebook = canvas_files.root / "bom.csv"
    gradebook.write_bytes(codecs.BOM_UTF8 + write_export(canvas_files.root / "plain.csv").read_bytes())
    folder = canvas_files.root / "bom"
    export(canvas_files.course, folder / "scores.csv", LmsFiles(canvas_gradebook=gradebook,
                                                               canvas_assignment="11"))
    assert (folder / CANVAS_IMPORT).read_bytes().startswith(codecs.BOM_UTF8)


def test_a_page_name_never_reads_as_another_students(canvas_files: CanvasFilesClass) -> None:
    """A download name with numbers between underscores (a sortable name "Kim_401-_7001-_, Ka" gives
    "kim_401_7001_ka") would put Joe's ids first in a page's name; the page names leave digits out of the
    name part."""
    from grader.lms.canvas_feedback import page_name  # here, so the module's other tests run without it

    name = re.sub(r"[^\w]", "", "Kim_401-_7001-_, Ka".lower())
    assert name == "kim_401_7001_ka"
    page = page_name(name, "402", "7002", "01_forward_propagation")
    assert canvas_comments([page], {401: {7001}, 402: {7002}}) == {page: 402}

"""Canvas's assignment files: the "Download Submissions" zip and the gradebook export.

"Download Submissions" names each uploaded file
``<sortable name>[_LATE]_<user id>_<attachment id>_<file name>`` (``lib/content_zipper.rb``,
``get_filename``, ``get_user_name``, ``sanitize_user_name``, ``sanitize_file_name``): the sortable name
("Doe, Jane") with each ``_<digits>_`` joined up, lower case, everything but word characters removed
("doejane"); "LATE" (upper case, so never part of the name) when the submission came after the due date; the
student's Canvas user id; the id of the uploaded file (the attachment, not the submission); and its name as
the student uploaded it, with ``\\ / : * ? " < > |`` as "_" (``sanitize_attachment_filename``). Students
can edit their sortable name, and ``sanitize_user_name`` does not stop every ``_<digits>_`` ("a_12-_34"
gives "a_12_34"), so a name may be read more than one way: :func:`readings` gives every reading, and
:func:`owner` keeps the one whose user id is in the gradebook export with the name Canvas makes from that
student's sortable name.
Text entries and URLs come as ``<name>_<user id>_text.html`` and ``..._link.html``.
With anonymous grading ("Graders cannot view student names") the name is left out and the user id is
replaced by the submission's anonymous id: ``[LATE_]anon_<anonymous id>_<attachment id>_<file name>``
(``lib/content_zipper.rb``, ``get_filename``); nothing in such a download says who a student is.

The gradebook export ("Grades, Export, Export Entire Gradebook") starts with the columns Student
("Last, First"), ID (the user id), SIS User ID and SIS Login ID (when the instructor may see them),
Section, then custom columns and one column per assignment titled ``<Title> (<assignment id>)``, then
read-only totals. Its second line (third when some grades are posted manually) is "Points Possible".
Canvas's import ("Grades, Import") reads the same layout, matches students by ID and assignments by
the id in the column title, and posts every cell that differs from the grade Canvas has, a blank cell
included (which erases it); students not in the file are left alone (see :mod:`grader.lms.canvas_import`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from grader.errors import GraderError
from grader.lms.csvfile import CsvTable, read_csv
from grader.lms.roster import CANVAS, Participant

GET_GRADEBOOK = "in Canvas open Grades, then Export and 'Export Entire Gradebook'"
STUDENT_COLUMNS = ("Student", "LastName", "FirstName", "ID", "SIS User ID", "SIS Login ID", "Integration ID",
                   "Root Account", "Section")
TOTALS = re.compile(r"Current Score|Current Points|Current Grade|Final Score|Final Points|Final Grade|"
                    r"Override Score|Override Grade|Override Status")

_FILE = re.compile(r"^(?P<name>.*?)(?:_(?P<late>late))?_(?P<uid>\d+)_(?P<aid>\d+)_(?P<file>.+)$",
                   re.IGNORECASE)
#: Every place a download name can be split into name, LATE, user id, attachment id and file name.
_SPLIT = re.compile(r"(?=_(?:(?P<late>LATE)_)?(?P<uid>\d+)_(?P<aid>\d+)_(?P<file>.+)$)")
_ONLINE = re.compile(r"^(?P<name>.*?)(?:_(?P<late>late))?_(?P<uid>\d+)_(text|link)\.html$", re.IGNORECASE)
_ANONYMOUS = re.compile(r"^(?:late_)?anon_[a-z0-9]+_(?:\d+_.+|text\.html|link\.html)$", re.IGNORECASE)
_ANONYMOUS_NAME = re.compile(r"^(?:late_)?anon_[a-z0-9]+$", re.IGNORECASE)
_TITLE_ID = re.compile(r"^(?P<title>.*)\s\((?P<id>\d+)\)\s*$")


@dataclass(frozen=True)
class CanvasFile:
    """Where a file of the download belongs: the user, whether Canvas marked it late, and its name."""

    name: str
    user_id: str
    late: bool
    file_id: str
    filename: str
    inner: tuple[str, ...]

    @property
    def submission(self) -> str:
        """The file-name prefix Canvas gave this user's submission."""
        return f"{self.name}{'_LATE' if self.late else ''}_{self.user_id}"


def parse_submission_path(parts: tuple[str, ...]) -> CanvasFile | None:
    """The Canvas user a download path belongs to; None if no component is named like Canvas's."""
    for index, part in enumerate(parts):
        match = _FILE.match(part)
        if match:
            inner = (match.group("file"), *parts[index + 1:])
            return CanvasFile(match.group("name"), match.group("uid"), bool(match.group("late")),
                              match.group("aid"), match.group("file"), inner)
    return None


def readings(part: str) -> list[CanvasFile]:
    """Every way Canvas could have made this file name, first split first.

    The name part is lower case (``sanitize_user_name`` downcases it), so an upper-case "LATE" is always
    Canvas's mark and never the student's name.
    """
    found = []
    for match in _SPLIT.finditer(part):
        name = part[:match.start()]
        if name != name.lower():
            continue
        found.append(CanvasFile(name, match.group("uid"), bool(match.group("late")), match.group("aid"),
                                match.group("file"), (match.group("file"),)))
    return found


def download_name(sortable_name: str) -> str:
    """The name part Canvas gives a student's files: ``content_zipper.rb``, ``sanitize_user_name``
    (``gsub!(/_(\\d+)_/, '\\1')``, ``downcase``), then ``sanitize_file_name``
    (``gsub(/[^[[:word:]]]/, "")``)."""
    return re.sub(r"[^\w]", "", re.sub(r"_(\d+)_", r"\1", sortable_name).lower())


def owner(part: str, roster: dict[str, Participant] | None) -> CanvasFile | None:
    """The reading of a download name that names its student; None if the name is no Canvas file name.

    With the gradebook export, a reading counts when its user id is a student of the export and its name
    part is what Canvas makes of that student's sortable name; when none has that name (a name changed since
    the download), the only reading whose user id is in the export. Without the export, the first reading
    (Canvas's own rule when it reads names back: the first two all-digit fields), unless another reading's
    name part is not just the first one's with its ids. Raises :class:`AmbiguousName` when the name can be
    read as two students'.
    """
    found = readings(part)
    if not found:
        return None
    if roster is None:
        # A later reading is only the same file shifted by one number (its name part ending in the first
        # reading's user id) unless a student's name put `_<digits>_<digits>_` before the real ids.
        others = [reading for reading in found[1:] if not re.search(r"_\d+$", reading.name)]
        if others:
            raise AmbiguousName(sorted({found[0].user_id, *(reading.user_id for reading in others)}))
        return found[0]
    known = [reading for reading in found if reading.user_id in roster]
    exact = [reading for reading in known
             if reading.name == download_name(roster[reading.user_id].sortable_name or "")]
    if len(exact) == 1:
        return exact[0]
    if len(exact) > 1 or len({reading.user_id for reading in known}) > 1:
        raise AmbiguousName(sorted({reading.user_id for reading in (exact or known)}))
    return known[0] if known else found[0]


class AmbiguousName(Exception):
    """A download name that reads as the file of more than one student of the gradebook export."""

    def __init__(self, user_ids: list[str]) -> None:
        super().__init__(", ".join(user_ids))
        self.user_ids = user_ids


def is_anonymous(parts: tuple[str, ...]) -> bool:
    """Whether a path is a file of an anonymous download (``anon_<anonymous id>_...``)."""
    for part in parts:
        if _ANONYMOUS.match(part):
            found = parse_submission_path((part,))
            return found is None or bool(_ANONYMOUS_NAME.match(found.name))
    return False


def is_online_entry(parts: tuple[str, ...]) -> bool:
    """Whether the path is a Canvas text entry or URL page (not a file upload)."""
    return any(_ONLINE.match(part) for part in parts)


@dataclass
class Gradebook:
    """A Canvas gradebook export: the file as it is, where the student columns end, a participant per row."""

    table: CsvTable
    student_columns: int
    id_column: int
    points_row: list[str] | None
    participants: list[Participant]
    student_rows: list[list[str]]

    def assignment_columns(self) -> list[int]:
        """The columns of assignments (titled "Name (id)"), totals left out."""
        return [index for index, title in enumerate(self.table.header)
                if index >= self.student_columns and _TITLE_ID.match(title) and not TOTALS.search(title)]


def read_gradebook(path: Path) -> Gradebook:
    """Read a Canvas gradebook export; fails with one line if it is not one."""
    table = read_csv(path, "Canvas gradebook export", f"{GET_GRADEBOOK} and pass that file")
    header = [cell.strip() for cell in table.header]
    first_last = header[:2] == ["LastName", "FirstName"]
    id_column = 2 if first_last else 1
    if len(header) <= id_column or header[id_column] != "ID" or not (first_last or header[0] == "Student"):
        raise GraderError(f"{path}: not a Canvas gradebook export (it must start with the columns "
                          f"'Student' and 'ID'); {GET_GRADEBOOK}.")
    if "Section" not in header:
        raise GraderError(f"{path}: the Canvas gradebook export has no 'Section' column, which Canvas's "
                          f"import needs; {GET_GRADEBOOK}.")
    student_columns = header.index("Section") + 1
    points_row, participants, rows = None, [], []
    seen: dict[str, int] = {}
    for number, row in enumerate(table.rows, start=2):
        first_cell = table.cell(row, 0)
        if "Points Possible" in first_cell:
            points_row = row
            continue
        if all(re.fullmatch(r"\s*(Muted|Manual Posting.*)?\s*", cell, re.IGNORECASE) for cell in row):
            continue
        user_id = table.cell(row, id_column).strip()
        if not user_id.isdigit():
            raise GraderError(f"{path}: line {number} has no Canvas user id in its ID column "
                              f"({user_id!r}); {GET_GRADEBOOK} again and do not edit that column.")
        if user_id in seen:
            raise GraderError(f"{path}: lines {seen[user_id]} and {number} are both for Canvas user "
                              f"{user_id}; {GET_GRADEBOOK} again.")
        seen[user_id] = number
        participants.append(_participant(table, row, header, first_last, user_id))
        rows.append(row)
    return Gradebook(table, student_columns, id_column, points_row, participants, rows)


def _participant(table: CsvTable, row: list[str], header: list[str], first_last: bool,
                 user_id: str) -> Participant:
    if first_last:
        last, first = table.cell(row, 0).strip(), table.cell(row, 1).strip()
    else:
        last, _, first = table.cell(row, 0).strip().partition(",")
        last, first = last.strip(), first.strip()
    login = table.cell(row, header.index("SIS Login ID")).strip() if "SIS Login ID" in header else ""
    full = f"{first} {last}".strip()
    sortable = f"{last}, {first}" if first_last else table.cell(row, 0).strip()
    return Participant(CANVAS, user_id, full, first, last, login if "@" in login else None,
                       sortable_name=sortable)


def assignment_column(gradebook: Gradebook, wanted: str | None, default_name: str) -> tuple[int | None, str]:
    """The column to fill: chosen by "title (id)", id or title; the only assignment column; or a new one.

    Canvas's importer (``app/models/gradebook_importer.rb``, ``parse_assignments``) finds a column's
    assignment by the id in its title (``Assignment.title_and_id``); titles need not be unique, so a title
    that two columns share is refused and the id asked for. Returns (index or None for a new column, title).
    """
    header = gradebook.table.header
    columns = gradebook.assignment_columns()
    if wanted:
        wanted = wanted.strip()
        parsed = {index: _TITLE_ID.match(header[index]) for index in columns}
        for candidates in ([i for i in columns if header[i].strip() == wanted],
                           [i for i in columns if parsed[i].group("id") == wanted],  # type: ignore[union-attr]
                           [i for i in columns if parsed[i].group("title").strip() == wanted]):  # type: ignore[union-attr]
            if len(candidates) == 1:
                return candidates[0], header[candidates[0]]
            if len(candidates) > 1:
                titles = ", ".join(repr(header[index]) for index in candidates)
                raise GraderError(f"{gradebook.table.path}: {len(candidates)} assignment columns match "
                                  f"--canvas-assignment {wanted!r} ({titles}); Canvas tells them apart by "
                                  "the id in brackets, so pass the whole column title, e.g. "
                                  f"--canvas-assignment {header[candidates[0]].strip()!r}.")
        return None, wanted
    if len(columns) == 1:
        return columns[0], header[columns[0]]
    named = [index for index in columns if default_name.casefold() in header[index].casefold()]
    if len(named) == 1:
        return named[0], header[named[0]]
    if not columns:
        return None, default_name
    titles = ", ".join(repr(header[index]) for index in columns)
    raise GraderError(f"{gradebook.table.path}: {len(columns)} assignment columns ({titles}); choose the one "
                      "to fill with --canvas-assignment 'TITLE (ID)'.")

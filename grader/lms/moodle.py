"""Moodle's assignment files: the submissions download, the grading worksheet, the participants export.

"Download all submissions" puts each student's files in a folder named
``<Full Name>_<participant id>_assignsubmission_file`` (Moodle 4.1 and later) or
``<Full Name>_<participant id>_assignsubmission_file_`` (earlier), or, with "Download submissions in
folders" turned off, names each file ``<Full Name>_<participant id>_assignsubmission_file_<file>``.
Moodle replaces "_" in the name by a space, so the participant id is the second "_"-separated field;
Moodle's own feedback-zip importer reads the names the same way (``importziplib.php``,
``is_valid_filename_for_import``: the first path part whose second "_" field is the number of a participant).

With "Students submit in groups", Moodle 4.1 and later (``classes/downloader.php``, ``get_student_prefix``)
name one folder per group, ``<group name>_<group id>_assignsubmission_file``, and one
``Default group_assignsubmission_file`` (no number) for the one submission that Moodle keeps for everyone
in no group. The number is a group id, not a participant id. Earlier versions (``locallib.php``,
``download_submissions``) name one folder per member, ``<group name>-<Full Name>_<participant id>_...``.
The worksheet of such an assignment has a Group column with each participant's group name, or
"Default group".

The offline grading worksheet ("Download grading worksheet") has the columns Identifier
("Participant 12345", the same participant id), Full name, the identity fields (Email address...),
Status, Grade, Maximum Grade (or Scale), Grade can be changed, Last modified (submission),
Last modified (grade) and one column per feedback plugin ("Feedback comments"). Moodle's import matches
rows by Identifier and needs Grade and Last modified (grade); German sites use "ID", "Bewertung",
"Bestwertung", "Zuletzt geändert (Abgabe)", "Zuletzt geändert (Bewertung)", "Feedback als Kommentar".
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from grader.errors import GraderError
from grader.lms.csvfile import CsvTable, read_csv
from grader.lms.roster import MOODLE, Participant

#: Header names of the worksheet columns, in English and German.
COLUMNS = {
    "identifier": ("Identifier", "ID"),
    "full_name": ("Full name", "Vollständiger Name"),
    "email": ("Email address", "E-Mail-Adresse", "Email"),
    "status": ("Status",),
    "grade": ("Grade", "Bewertung"),
    "max_grade": ("Maximum Grade", "Maximum grade", "Bestwertung"),
    "scale": ("Scale", "Skala"),
    "can_change": ("Grade can be changed", "Bewertung kann geändert werden"),
    "submitted": ("Last modified (submission)", "Zuletzt geändert (Abgabe)"),
    "graded": ("Last modified (grade)", "Zuletzt geändert (Bewertung)"),
    "comments": ("Feedback comments", "Feedback als Kommentar"),
    "group": ("Group", "Gruppe"),
}
#: What the worksheet's Group column says for a participant in no group (Moodle's string "defaultteam");
#: in other languages the name of the download's folder without a number is taken.
DEFAULT_GROUP_NAMES = ("Default group", "Standardgruppe")
#: The LMS id of a group submission: ``group-<Moodle group id>``; the default group is ``group-0``.
GROUP_PREFIX = "group-"
PARTICIPANT_COLUMNS = {
    "first": ("First name", "Vorname"),
    "last": ("Last name", "Surname", "Nachname"),
    "email": ("Email address", "E-Mail-Adresse", "Email"),
}
#: The worksheet's Status (``gradingtable.php``, ``col_status``: the statuses joined by " - ") says the
#: latest attempt was reopened (``submissionstatus_reopened``) or the student has an extension
#: (``userextensiondate``, "Extension granted until: <date>"), in English and German.
REOPENED = ("Reopened", "Erneut geöffnet")
EXTENSION = ("Extension granted until", "Verlängertes Abgabeende bis")
GET_WORKSHEET = ("in Moodle open the assignment, then Submissions (View all submissions) and choose "
                 "'Download grading worksheet'")
GET_PARTICIPANTS = ("in Moodle open Participants, select all users and choose "
                    "'Download table data as Comma separated values (.csv)'")
NO_ANSWERS = ("no", "nein")

_SUBMISSION = re.compile(r"^(?P<name>[^_]*)_(?P<pid>\d+)_assignsubmission_(?P<plugin>[a-z]+)"
                         r"(?:_(?P<rest>.*))?$")
_DEFAULT_GROUP = re.compile(r"^(?P<name>[^_]*)_assignsubmission_(?P<plugin>[a-z]+)(?:_(?P<rest>.*))?$")
_PARTICIPANT_ID = re.compile(r"(\d+)\s*$")
_FILE_UNSAFE = re.compile(r"""[\x00-\x1f\x7f&<>"`|':\\/*?]""")


@dataclass(frozen=True)
class MoodleFile:
    """Where a file of the download belongs: participant, plugin, and its path inside the submission."""

    full_name: str
    participant_id: str
    plugin: str
    inner: tuple[str, ...]
    layout: str

    @property
    def submission(self) -> str:
        """The folder (or file prefix) the download gave this participant's submission."""
        number = f"_{self.participant_id}" if self.participant_id else ""
        return f"{self.full_name}{number}_assignsubmission_{self.plugin}"

    @property
    def default_group(self) -> bool:
        """Whether this is the "Default group" folder of a group assignment (it has no number)."""
        return not self.participant_id


def parse_submission_path(parts: tuple[str, ...]) -> MoodleFile | None:
    """The participant of a download path, from its first component named like Moodle's; None if none is."""
    for index, part in enumerate(parts):
        match = _SUBMISSION.match(part)
        found = match or _DEFAULT_GROUP.match(part)  # no number: the default group, in any language
        if found:
            rest = found.group("rest") or ""
            inner = ((rest,) if rest else ()) + parts[index + 1:]
            layout = "folder" if index < len(parts) - 1 else "flat"
            if inner:
                return MoodleFile(found.group("name"), found.group("pid") if match else "",
                                  found.group("plugin"), inner, layout)
    return None


def name_key(name: str) -> str:
    """A name as Moodle puts it into a download's folder names, compared without case and extra spaces.

    Moodle replaces "_" by a space and puts the name through ``clean_filename`` (``lib/moodlelib.php``,
    ``clean_param`` with PARAM_FILE: control characters and ``& < > " ` | ' : \\ /`` removed); ``* ?``
    are removed too, which only ever makes two names equal that Moodle also treats alike.
    """
    cleaned = _FILE_UNSAFE.sub("", name.replace("_", " "))
    return " ".join(cleaned.split()).casefold()


_AMPERSAND = re.compile(r"&(?![a-zA-Z0-9#]{1,8};)")
_TAG = re.compile(r"<(?!\s)[^>]*(?:>|$)")
_MULTILANG = re.compile(r"<span\b[^>]*\blang=[\"']?(?P<lang>[\w-]+)[^>]*>(?P<text>.*?)</span>"
                        r"|\{mlang\s+(?P<lang2>[\w-]+)\}(?P<text2>.*?)\{mlang\}", re.IGNORECASE | re.DOTALL)


def group_folder_keys(name: str) -> set[str]:
    """Every :func:`name_key` a Moodle download may give the folder of a group with this name.

    The worksheet's Group column holds the group's name as typed (``gradingtable.php``, ``col_team``:
    ``return $group->name``). The download (``classes/downloader.php``, ``get_student_prefix``) puts it
    through ``format_string`` first (``lib/classes/formatting.php``): ``&`` not starting an entity becomes
    ``&amp;``; with filters on, a multilang span is reduced to one language; with "Remove HTML tags from all
    activity names" (the default) tags are stripped and ``<`` ``>`` become ``&lt;`` ``&gt;``. Then
    ``clean_filename`` drops ``&<>`` and the rest of Moodle's unsafe characters: "R&D" gives "Ramp;D".
    (A download that named the folder without ``format_string`` gives :func:`name_key` of the plain name.)
    """
    escaped = _AMPERSAND.sub("&amp;", name)
    languages = {match.group("lang") or match.group("lang2") for match in _MULTILANG.finditer(escaped)}
    texts = [escaped] + [_MULTILANG.sub(lambda m, lang=lang: _in_language(m, lang), escaped)
                         for lang in languages]
    stripped = [_TAG.sub("", text).replace("<", "&lt;").replace(">", "&gt;") for text in texts]
    return {name_key(text) for text in [*texts, *stripped]}


def _in_language(match: re.Match[str], language: str) -> str:
    own = match.group("lang") or match.group("lang2")
    return (match.group("text") if match.group("lang") else match.group("text2")) if own == language else ""


def is_default_group(name: str) -> bool:
    """Whether a group name is Moodle's "Default group" (everyone in no group), in English or German."""
    return name_key(name) in {name_key(default) for default in DEFAULT_GROUP_NAMES}


def feedback_folder(full_name: str, participant_id: str) -> str:
    """The folder of a participant in a feedback zip for "Upload multiple feedback files in a zip"."""
    name = _FILE_UNSAFE.sub("", full_name.replace("_", " ")).strip() or "Participant"
    return f"{name}_{participant_id}_assignsubmission_file_"


@dataclass
class Worksheet:
    """A Moodle offline grading worksheet: the file as it is, its columns, and a participant per row."""

    table: CsvTable
    columns: dict[str, int | None]
    participants: list[Participant]

    def participant_id(self, row: list[str]) -> str:
        return _PARTICIPANT_ID.search(self.table.cell(row, self.columns["identifier"])).group(1)  # type: ignore[union-attr]


def read_worksheet(path: Path, require_grade: bool = False) -> Worksheet:
    """Read a grading worksheet; fails with one line if it is not one (or, if asked, has no Grade column)."""
    table = read_csv(path, "grading worksheet", f"{GET_WORKSHEET} and pass that file")
    columns = {key: table.column(*names) for key, names in COLUMNS.items()}
    if columns["identifier"] is None:
        raise GraderError(f"{path}: not a Moodle grading worksheet (no 'Identifier' column); "
                          f"{GET_WORKSHEET}.")
    if require_grade and columns["grade"] is None:
        raise GraderError(f"{path}: the worksheet has no 'Grade' column, so Moodle could not import grades "
                          "from it; set the assignment's Grade type to Point, then download the worksheet "
                          "again.")
    if require_grade and columns["max_grade"] is None and columns["scale"] is not None:
        raise GraderError(f"{path}: this assignment is graded with a scale, not points; set its Grade type "
                          "to Point in the assignment settings, then download the worksheet again.")
    participants, seen = [], {}
    for number, row in enumerate(table.rows, start=2):
        identifier = table.cell(row, columns["identifier"])
        match = _PARTICIPANT_ID.search(identifier)
        if not match:
            raise GraderError(f"{path}: line {number} has no participant number in its Identifier "
                              f"({identifier!r}); {GET_WORKSHEET} again and do not edit that column.")
        pid = match.group(1)
        if pid in seen:
            raise GraderError(f"{path}: lines {seen[pid]} and {number} are both for {identifier!r}; "
                              f"{GET_WORKSHEET} again.")
        seen[pid] = number
        email = table.cell(row, columns["email"]).strip() or None
        participants.append(Participant(
            MOODLE, pid, table.cell(row, columns["full_name"]).strip(), email=email,
            submitted_at=parse_date(table.cell(row, columns["submitted"])),
            status=table.cell(row, columns["status"]).strip(),
            group=table.cell(row, columns["group"]).strip() if columns["group"] is not None else None))
    return Worksheet(table, columns, participants)


def read_participants(path: Path) -> list[Participant]:
    """People of a Moodle participants export (first name, last name, email); no participant ids."""
    table = read_csv(path, "participants export", f"{GET_PARTICIPANTS} and pass that file")
    first, last = table.column(*PARTICIPANT_COLUMNS["first"]), table.column(*PARTICIPANT_COLUMNS["last"])
    email = table.column(*PARTICIPANT_COLUMNS["email"])
    if first is None or last is None:
        raise GraderError(f"{path}: not a Moodle participants export (no 'First name' and 'Last name' "
                          f"columns); {GET_PARTICIPANTS}.")
    people = []
    for row in table.rows:
        given, family = table.cell(row, first).strip(), table.cell(row, last).strip()
        people.append(Participant(MOODLE, "", f"{given} {family}".strip(), given, family,
                                  table.cell(row, email).strip() or None))
    return people


_MONTHS = {
    **{name: number for number, name in enumerate(
        ["january", "february", "march", "april", "may", "june", "july", "august", "september",
         "october", "november", "december"], start=1)},
    **{name: number for number, name in enumerate(
        ["januar", "februar", "märz", "april", "mai", "juni", "juli", "august", "september",
         "oktober", "november", "dezember"], start=1)},
    "maerz": 3, "jänner": 1, "sept": 9, "mär": 3, "okt": 10, "dez": 12,
}
_MONTHS.update({name[:3]: number for name, number in list(_MONTHS.items()) if len(name) > 3})
_DAY_MONTH = re.compile(r"(\d{1,2})\.?\s+([^\W\d_]+)\.?,?\s+(\d{4})\D+?(\d{1,2})[:.](\d{2})(?::(\d{2}))?"
                        r"\s*([AaPp])?\.?\s*[Mm]?\.?")
_MONTH_DAY = re.compile(r"([^\W\d_]+)\.?\s+(\d{1,2}),?\s+(\d{4})\D+?(\d{1,2}):(\d{2})(?::(\d{2}))?"
                        r"\s*([AaPp])?")
_ISO = re.compile(r"(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2})(?::(\d{2}))?")


def parse_date(text: str) -> datetime | None:
    """A date as Moodle prints it ("Monday, 15 January 2024, 2:30 PM", "Montag, 15. Januar 2024, 14:30",
    "January 15, 2024, 2:30 PM" or ISO), as a naive local time; None for "-" or anything else."""
    text = text.strip()
    if (match := _ISO.search(text)) is not None:
        year, month, day, hour, minute, second = match.groups()
        return _datetime(year, month, day, hour, minute, second, None)
    if (match := _DAY_MONTH.search(text)) is not None and match.group(2).casefold() in _MONTHS:
        day, month, year, hour, minute, second, half = match.groups()
        return _datetime(year, _MONTHS[month.casefold()], day, hour, minute, second, half)
    if (match := _MONTH_DAY.search(text)) is not None and match.group(1).casefold() in _MONTHS:
        month, day, year, hour, minute, second, half = match.groups()
        return _datetime(year, _MONTHS[month.casefold()], day, hour, minute, second, half)
    return None


def _datetime(year: str | int, month: str | int, day: str | int, hour: str, minute: str,
              second: str | None, half: str | None) -> datetime | None:
    hours = int(hour)
    if half:
        hours = hours % 12 + (12 if half.lower() == "p" else 0)
    try:
        return datetime(int(year), int(month), int(day), hours, int(minute), int(second or 0))
    except ValueError:
        return None

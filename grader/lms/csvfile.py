"""CSV files from an LMS, read and written back in their own format (encoding, BOM, separator, line endings).

Moodle's "Upload grading worksheet" form (``mod/assign/feedback/offline/uploadgradesform.php``) lets the
instructor choose the file's Encoding and its Separator (Tab, Comma, Colon, Semicolon); a worksheet that a
spreadsheet program saved (Excel on a German Windows: Windows-1252 with ";") is therefore read as it is
and written back the same way, and the instructor chooses the same in the form. Recognised:

- encoding: UTF-8 (with or without byte order mark), UTF-16 with a byte order mark (Excel's "Unicode
  text"; written back as UTF-8 with a byte order mark), else Windows-1252 (ISO-8859-1 where Windows-1252
  leaves a byte undefined);
- separator: the one of comma, semicolon, colon and tab found most often outside quotes in the header.

Canvas's gradebook import has no such form: it reads UTF-8 with "," or ";" only, so the Canvas import file
is written that way whatever its export was saved as (:mod:`grader.lms.canvas_import`).
"""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from grader.errors import GraderError
from grader.files import write_atomically  # noqa: F401 - the LMS modules write through it


@dataclass
class CsvTable:
    """A CSV file as a header and rows of strings, plus what it takes to write it back the same way."""

    path: Path
    header: list[str]
    rows: list[list[str]]
    bom: bool = False
    delimiter: str = ","
    newline: str = "\n"
    encoding: str = "utf-8"

    @property
    def written_encoding(self) -> str:
        """The encoding a filled copy is written in: the file's own; UTF-8 for UTF-16 (Moodle's Encoding
        menu may not offer UTF-16, and every LMS reads UTF-8)."""
        return "utf-8" if self.encoding == "utf-16" else self.encoding

    @property
    def moodle_encoding(self) -> str:
        """The name of the filled copy's encoding in Moodle's upload form."""
        return MOODLE_ENCODINGS.get(self.written_encoding, self.written_encoding.upper())

    @property
    def separator_name(self) -> str:
        """The separator as Moodle's upload form names it."""
        return SEPARATOR_NAMES[self.delimiter]

    def column(self, *names: str) -> int | None:
        """The index of the first header cell equal to one of `names` (ignoring case and outer spaces)."""
        wanted = {name.casefold() for name in names}
        for index, cell in enumerate(self.header):
            if cell.strip().casefold() in wanted:
                return index
        return None

    def cell(self, row: list[str], index: int | None) -> str:
        """The cell of `row` at `index` ("" if the row is short or the column absent)."""
        if index is None or index >= len(row):
            return ""
        return row[index]


#: Separators Moodle's upload form offers, with the names it gives them.
SEPARATOR_NAMES = {",": "Comma", ";": "Semicolon", ":": "Colon", "\t": "Tab"}
#: Python's names of the encodings read, with the names in Moodle's Encoding menu.
MOODLE_ENCODINGS = {"utf-8": "UTF-8", "cp1252": "WINDOWS-1252", "latin-1": "ISO-8859-1"}
#: Largest CSV file read (a worksheet of a few thousand students is well below 10 MiB).
MAX_CSV_BYTES = 64 * 1024 * 1024


def _decode(raw: bytes) -> tuple[str, str, bool]:
    """(text, encoding, byte order mark) of a CSV file's bytes."""
    if raw.startswith(codecs.BOM_UTF8):
        return raw[len(codecs.BOM_UTF8):].decode("utf-8"), "utf-8", True
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return raw.decode("utf-16"), "utf-16", True
    try:
        return raw.decode("utf-8"), "utf-8", False
    except UnicodeDecodeError:
        pass
    try:
        return raw.decode("cp1252"), "cp1252", False
    except UnicodeDecodeError:
        return raw.decode("latin-1"), "latin-1", False


def read_csv(path: Path, what: str, how_to_get: str) -> CsvTable:
    """Read a CSV file exported by an LMS; `what` names it and `how_to_get` says where it comes from."""
    if not path.is_file():
        raise GraderError(f"{path}: file not found; {how_to_get}.")
    if path.stat().st_size > MAX_CSV_BYTES:
        raise GraderError(f"{path}: the {what} is larger than {MAX_CSV_BYTES // 2**20} MiB; {how_to_get}.")
    try:
        text, encoding, bom = _decode(path.read_bytes())
    except UnicodeDecodeError:
        raise GraderError(f"{path}: the {what} is damaged UTF-16 text; {how_to_get} and use it as "
                          "downloaded.") from None
    if "\x00" in text:
        raise GraderError(f"{path}: the {what} is not a text file; {how_to_get} and pass that file.")
    if not text.strip():
        raise GraderError(f"{path}: the {what} is empty; {how_to_get}.")
    newline = "\r\n" if "\r\n" in text else "\n"
    delimiter = _delimiter(text.splitlines()[0])
    try:
        rows = [row for row in csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)]
    except csv.Error as error:
        raise GraderError(f"{path}: the {what} is not valid CSV ({error}); {how_to_get}.") from None
    header, body = rows[0], [row for row in rows[1:] if any(cell.strip() for cell in row)]
    return CsvTable(path, header, body, bom, delimiter, newline, encoding)


def _delimiter(first_line: str) -> str:
    counts = {sep: _count_outside_quotes(first_line, sep) for sep in SEPARATOR_NAMES}
    best = max(counts, key=lambda sep: counts[sep])
    return best if counts[best] else ","


def _count_outside_quotes(line: str, sep: str) -> int:
    count, quoted = 0, False
    for char in line:
        if char == '"':
            quoted = not quoted
        elif char == sep and not quoted:
            count += 1
    return count


def csv_bytes(header: list[str], rows: Iterable[list[str]], *, bom: bool = False, delimiter: str = ",",
              newline: str = "\n", encoding: str = "utf-8") -> bytes:
    """A CSV file's bytes (every field quoted where needed: separators, quotes, line breaks)."""
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator=newline, quoting=csv.QUOTE_MINIMAL)
    writer.writerow(header)
    writer.writerows(rows)
    text = buffer.getvalue()
    return (codecs.BOM_UTF8 if bom and encoding == "utf-8" else b"") + text.encode(encoding, "replace")


def table_bytes(table: CsvTable, header: list[str], rows: Iterable[list[str]]) -> bytes:
    """New content for an LMS file, in that file's own encoding, separator and line endings."""
    return csv_bytes(header, rows, bom=table.bom, delimiter=table.delimiter, newline=table.newline,
                     encoding=table.written_encoding)


#: First characters that make a spreadsheet program run a cell as a formula (CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralize(cell: str) -> str:
    """A text cell that a spreadsheet shows as text: one starting like a formula gets a leading "'"."""
    return f"'{cell}" if cell.startswith(FORMULA_STARTS) else cell


def check_writable(targets: Iterable[Path], sources: Iterable[Path], force: bool) -> None:
    """Refuse to overwrite an existing output without --force, or to write over an input file ever."""
    inputs = {source.resolve() for source in sources}
    for target in targets:
        if target.resolve() in inputs:
            raise GraderError(f"{target}: this is an input file and is never overwritten; "
                              "choose another output folder.")
        if target.exists() and not force:
            raise GraderError(f"{target}: already exists; pass --force to overwrite it.")

"""CSV files from an LMS, read and written back in their own format (BOM, delimiter, line endings)."""

from __future__ import annotations

import codecs
import csv
import io
import os
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from grader.errors import GraderError


@dataclass
class CsvTable:
    """A CSV file as a header and rows of strings, plus what it takes to write it back the same way."""

    path: Path
    header: list[str]
    rows: list[list[str]]
    bom: bool = False
    delimiter: str = ","
    newline: str = "\n"

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


def read_csv(path: Path, what: str, how_to_get: str) -> CsvTable:
    """Read a CSV file exported by an LMS; `what` names it and `how_to_get` says where it comes from."""
    if not path.is_file():
        raise GraderError(f"{path}: file not found; {how_to_get}.")
    raw = path.read_bytes()
    bom = raw.startswith(codecs.BOM_UTF8)
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise GraderError(f"{path}: the {what} is not UTF-8 text (was it saved by a spreadsheet program?); "
                          f"{how_to_get} and use it as downloaded, or save it as 'CSV UTF-8'.") from None
    if not text.strip():
        raise GraderError(f"{path}: the {what} is empty; {how_to_get}.")
    newline = "\r\n" if "\r\n" in text else "\n"
    delimiter = _delimiter(text.splitlines()[0])
    try:
        rows = [row for row in csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)]
    except csv.Error as error:
        raise GraderError(f"{path}: the {what} is not valid CSV ({error}); {how_to_get}.") from None
    header, body = rows[0], [row for row in rows[1:] if any(cell.strip() for cell in row)]
    return CsvTable(path, header, body, bom, delimiter, newline)


def _delimiter(first_line: str) -> str:
    counts = {sep: _count_outside_quotes(first_line, sep) for sep in (",", ";", "\t")}
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
              newline: str = "\n") -> bytes:
    """A CSV file's bytes (UTF-8, every field quoted where needed: commas, quotes, line breaks)."""
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator=newline, quoting=csv.QUOTE_MINIMAL)
    writer.writerow(header)
    writer.writerows(rows)
    return (codecs.BOM_UTF8 if bom else b"") + buffer.getvalue().encode("utf-8")


def write_atomically(path: Path, data: bytes) -> None:
    """Write bytes to a new file beside `path`, then move it into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def check_writable(targets: Iterable[Path], sources: Iterable[Path], force: bool) -> None:
    """Refuse to overwrite an existing output without --force, or to write over an input file ever."""
    inputs = {source.resolve() for source in sources}
    for target in targets:
        if target.resolve() in inputs:
            raise GraderError(f"{target}: this is an input file and is never overwritten; "
                              "choose another output folder.")
        if target.exists() and not force:
            raise GraderError(f"{target}: already exists; pass --force to overwrite it.")

"""Reading an LMS download zip: every file in it, nested zips opened, operating-system litter left out."""

from __future__ import annotations

import contextlib
import io
import zipfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path, PurePosixPath

from grader.errors import GraderError

#: Files and folders that operating systems and editors add to archives; never student work.
JUNK_NAMES = frozenset({".DS_Store", "Thumbs.db", "desktop.ini", "__MACOSX", ".ipynb_checkpoints",
                        "__pycache__"})
#: How deep zips inside zips are opened (a student's zip inside the LMS download is depth 1).
MAX_DEPTH = 3
#: Larger members are not read (a notebook with outputs is a few MiB; this guards against zip bombs).
MAX_MEMBER_BYTES = 256 * 1024 * 1024


@dataclass(frozen=True)
class ArchiveFile:
    """One file of the download, possibly from a zip inside it.

    `parts` is its path, folders first; a file from a nested zip has the nested zip's own path before
    the path inside it. `modified` is the date the LMS gave the outermost entry (never a date from
    inside a student's own zip, which the student's computer wrote).
    """

    parts: tuple[str, ...]
    data: bytes
    modified: datetime | None
    problem: str | None = None

    @property
    def name(self) -> str:
        return self.parts[-1]

    @property
    def where(self) -> str:
        return "/".join(self.parts)


def is_junk(parts: tuple[str, ...]) -> bool:
    """Whether a path is operating-system litter (__MACOSX, .DS_Store, AppleDouble '._' files...)."""
    return any(part in JUNK_NAMES for part in parts) or parts[-1].startswith(("._", "~$"))


def read_download(path: Path) -> list[ArchiveFile]:
    """Every file of an LMS download zip, with nested zips opened; fails with one line if the zip is bad."""
    if not path.is_file():
        raise GraderError(f"{path}: file not found; pass the zip you downloaded from the LMS.")
    try:
        with zipfile.ZipFile(path) as archive:
            broken = archive.testzip()
            if broken is not None:
                raise GraderError(f"{path}: damaged zip (member {broken!r} fails its checksum); "
                                  "download the submissions from the LMS again.")
            return _members(archive, (), None, depth=0)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError, ValueError) as error:
        raise GraderError(f"{path}: not a readable zip file ({error}); download the submissions from the LMS "
                          "again and pass the .zip file as it was downloaded.") from None


def _members(archive: zipfile.ZipFile, prefix: tuple[str, ...], outer_date: datetime | None,
             depth: int) -> list[ArchiveFile]:
    files: list[ArchiveFile] = []
    for info in archive.infolist():
        if info.is_dir():
            continue
        parts = prefix + _parts(info)
        if not parts or is_junk(parts):
            continue
        date = outer_date if depth else _date(info)
        if info.file_size > MAX_MEMBER_BYTES:
            too_big = f"larger than {MAX_MEMBER_BYTES // 2**20} MiB; not read"
            files.append(ArchiveFile(parts, b"", date, too_big))
            continue
        data = archive.read(info)
        if parts[-1].lower().endswith(".zip"):
            files += _nested(parts, data, date, depth)
        else:
            files.append(ArchiveFile(parts, data, date))
    return files


def _nested(parts: tuple[str, ...], data: bytes, date: datetime | None, depth: int) -> list[ArchiveFile]:
    if depth + 1 > MAX_DEPTH:
        return [ArchiveFile(parts, data, date, f"zips nested more than {MAX_DEPTH} deep are not opened")]
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as inner:
            if inner.testzip() is not None:
                return [ArchiveFile(parts, data, date, "damaged zip (a member fails its checksum)")]
            return _members(inner, parts, date, depth + 1)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, ValueError, NotImplementedError) as error:
        return [ArchiveFile(parts, data, date, f"not a readable zip ({error})")]


def _parts(info: zipfile.ZipInfo) -> tuple[str, ...]:
    """The member's path components, with names from tools that did not flag UTF-8 decoded as UTF-8."""
    name = info.filename
    if not info.flag_bits & 0x800:
        with contextlib.suppress(UnicodeEncodeError, UnicodeDecodeError):
            name = name.encode("cp437").decode("utf-8")
    name = name.replace("\\", "/")
    return tuple(part for part in PurePosixPath(name).parts if part not in ("", ".", "..", "/"))


def _date(info: zipfile.ZipInfo) -> datetime | None:
    try:
        return datetime(*info.date_time)
    except ValueError:
        return None

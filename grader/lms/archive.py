"""Reading an LMS download zip: its notebooks and zips, nested zips opened, operating-system litter left out.

The download is read in a bounded way, whatever a student put into it:

- only members that can matter are decompressed: notebooks (``.ipynb``) and zips; every other member is
  listed by name (so that collect can report it) but never read;
- every member is read in chunks into a file in a temporary folder, never whole into memory;
- a notebook larger than :data:`MAX_MEMBER_BYTES` is not kept (reported as a problem of that student);
- all members read, nested zips included, may decompress to at most :data:`MAX_TOTAL_BYTES` together;
  beyond that collect stops with one line (a zip bomb, or not a submissions download).

Sizes are counted while decompressing, never taken from the zip's own headers, which a student can forge.
"""

from __future__ import annotations

import contextlib
import hashlib
import shutil
import tempfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path, PurePosixPath

from grader.errors import GraderError

#: Files and folders that operating systems and editors add to archives; never student work.
JUNK_NAMES = frozenset({".DS_Store", "Thumbs.db", "desktop.ini", "__MACOSX", ".ipynb_checkpoints",
                        "__pycache__"})
#: How deep zips inside zips are opened (a student's zip inside the LMS download is depth 1).
MAX_DEPTH = 3
#: A notebook larger than this is not read (one with all its outputs is a few MiB).
MAX_MEMBER_BYTES = 32 * 1024 * 1024
#: All notebooks and zips of one download together decompress to at most this many bytes.
MAX_TOTAL_BYTES = 1024 * 1024 * 1024
#: Members whose content is read; everything else is only listed.
READ_SUFFIXES = (".ipynb", ".zip")
_CHUNK = 1024 * 1024


@dataclass(frozen=True)
class ArchiveFile:
    """One file of the download, possibly from a zip inside it.

    `parts` is its path, folders first; a file from a nested zip has the nested zip's own path before
    the path inside it. `modified` is the date the LMS gave the outermost entry (never a date from
    inside a student's own zip, which the student's computer wrote). `stored` is where its content was
    put (notebooks only; None for files that were only listed or could not be read).
    """

    parts: tuple[str, ...]
    stored: Path | None
    modified: datetime | None
    problem: str | None = None

    @property
    def name(self) -> str:
        return self.parts[-1]

    @property
    def where(self) -> str:
        return "/".join(self.parts)

    @property
    def data(self) -> bytes:
        """The file's content (empty for a file that was only listed)."""
        return self.stored.read_bytes() if self.stored is not None else b""

    def digest(self) -> bytes:
        """SHA-256 of the content, read in chunks."""
        digest = hashlib.sha256()
        if self.stored is not None:
            with self.stored.open("rb") as stream:
                for chunk in iter(lambda: stream.read(_CHUNK), b""):
                    digest.update(chunk)
        return digest.digest()


def is_junk(parts: tuple[str, ...]) -> bool:
    """Whether a path is operating-system litter (__MACOSX, .DS_Store, AppleDouble '._' files...)."""
    return any(part in JUNK_NAMES for part in parts) or parts[-1].startswith(("._", "~$"))


class _TooLarge(Exception):
    """The whole download decompresses to more than the budget."""


@dataclass
class _Reader:
    path: Path
    folder: Path
    budget: int
    used: int = 0
    counter: int = 0
    files: list[ArchiveFile] = field(default_factory=list)

    def copy(self, archive: zipfile.ZipFile, info: zipfile.ZipInfo, limit: int) -> tuple[Path | None, bool]:
        """Decompress a member into a new file; (path, True) or (None, False) when it exceeds `limit`."""
        self.counter += 1
        target = self.folder / f"{self.counter}.bin"
        written = 0
        with archive.open(info) as source, target.open("wb") as sink:
            for chunk in iter(lambda: source.read(_CHUNK), b""):
                written += len(chunk)
                self.used += len(chunk)
                if self.used > self.budget:
                    raise _TooLarge
                if written > limit:
                    sink.close()
                    target.unlink()
                    return None, False
                sink.write(chunk)
        return target, True


@contextlib.contextmanager
def open_download(path: Path, budget: int = MAX_TOTAL_BYTES) -> Iterator[list[ArchiveFile]]:
    """Every file of an LMS download zip, nested zips opened; the notebooks' content lives until exit.

    Fails with one line if the zip is bad or decompresses to more than `budget` bytes.
    """
    if not path.is_file():
        raise GraderError(f"{path}: file not found; pass the zip you downloaded from the LMS.")
    folder = Path(tempfile.mkdtemp(prefix="grader-collect-"))
    try:
        reader = _Reader(path, folder, budget)
        try:
            with zipfile.ZipFile(path) as archive:
                _members(reader, archive, (), None, depth=0)
        except _TooLarge:
            raise GraderError(f"{path}: its notebooks and zips decompress to more than {budget // 2**20} "
                              "MiB (a zip bomb, or not a submissions download); download the submissions "
                              "from the LMS again, or remove the oversized student zip from the "
                              "download.") from None
        except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError, ValueError,
                NotImplementedError) as error:
            raise GraderError(f"{path}: not a readable zip file ({printable(str(error))}); download the "
                              "submissions from the LMS again and pass the .zip file as it was "
                              "downloaded.") from None
        yield reader.files
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _members(reader: _Reader, archive: zipfile.ZipFile, prefix: tuple[str, ...], outer_date: datetime | None,
             depth: int) -> None:
    for info in archive.infolist():
        if info.is_dir():
            continue
        parts = prefix + _parts(info)
        if not parts or is_junk(parts):
            continue
        date = outer_date if depth else _date(info)
        suffix = parts[-1].lower()
        if not suffix.endswith(READ_SUFFIXES):
            reader.files.append(ArchiveFile(parts, None, date))
            continue
        is_zip = suffix.endswith(".zip")
        if is_zip and depth + 1 > MAX_DEPTH:
            reader.files.append(ArchiveFile(parts, None, date,
                                            f"zips nested more than {MAX_DEPTH} deep are not opened"))
            continue
        stored, complete = _read_member(reader, archive, info, parts, depth, is_zip)
        if stored is None:
            if not complete:
                reader.files.append(ArchiveFile(parts, None, date, f"larger than "
                                                f"{MAX_MEMBER_BYTES // 2**20} MiB; not read"))
            continue
        if is_zip:
            _nested(reader, parts, stored, date, depth)
        else:
            reader.files.append(ArchiveFile(parts, stored, date))


def _read_member(reader: _Reader, archive: zipfile.ZipFile, info: zipfile.ZipInfo, parts: tuple[str, ...],
                 depth: int, is_zip: bool) -> tuple[Path | None, bool]:
    """Decompress one member; a damaged member of the download itself stops collect."""
    limit = reader.budget if is_zip else MAX_MEMBER_BYTES
    try:
        return reader.copy(archive, info, limit)
    except (zipfile.BadZipFile, EOFError, NotImplementedError, RuntimeError, ValueError, OSError) as error:
        if depth == 0:
            raise GraderError(f"{reader.path}: damaged zip (member {printable(info.filename)!r} fails its "
                              "checksum or cannot be read); download the submissions from the LMS "
                              "again.") from None
        reader.files.append(ArchiveFile(parts, None, None, f"damaged zip ({printable(str(error))})"))
        return None, True


def _nested(reader: _Reader, parts: tuple[str, ...], stored: Path, date: datetime | None, depth: int) -> None:
    try:
        with zipfile.ZipFile(stored) as inner:
            _members(reader, inner, parts, date, depth + 1)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, ValueError, NotImplementedError) as error:
        reader.files.append(ArchiveFile(parts, None, date, f"not a readable zip ({printable(str(error))})"))
    finally:
        stored.unlink(missing_ok=True)


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


def printable(text: str) -> str:
    """Text safe to print on a terminal: control characters (escape sequences, line breaks) become '?'."""
    return "".join(char if char.isprintable() else "?" for char in text)

"""Reading, inspecting and filling nbgrader notebooks."""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import nbformat
from nbformat import NotebookNode

from grader.errors import GraderError
from grader.files import write_text_atomically

SOLUTION_DELIMITERS = ("### BEGIN SOLUTION", "### END SOLUTION")
HIDDEN_DELIMITERS = ("### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS")


def read_notebook(path: Path) -> NotebookNode:
    """Read a notebook, or fail with one line that names the file and what to do."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise GraderError(f"{path}: file not found.") from None
    except OSError as error:
        raise GraderError(f"{path}: cannot be read ({error.strerror}).") from None
    return parse_notebook(data, path)


def parse_notebook(data: bytes, path: Path) -> NotebookNode:
    """A notebook from its bytes; text that cannot be saved again (lone surrogates) becomes U+FFFD."""
    try:
        notebook = nbformat.reads(data.decode("utf-8"), as_version=4)
    except (json.JSONDecodeError, UnicodeDecodeError, nbformat.reader.NotJSONError) as error:
        raise GraderError(f"{path}: not a readable notebook ({_first_line(error)}); "
                          "open it in Jupyter and save it again, or ask for a new copy.") from None
    except RecursionError:
        raise GraderError(f"{path}: not a valid notebook (nested too deeply).") from None
    except Exception as error:
        raise GraderError(f"{path}: not a valid notebook ({_first_line(error)}).") from None
    return _without_lone_surrogates(notebook)


def _without_lone_surrogates(value):
    if isinstance(value, str):
        if not _has_surrogate(value):
            return value
        return value.encode("utf-8", "surrogatepass").decode("utf-8", "replace")
    if isinstance(value, list):
        return type(value)(_without_lone_surrogates(item) for item in value)
    if isinstance(value, dict):
        for key in list(value):
            value[key] = _without_lone_surrogates(value[key])
    return value


def _has_surrogate(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def read_submission(path: Path, below: Path | None = None) -> bytes:
    """A submitted file's bytes, read only if it is a regular file reached without symbolic links.

    A link in a submission (planted by an rsync or tar collection, or a student's upload) could
    point at the instructor's solutions or at a classmate's work; `below` is the folder under which
    no part of the path may be a link (the submissions folder).
    """
    for part in _parts_below(path, below):
        if part.is_symlink():
            raise GraderError(f"{path}: {part.name} is a symbolic link, not a file or folder of the "
                              "submission; grading reads only regular files: replace it with the "
                              "notebook itself.")
    try:
        handle = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | getattr(os, "O_NONBLOCK", 0))
    except OSError as error:
        if os.path.islink(path):
            raise GraderError(f"{path}: is a symbolic link, not a notebook; grading reads only regular "
                              "files: replace it with the notebook itself.") from None
        raise GraderError(f"{path}: cannot be read ({error.strerror}).") from None
    with os.fdopen(handle, "rb") as stream:
        if not stat.S_ISREG(os.fstat(stream.fileno()).st_mode):
            raise GraderError(f"{path}: is not a regular file (a device, pipe or folder); grading reads only "
                              "notebook files: replace it with the notebook itself.")
        return stream.read()


def _parts_below(path: Path, below: Path | None) -> list[Path]:
    if below is None:
        return []
    try:
        relative = path.relative_to(below)
    except ValueError:
        return []
    return [below.joinpath(*relative.parts[:count]) for count in range(1, len(relative.parts) + 1)]


def write_notebook(notebook: NotebookNode, path: Path) -> None:
    """Write a notebook in the standard format, atomically (a read-only old file is replaced)."""
    write_text_atomically(path, nbformat.writes(_without_lone_surrogates(notebook)) + "\n")


def _first_line(error: Exception) -> str:
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__


def nbgrader_meta(cell: NotebookNode) -> dict:
    """The cell's nbgrader metadata, or an empty dict."""
    return cell.get("metadata", {}).get("nbgrader", {}) or {}


def is_solution(cell: NotebookNode) -> bool:
    """Whether the cell is one a student fills (an autograded answer)."""
    return cell.cell_type == "code" and bool(nbgrader_meta(cell).get("solution"))


def is_test(cell: NotebookNode) -> bool:
    """Whether the cell is an autograder test cell worth points."""
    meta = nbgrader_meta(cell)
    return cell.cell_type == "code" and bool(meta.get("grade")) and not meta.get("solution")


def graded_cells(notebook: NotebookNode) -> Iterator[tuple[str, NotebookNode]]:
    """(grade_id, cell) of every cell with nbgrader metadata."""
    for cell in notebook.cells:
        grade_id = nbgrader_meta(cell).get("grade_id")
        if grade_id:
            yield grade_id, cell


def strip_delimiters(source: str, delimiters: tuple[str, str] = SOLUTION_DELIMITERS) -> str:
    """The source without its delimiter lines (what a student who solved the cell would have)."""
    lines = [line for line in source.splitlines() if line.strip() not in delimiters]
    return "\n".join(lines)


def visible_part(source: str) -> str:
    """A test cell as the release shows it: without the lines of its hidden regions."""
    lines, hidden = [], False
    for line in source.splitlines():
        if line.strip() == HIDDEN_DELIMITERS[0]:
            hidden = True
        elif line.strip() == HIDDEN_DELIMITERS[1]:
            hidden = False
        elif not hidden:
            lines.append(line)
    return "\n".join(lines)


def solutions(source_notebook: NotebookNode) -> dict[str, str]:
    """The instructor's solution code of each solution cell, by grade_id."""
    return {grade_id: strip_delimiters(cell.source)
            for grade_id, cell in graded_cells(source_notebook) if is_solution(cell)}


def fill(release_notebook: NotebookNode, code: dict[str, str]) -> NotebookNode:
    """A copy of a student notebook with these solution cells filled in (as a student would)."""
    filled = nbformat.from_dict(json.loads(json.dumps(release_notebook)))
    known = {grade_id for grade_id, cell in graded_cells(filled) if is_solution(cell)}
    unknown = set(code) - known
    if unknown:
        raise GraderError(f"no solution cell with grade_id {', '.join(sorted(unknown))} in this notebook.")
    for grade_id, cell in graded_cells(filled):
        if grade_id in code:
            cell.source = code[grade_id]
    return filled

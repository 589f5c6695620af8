"""Reading, inspecting and filling nbgrader notebooks."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import nbformat
from nbformat import NotebookNode

from grader.errors import GraderError

SOLUTION_DELIMITERS = ("### BEGIN SOLUTION", "### END SOLUTION")
HIDDEN_DELIMITERS = ("### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS")


def read_notebook(path: Path) -> NotebookNode:
    """Read a notebook, or fail with one line that names the file and what to do."""
    try:
        notebook = nbformat.read(str(path), as_version=4)
    except FileNotFoundError:
        raise GraderError(f"{path}: file not found.") from None
    except (json.JSONDecodeError, UnicodeDecodeError, nbformat.reader.NotJSONError) as error:
        raise GraderError(f"{path}: not a readable notebook ({_first_line(error)}); "
                          "open it in Jupyter and save it again, or ask for a new copy.") from None
    except Exception as error:
        raise GraderError(f"{path}: not a valid notebook ({_first_line(error)}).") from None
    return notebook


def write_notebook(notebook: NotebookNode, path: Path) -> None:
    """Write a notebook in the standard format."""
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook, str(path))


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

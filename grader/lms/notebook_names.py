"""Which assignment notebook an uploaded file is, even when the student renamed or duplicated it.

The most robust signal is the notebook's content: every graded cell carries nbgrader metadata with a
grade_id, and grade ids are unique across the assignment (`grader lint` checks this). A file whose cells
carry grade ids of exactly one assignment notebook is that notebook, whatever its name. A file without
usable metadata (not valid JSON, or cells pasted into a new notebook) is recognised by its name once the
usual decorations of copies are taken off: "Kopie von ...", "Copy of ...", "... (1)", "...-1",
"... - Kopie", "... copy", "... 2".
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from grader.course import Course

_PREFIX = re.compile(r"(kopie\s+von|copy\s+of|kopie_von|copy_of)[\s_]+", re.IGNORECASE)
# A copy decoration at the end of a name, read backwards: matched only where the name ends. (A pattern
# anchored with `$` is tried from every position, and `\s*` then rescans a long run of spaces from each:
# quadratic time in the run's length.) Written backwards: " - Kopie (2)", " (1)", " copy", "-1", " 2".
_SUFFIX_BACKWARDS = re.compile(
    r"(?:\)\d+\(\s*)?(?:eipok|ypoc)\s*-\s*|\)\d+\(\s*|(?:eipok|ypoc)[\s_]|\d+-|\d+\s+", re.IGNORECASE)
_NUMBER = re.compile(r"^\d+[\s_-]*")


@dataclass(frozen=True)
class Identified:
    """What a file was recognised as: the notebook (or None) and how."""

    notebook: str | None
    by_content: str | None
    by_name: str | None
    readable: bool

    def note(self, filename: str) -> str | None:
        """A sentence for the instructor when the file was not simply named right; None if it was."""
        if self.notebook is None:
            return None
        if self.by_content and self.by_name and self.by_content != self.by_name:
            return (f"{filename!r} holds the cells of {self.by_content}, not of {self.by_name}; "
                    f"collected as {self.by_content}.ipynb")
        if filename == f"{self.notebook}.ipynb":
            return None
        how = "by its graded cells" if self.by_content else "by its name"
        return f"{filename!r} collected as {self.notebook}.ipynb (recognised {how})"


class NotebookMatcher:
    """Recognises the assignment's notebooks by their grade ids and by their names."""

    def __init__(self, course: Course, assignment: str) -> None:
        self.names = course.notebook_names(assignment)
        self._owner: dict[str, str] = {}
        for name in self.names:
            released = course.folder("release", assignment) / f"{name}.ipynb"
            path = released if released.exists() else course.folder("source", assignment) / f"{name}.ipynb"
            for grade_id in _grade_ids(path.read_bytes()) or set():
                self._owner[grade_id] = name

    def identify(self, filename: str, data: bytes) -> Identified:
        """Recognise an uploaded .ipynb file by its content, else by its name."""
        ids = _grade_ids(data)
        owners = {self._owner[grade_id] for grade_id in ids or () if grade_id in self._owner}
        by_name = self.by_name(filename)
        by_content = next(iter(owners)) if len(owners) == 1 else None
        if len(owners) > 1 and by_name in owners:
            by_content = by_name
        return Identified(by_content or (by_name if len(owners) <= 1 else None), by_content, by_name,
                          ids is not None)

    def by_name(self, filename: str) -> str | None:
        """The notebook a file name stands for, once copy decorations are taken off; None if unclear."""
        stem = Path(filename).name
        if stem.lower().endswith(".ipynb"):
            stem = stem[: -len(".ipynb")]
        normal = normalize(stem)
        exact = [name for name in self.names if name.casefold() == normal]
        if exact:
            return exact[0]
        loose = [name for name in self.names if _NUMBER.sub("", name.casefold()) == _NUMBER.sub("", normal)]
        return loose[0] if len(loose) == 1 else None


def normalize(stem: str) -> str:
    """A file name stem without copy decorations, lower case, with '_' for spaces and dashes."""
    backwards = stem[::-1]
    start, end = _trimmed(stem, 0, len(stem))
    while True:  # each round reads only the characters it takes off: linear in the name's length
        prefix = _PREFIX.match(stem, start, end)
        first = prefix.end() if prefix else start
        suffix = _SUFFIX_BACKWARDS.match(backwards, len(stem) - end, len(stem) - first)
        last = end - len(suffix.group()) if suffix else end
        first, last = _trimmed(stem, first, last)
        if (first, last) == (start, end) or first >= last:
            break
        start, end = first, last
    return re.sub(r"[\s-]+", "_", stem[start:end]).casefold()


def _trimmed(text: str, start: int, end: int) -> tuple[int, int]:
    """start and end moved past the whitespace at both ends of text[start:end]."""
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def _grade_ids(data: bytes) -> set[str] | None:
    """The grade ids of a notebook's cells; None if the bytes are not a notebook."""
    try:
        notebook = json.loads(data.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        return None
    if not isinstance(notebook, dict):
        return None
    cells = notebook.get("cells")
    if cells is None:
        worksheets = notebook.get("worksheets") or [{}]
        cells = worksheets[0].get("cells") if isinstance(worksheets[0], dict) else None
    if not isinstance(cells, list):
        return None
    ids = set()
    for cell in cells:
        meta = cell.get("metadata", {}) if isinstance(cell, dict) else {}
        nbgrader = meta.get("nbgrader") if isinstance(meta, dict) else None
        if isinstance(nbgrader, dict) and isinstance(nbgrader.get("grade_id"), str):
            ids.add(nbgrader["grade_id"])
    return ids

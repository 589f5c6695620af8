"""nbgrader preprocessors of this course, chosen in nbgrader_config.py."""

from __future__ import annotations

import atexit
import json
import multiprocessing.util
import re
from pathlib import Path
from typing import Any

from nbconvert.exporters.exporter import ResourcesDict
from nbformat import NotebookNode
from nbformat.v4 import new_output
from nbgrader.api import Gradebook, GradeCell, MissingEntry, TaskCell
from nbgrader.preprocessors import ClearHiddenTests, NbGraderPreprocessor, OverwriteCells
from traitlets import Bool, Float, Integer, List

from grader.inert import safe_html
from grader.notebooks import is_test
from grader.outcomes import PROBLEMS
from grader.sandbox.trusted import execute
from grader.sandbox.zygote import Limits, Zygote


class ConciseErrors(NbGraderPreprocessor):
    """In test cells, show only the error's name and message: tracebacks would show hidden test code."""

    def preprocess_cell(self, cell: NotebookNode, resources: ResourcesDict,
                        index: int) -> tuple[NotebookNode, ResourcesDict]:
        if is_test(cell):
            for output in cell.get("outputs", []):
                if output.get("output_type") == "error":
                    output["traceback"] = [concise_error(output)]
        return cell, resources


CHECKER_ERRORS = ("CheckFailed", "AssertionError")


def concise_error(output: NotebookNode) -> str:
    """An error as the student should read it: a check's message alone (it says what was expected and
    what came back), any other error with its name (NameError: ...)."""
    name, message = str(output.get("ename") or "Error"), str(output.get("evalue") or "")
    return message if name in CHECKER_ERRORS and message else f"{name}: {message}"


class DropEmptyNbgraderMetadata(NbGraderPreprocessor):
    """Remove the empty nbgrader metadata DeduplicateIds leaves on copies of a graded cell.

    A student who copied a cell keeps an ordinary cell; without this, CheckCellMetadata rejects
    the empty metadata and the whole notebook would not be graded.
    """

    def preprocess_cell(self, cell: NotebookNode, resources: ResourcesDict,
                        index: int) -> tuple[NotebookNode, ResourcesDict]:
        if "nbgrader" in cell.get("metadata", {}) and not cell.metadata.nbgrader:
            del cell.metadata["nbgrader"]
        return cell, resources


class SandboxedExecute(NbGraderPreprocessor):
    """Replaces nbgrader's Execute: student cells run in a sandbox, test cells in the trusted process.

    Choose it in nbgrader_config.py (Autograde.autograde_preprocessors) and plain `nbgrader autograde`
    grades the same way `grader autograde` does. Problems (a crash, a time limit) are listed in
    resources["grader_problems"], where the time went (NotebookRun.timings) in resources["grader_timings"].
    """

    wall_seconds = Float(120.0, help="Wall-clock limit for one notebook, in seconds.").tag(config=True)
    cell_seconds = Float(30.0, help="Wall-clock limit for one cell or one test call.").tag(config=True)
    cpu_seconds = Integer(60, help="CPU time limit for one notebook's student code.").tag(config=True)
    memory_bytes = Integer(1 << 30, help="Memory of one notebook's world: all its processes, files and "
                           "shared memory together (counted by the kernel), and the address space of each "
                           "process.").tag(config=True)
    support_files = List(["checks.py"], help="Instructor files beside the notebook the cells import.").tag(
        config=True)
    sandbox = Bool(None, allow_none=True, help="Force the sandbox on (True) or off (False).").tag(config=True)
    accept_risk = Bool(False, help="Grade even where a part of the sandbox is missing (bubblewrap, "
                       "namespaces, seccomp, a resource container); what was missing is kept in every "
                       "record.").tag(config=True)

    _zygote = None

    def limits(self) -> Limits:
        return Limits(memory_bytes=self.memory_bytes, cpu_seconds=self.cpu_seconds,
                      wall_seconds=self.wall_seconds, cell_seconds=self.cell_seconds)

    def zygote(self) -> Zygote:
        if SandboxedExecute._zygote is None:
            SandboxedExecute._zygote = Zygote(self.sandbox, accept_risk=self.accept_risk)
            SandboxedExecute._zygote.start()
            atexit.register(SandboxedExecute._zygote.stop)
            # a pool's worker process ends without atexit: its worlds' cgroups are removed all the same
            multiprocessing.util.Finalize(SandboxedExecute._zygote, SandboxedExecute._zygote.stop,
                                          exitpriority=10)
        return SandboxedExecute._zygote

    def preprocess(self, nb: NotebookNode, resources: ResourcesDict) -> tuple[NotebookNode, ResourcesDict]:
        folder = Path(resources.get("metadata", {}).get("path") or ".")
        files = {name: (folder / name).read_bytes()
                 for name in self.support_files if (folder / name).is_file()}
        run = execute(nb, self.zygote(), files, folder / "checks.py", self.limits())
        resources["grader_problems"] = run.problems
        resources["grader_timings"] = dict(run.timings)
        resources["grader_unsandboxed"] = list(self.zygote().missing)
        # The graded notebook itself says it could not be graded as a whole, whichever command graded it.
        run.notebook.metadata.pop(PROBLEMS, None)
        if run.problems:
            run.notebook.metadata[PROBLEMS] = list(run.problems)
        return run.notebook, resources


class ForeignCellsAsOrdinary(NbGraderPreprocessor):
    """A cell whose grade_id is none of this notebook's cells (pasted from another notebook, or from a
    release whose ids have changed since) becomes an ordinary cell: its code still runs. nbgrader's
    OverwriteCells would drop its id and then fail adding the missing cells back, and so the whole
    notebook would not be graded. A test cell renamed this way is added back from the gradebook."""

    def preprocess(self, nb: NotebookNode, resources: ResourcesDict) -> tuple[NotebookNode, ResourcesDict]:
        marked = [(cell, marks["grade_id"]) for cell in nb.cells
                  if isinstance(marks := cell.get("metadata", {}).get("nbgrader"), dict)
                  and marks.get("grade_id") is not None]
        if not marked:
            return nb, resources
        notebook, assignment = resources["nbgrader"]["notebook"], resources["nbgrader"]["assignment"]
        with Gradebook(resources["nbgrader"]["db_url"]) as gradebook:
            try:
                known = {cell.name for cell in gradebook.find_notebook(notebook, assignment).source_cells}
            except MissingEntry:
                return nb, resources  # not this tool's question: OverwriteCells reports it
        for cell, grade_id in marked:
            if grade_id not in known:
                self.log.warning("Cell %r is not a cell of %s; it is graded as an ordinary cell", grade_id,
                                 notebook)
                del cell.metadata["nbgrader"]
        return nb, resources


class OverwriteCellsReadOnce(OverwriteCells):
    """nbgrader's OverwriteCells, with the notebook's cells read from the gradebook once (three queries)
    instead of one or two queries per cell: the same cells are compared and put back, the same changes
    reported, the same missing cells added."""

    def preprocess_cell(self, cell: NotebookNode, resources: ResourcesDict,
                        cell_index: int) -> tuple[NotebookNode, ResourcesDict]:
        if not isinstance(self.gradebook, _CellsReadOnce):  # the parent opened this notebook's Gradebook
            self.gradebook = _CellsReadOnce(self.gradebook, self.notebook_id, self.assignment_id)
        return super().preprocess_cell(cell, resources, cell_index)


class _CellsReadOnce:
    """A Gradebook that reads one notebook and its cells once: find_notebook, find_source_cell and
    find_graded_cell of that notebook answer from that read (nothing is written meanwhile)."""

    def __init__(self, gradebook: Any, notebook: str, assignment: str) -> None:
        self._gradebook, self._notebook = gradebook, (notebook, assignment)
        self._found: Any = None
        self._cells: tuple[dict, dict] | None = None

    def __getattr__(self, name: str) -> Any:
        return getattr(self._gradebook, name)

    def find_notebook(self, name: str, assignment: str) -> Any:
        if (name, assignment) != self._notebook:
            return self._gradebook.find_notebook(name, assignment)
        if self._found is None:
            self._found = self._gradebook.find_notebook(name, assignment)
        return self._found

    def find_source_cell(self, name: str, notebook: str, assignment: str) -> Any:
        if (notebook, assignment) != self._notebook:
            return self._gradebook.find_source_cell(name, notebook, assignment)
        return self._find(0, name, "source cell")

    def find_graded_cell(self, name: str, notebook: str, assignment: str) -> Any:
        if (notebook, assignment) != self._notebook:
            return self._gradebook.find_graded_cell(name, notebook, assignment)
        return self._find(1, name, "grade cell")

    def _find(self, kind: int, name: str, what: str) -> Any:
        if self._cells is None:
            self._cells = self._read()
        if name not in self._cells[kind]:
            notebook, assignment = self._notebook
            raise MissingEntry(f"No such {what}: {assignment}/{notebook}/{name}")
        return self._cells[kind][name]

    def _read(self) -> tuple[dict, dict]:
        """The notebook's source cells, and its graded cells (a grade cell before a task cell of the
        same name, as Gradebook.find_graded_cell looks them up), by name."""
        try:
            notebook = self.find_notebook(*self._notebook)
        except MissingEntry:
            return {}, {}
        graded = {}
        for kind in (TaskCell, GradeCell):  # each with all its columns, in one query
            graded.update((cell.name, cell) for cell in
                          self._gradebook.db.query(kind).filter(kind.notebook_id == notebook.id))
        return {cell.name: cell for cell in notebook.source_cells}, graded


class ClearHiddenTestsSafely(ClearHiddenTests):
    """nbgrader's ClearHiddenTests; a cell whose hidden-test markers do not match loses its whole text.

    A student can type `### BEGIN HIDDEN TESTS` into a cell of their own; nbgrader would stop the
    feedback of the whole class there. The cell's text is withheld instead, and the page is written.
    """

    def preprocess_cell(self, cell: NotebookNode, resources: ResourcesDict,
                        index: int) -> tuple[NotebookNode, ResourcesDict]:
        try:
            return super().preprocess_cell(cell, resources, index)
        except RuntimeError as error:
            who = resources.get("nbgrader", {})
            self.log.warning("grader-note: %s %s: cell %d holds unmatched hidden-test markers (%s); its "
                             "text is not shown in the feedback", who.get("student"), who.get("notebook"),
                             index + 1, error)
            cell.source = "# (not shown: this cell holds an unmatched hidden-tests marker)"
            cell.outputs = [] if cell.cell_type == "code" else cell.get("outputs", [])
            return cell, resources


class InertNotebook(NbGraderPreprocessor):
    """The graded notebook shows nothing live in formgrader or JupyterLab (the last step before it is saved).

    Invariants, whatever the student wrote: an output holds only plain text, raster images (base64)
    and sanitized HTML (grader.inert.safe_html), with a note where something else was removed; a markdown
    cell holds raw HTML only as bare tags of a harmless list (<details>, <b>, ...: no attribute, no
    comment) and loads no image from a URL, else its text is shown in a code block, saying so; metadata
    keeps only the keys the tools use, each of the type they expect.
    """

    def preprocess(self, nb: NotebookNode, resources: ResourcesDict) -> tuple[NotebookNode, ResourcesDict]:
        nb.metadata = inert_notebook_metadata(nb.get("metadata", {}))
        return super().preprocess(nb, resources)

    def preprocess_cell(self, cell: NotebookNode, resources: ResourcesDict,
                        index: int) -> tuple[NotebookNode, ResourcesDict]:
        cell.metadata = inert_cell_metadata(cell.get("metadata", {}))
        if cell.cell_type == "markdown":
            cell.source = inert_markdown(cell.source)
            given = cell.get("attachments") or {}
            attachments = {name: {kind: value for kind, value in files.items()
                                  if kind in INERT_IMAGES and isinstance(value, str)}
                           for name, files in given.items() if isinstance(files, dict)}
            cell.pop("attachments", None)
            if any(attachments.values()):
                cell["attachments"] = {name: files for name, files in attachments.items() if files}
        if cell.cell_type == "code":
            cell.outputs = [inert_output(output) for output in cell.get("outputs", [])]
        return cell, resources


INERT_IMAGES = ("image/png", "image/jpeg", "image/gif")
_BASE64 = re.compile(r"[A-Za-z0-9+/=\s]*\Z")
# CommonMark's raw HTML (open and closing tags, comments, processing instructions, declarations, CDATA)
_RAW_HTML = re.compile(r"<(?P<close>/)?(?P<tag>[A-Za-z][A-Za-z0-9-]*)(?P<rest>(?:\s[^<>]*)?/?)>"
                       r"|<!--|<\?|<![A-Za-z]|<!\[CDATA\[")
_BARE_TAGS = {"b", "br", "code", "details", "em", "hr", "i", "kbd", "li", "ol", "p", "strong", "sub",
              "summary", "sup", "u", "ul"}
# An image's target: inline `![alt](URL` (alt bounded, so a line of openers is read once), or a link
# reference definition `[label]: URL` an image can use
_IMAGE_TARGETS = re.compile(r"!\[[^\]\n]{0,500}\]\(\s*<?(?P<inline>[^)\s>]*)"
                            r"|^ {0,3}\[[^\]\n]{1,500}\]:\s*<?(?P<defined>\S*)", re.MULTILINE)
_INERT_TARGET = re.compile(r"(?i)(data:image/|attachment:|#)")


def inert_markdown(source: object) -> str:
    """A markdown cell's text, or (if it holds other raw HTML or an image from a URL) that text in a code
    block with a note."""
    text = source if isinstance(source, str) else "".join(map(str, source or []))
    live = any(not (match.group("tag") and match.group("tag").lower() in _BARE_TAGS and
                    not match.group("rest").strip("/ "))
               for match in _RAW_HTML.finditer(text))
    targets = (match.group("inline") or match.group("defined") or "#"
               for match in _IMAGE_TARGETS.finditer(text))
    images = "![" in text and any(not _INERT_TARGET.match(target) for target in targets)
    if not (live or images):
        return text
    fence = "`" * max(3, 1 + max((len(run) for run in re.findall(r"`+", text)), default=0))
    return (f"*(This cell held raw HTML or an image from elsewhere; it is shown as its text.)*\n\n"
            f"{fence}text\n{text}\n{fence}")


def inert_output(output: NotebookNode) -> NotebookNode:
    """One output with only the kinds of content that cannot run or load anything."""
    kind = output.get("output_type")
    if kind == "stream":
        return new_output("stream", name="stderr" if output.get("name") == "stderr" else "stdout",
                          text=_text(output.get("text")))
    if kind == "error":
        traceback = output.get("traceback")
        lines = [_text(line) for line in traceback] if isinstance(traceback, list) else []
        return new_output("error", ename=_text(output.get("ename")), evalue=_text(output.get("evalue")),
                          traceback=lines)
    data, removed = {}, []
    for mime, value in (output.get("data") or {}).items():
        text = _text(value)
        if mime == "text/plain" or (mime in INERT_IMAGES and _BASE64.match(text)):
            data[mime] = text
        elif mime == "text/html":
            data[mime] = safe_html(text)
        else:
            removed.append(str(mime))
    if removed:
        note = f"(not shown: output of type {', '.join(sorted(removed))[:200]})"
        data["text/plain"] = f"{data['text/plain']}\n{note}" if "text/plain" in data else note
    if kind == "execute_result":
        count = output.get("execution_count")
        return new_output("execute_result", data=data,
                          execution_count=count if isinstance(count, int) else None)
    return new_output("display_data", data=data)


def _text(value: object) -> str:
    """A string where a string is expected (nbformat allows a list of strings)."""
    if isinstance(value, list):
        return "".join(item if isinstance(item, str) else json.dumps(item) for item in value)
    return value if isinstance(value, str) else json.dumps(value) if value is not None else ""


_CELL_FLAGS = ("editable", "deletable", "collapsed", "scrolled")
TAG_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def inert_cell_metadata(metadata: object) -> dict:
    """A cell's metadata: nbgrader's (nbgrader checks it), word-like tags, and the booleans the tools use."""
    metadata = metadata if isinstance(metadata, dict) else {}
    kept: dict[str, Any] = {key: metadata[key] for key in _CELL_FLAGS if isinstance(metadata.get(key), bool)}
    if isinstance(metadata.get("nbgrader"), dict):
        kept["nbgrader"] = metadata["nbgrader"]
    tags = metadata.get("tags")
    if isinstance(tags, list):
        kept["tags"] = [tag for tag in tags if isinstance(tag, str) and TAG_NAME.match(tag)]
    return kept


def inert_notebook_metadata(metadata: object) -> dict:
    """The notebook's metadata without widget state and with strings where strings are expected."""
    metadata = metadata if isinstance(metadata, dict) else {}
    kept = {key: value for key, value in metadata.items()
            if key not in ("widgets", "title", "kernelspec", "language_info")}
    for key in ("kernelspec", "language_info"):
        if isinstance(metadata.get(key), dict):
            kept[key] = {name: value for name, value in metadata[key].items()
                         if isinstance(value, (str, int)) or (name == "codemirror_mode" and
                                                              isinstance(value, (str, dict)))}
    if isinstance(metadata.get("title"), str):
        kept["title"] = metadata["title"]
    return kept

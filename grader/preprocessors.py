"""nbgrader preprocessors of this course, chosen in nbgrader_config.py."""

from __future__ import annotations

import atexit
from pathlib import Path

from nbconvert.exporters.exporter import ResourcesDict
from nbformat import NotebookNode
from nbgrader.api import Gradebook
from nbgrader.preprocessors import NbGraderPreprocessor, OverwriteCells, SaveAutoGrades
from traitlets import Bool, Float, Integer, List

from grader.execute import execute
from grader.isolation import Limits, Zygote
from grader.notebooks import is_test


class ConciseErrors(NbGraderPreprocessor):
    """In test cells, show only the error's name and message: tracebacks would show hidden test code."""

    def preprocess_cell(self, cell: NotebookNode, resources: ResourcesDict,
                        index: int) -> tuple[NotebookNode, ResourcesDict]:
        if is_test(cell):
            for output in cell.get("outputs", []):
                if output.get("output_type") == "error":
                    output["traceback"] = [f"{output.get('ename', 'Error')}: {output.get('evalue', '')}"]
        return cell, resources


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
    resources["grader_problems"].
    """

    wall_seconds = Float(120.0, help="Wall-clock limit for one notebook, in seconds.").tag(config=True)
    cell_seconds = Float(30.0, help="Wall-clock limit for one cell or one test call.").tag(config=True)
    cpu_seconds = Integer(60, help="CPU time limit for one notebook's student code.").tag(config=True)
    memory_bytes = Integer(3 << 30, help="Address-space limit of the student's process.").tag(config=True)
    support_files = List(["checks.py"], help="Instructor files beside the notebook the cells import.").tag(
        config=True)
    sandbox = Bool(None, allow_none=True, help="Force the sandbox on (True) or off (False).").tag(config=True)

    _zygote = None

    def limits(self) -> Limits:
        return Limits(memory_bytes=self.memory_bytes, cpu_seconds=self.cpu_seconds,
                      wall_seconds=self.wall_seconds, cell_seconds=self.cell_seconds)

    def zygote(self) -> Zygote:
        if SandboxedExecute._zygote is None:
            SandboxedExecute._zygote = Zygote(self.sandbox)
            SandboxedExecute._zygote.start()
            atexit.register(SandboxedExecute._zygote.stop)
        return SandboxedExecute._zygote

    def preprocess(self, nb: NotebookNode, resources: ResourcesDict) -> tuple[NotebookNode, ResourcesDict]:
        folder = Path(resources.get("metadata", {}).get("path") or ".")
        files = {name: (folder / name).read_bytes()
                 for name in self.support_files if (folder / name).is_file()}
        run = execute(nb, self.zygote(), files, folder / "checks.py", self.limits())
        resources["grader_problems"] = run.problems
        return run.notebook, resources


_GRADEBOOKS: dict[str, Gradebook] = {}


def shared_gradebook(db_url: str) -> Gradebook:
    """One open gradebook per grading process: nbgrader would open (and check) it for every notebook."""
    if db_url not in _GRADEBOOKS:
        _GRADEBOOKS[db_url] = Gradebook(db_url)
    return _GRADEBOOKS[db_url]


class OverwriteCellsShared(OverwriteCells):
    """nbgrader's OverwriteCells, reading the source cells through the process's shared gradebook."""

    def preprocess(self, nb: NotebookNode, resources: ResourcesDict) -> tuple[NotebookNode, ResourcesDict]:
        self.notebook_id = resources["nbgrader"]["notebook"]
        self.assignment_id = resources["nbgrader"]["assignment"]
        self.db_url = resources["nbgrader"]["db_url"]
        self.gradebook = shared_gradebook(self.db_url)
        try:
            nb, resources = NbGraderPreprocessor.preprocess(self, nb, resources)
            if self.add_missing_cells:
                nb, resources = self.add_missing_grade_cells(nb, resources)
                nb, resources = self.add_missing_task_cells(nb, resources)
        finally:
            self.gradebook.db.rollback()  # end the read: never hold a lock the supervisor waits for
        return nb, resources


class SaveAutoGradesShared(SaveAutoGrades):
    """nbgrader's SaveAutoGrades, writing through the supervisor's shared gradebook."""

    def preprocess(self, nb: NotebookNode, resources: ResourcesDict) -> tuple[NotebookNode, ResourcesDict]:
        self.notebook_id = resources["nbgrader"]["notebook"]
        self.assignment_id = resources["nbgrader"]["assignment"]
        self.student_id = resources["nbgrader"]["student"]
        self.db_url = resources["nbgrader"]["db_url"]
        self.gradebook = shared_gradebook(self.db_url)
        try:
            return NbGraderPreprocessor.preprocess(self, nb, resources)
        finally:
            self.gradebook.db.commit()

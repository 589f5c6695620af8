"""The course folder: where every step's files live, per assignment and student, and how nbgrader runs there.

Every folder a command reads or writes comes from here: nbgrader's own steps (source, release,
submitted, autograded, feedback) through nbgrader's path templates, and the grader's own folders
(results, exports) from the `GraderFolders` settings of the same nbgrader_config.py.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import subprocess
import sys
import tempfile
import warnings
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from nbgrader.api import Gradebook, MissingEntry
from nbgrader.coursedir import CourseDirectory
from traitlets import Unicode
from traitlets.config import Config, Configurable
from traitlets.config.loader import PyFileConfigLoader

from grader.errors import GraderError

CONFIG_FILE = "nbgrader_config.py"
NBGRADER_STEPS = ("source", "release", "submitted", "autograded", "feedback")


class GraderFolders(Configurable):
    """The grader's own folders beside nbgrader's (relative to the course folder)."""

    results_directory = Unicode("autograded/results", help="Per-unit grading records.").tag(config=True)
    exports_directory = Unicode("autograded/exports", help="Exported scores, LMS files, reports.").tag(
        config=True)


@dataclass(frozen=True)
class Course:
    """A course folder with an nbgrader_config.py; every path comes from that config."""

    root: Path
    _registered: set = field(default_factory=set, compare=False, hash=False, repr=False)

    @classmethod
    def find(cls, start: Path | None = None) -> Course:
        """The course folder at `start` (default: the current folder) or above it."""
        here = (start or Path.cwd()).resolve()
        for folder in (here, *here.parents):
            if (folder / CONFIG_FILE).is_file():
                return cls(folder)
        raise GraderError(f"{here}: no {CONFIG_FILE} here or above; run grader in the course folder "
                          "or pass --course DIR.")

    def config(self) -> Config:
        """The course's nbgrader configuration (from its nbgrader_config.py)."""
        try:
            return PyFileConfigLoader(CONFIG_FILE, path=str(self.root)).load_config()
        except Exception as error:  # the instructor's Python file: any error is theirs to fix
            raise GraderError(f"{self.root / CONFIG_FILE}: cannot be loaded ({type(error).__name__}: "
                              f"{error}); fix the file.") from None

    @cached_property
    def _dirs(self) -> CourseDirectory:
        coursedir = CourseDirectory(config=self.config())
        coursedir.root = str(self.root)
        return coursedir

    @cached_property
    def _folders(self) -> GraderFolders:
        return GraderFolders(config=self.config())

    # ------------------------------------------------------------------ assignments

    def assignments(self) -> list[str]:
        """Every assignment: a folder of source/ that holds notebooks."""
        source_root = self.folder("source", "*").parent
        return sorted(path.name for path in source_root.iterdir()
                      if path.is_dir() and any(path.glob("*.ipynb"))) if source_root.is_dir() else []

    def assignment(self, name: str | None = None) -> str:
        """The assignment called `name`, or the only one when no name is given."""
        known = self.assignments()
        if name is None:
            if len(known) == 1:
                return known[0]
            if not known:
                raise GraderError(f"{self.folder('source', '*').parent}: no assignment (a folder with "
                                  "notebooks); is this the course folder?")
            raise GraderError(f"{self.root}: this course has several assignments ({', '.join(known)}); "
                              "name one, e.g. `grader autograde " + known[0] + "`.")
        if name not in known:
            raise GraderError(f"{self.folder('source', name)}: no such assignment; the course has "
                              f"{', '.join(known) or 'none'}.")
        return name

    def notebook_names(self, assignment: str | None = None) -> list[str]:
        """The assignment's notebooks (names without .ipynb), in order."""
        assignment = self.assignment(assignment)
        names = sorted(path.stem for path in self.folder("source", assignment).glob("*.ipynb"))
        if not names:
            raise GraderError(f"{self.folder('source', assignment)}: no notebooks; "
                              "is this the course folder?")
        return names

    # ------------------------------------------------------------------ folders

    def folder(self, step: str, assignment: str, student: str = ".") -> Path:
        """nbgrader's folder of a step for one assignment (and student), from the course's path templates."""
        if step not in NBGRADER_STEPS:
            raise ValueError(f"unknown nbgrader step {step!r}")
        directory = getattr(self._dirs, f"{step}_directory")
        return Path(self._dirs.format_path(directory, student, assignment))

    # Transition: the single-assignment calls of round 1, kept until every caller names the assignment.
    def step_dir(self, step: str, student: str = ".") -> Path:
        return self.folder(step, self.assignment(), student)

    @property
    def source(self) -> Path:
        return self.folder("source", self.assignment())

    @property
    def release(self) -> Path:
        return self.folder("release", self.assignment())

    def students(self, step: str, assignment: str) -> list[str]:
        """Students with a folder of this step for the assignment (e.g. everyone who submitted)."""
        pattern = self.folder(step, assignment, "*")
        position = pattern.parts.index("*")
        found = {Path(match).parts[position] for match in glob.glob(str(pattern)) if Path(match).is_dir()}
        return sorted(found)

    def step_root(self, step: str, assignment: str) -> Path:
        """The folder of a step that holds one folder per student (below it, everything is a student's)."""
        pattern = self.folder(step, assignment, "*")
        return Path(*pattern.parts[:pattern.parts.index("*")])

    def results(self, assignment: str, student: str) -> Path:
        """The grader's records of one student's graded notebooks."""
        return self.root / self._folders.results_directory / student / assignment

    def results_root(self) -> Path:
        return self.root / self._folders.results_directory

    def exports(self, assignment: str) -> Path:
        """Where exports of an assignment go (scores, LMS files, the class report, the student zip)."""
        return self.root / self._folders.exports_directory / assignment

    def timestamp(self, assignment: str, student: str | None = None) -> str | None:
        """The submission time nbgrader has for a student (from the timestamp file collect wrote).

        An unreadable timestamp file counts as no time (on time), never as an error for the batch.
        """
        if student is None:  # transition: timestamp(student)
            assignment, student = self.assignment(), assignment
        try:
            return self._dirs.get_existing_timestamp(str(self.folder("submitted", assignment, student)))
        except (AttributeError, ValueError, OverflowError):  # nbgrader's own error path is broken
            return None

    @property
    def db_url(self) -> str:
        return self._dirs.db_url

    @property
    def course_id(self) -> str:
        return self._dirs.course_id

    # ------------------------------------------------------------------ the gradebook

    @contextlib.contextmanager
    def gradebook(self, assignment: str | None = None) -> Iterator[Gradebook]:
        """nbgrader's gradebook of this course; with `assignment`, registered from source/ first if missing.

        The gradebook is derived state: on a fresh clone (release/ committed, no gradebook yet) the
        first command that needs it creates it, never an nbgrader traceback.
        """
        if assignment is not None:
            self.register(assignment)
        _put_tools_on_path()
        self._make_db_folder()
        try:
            gradebook = Gradebook(self.db_url, course_id=self.course_id)
        except Exception as error:  # a damaged or foreign database file
            raise GraderError(f"{self.db_url}: cannot open the gradebook ({type(error).__name__}); "
                              "move it away and run the command again to make a new one.") from None
        try:
            yield gradebook
        finally:
            gradebook.close()

    def register(self, assignment: str) -> None:
        """Make sure the gradebook knows the assignment and every notebook's graded cells (from source/)."""
        if assignment in self._registered:
            return
        if not self._registered_in_gradebook(assignment):
            with tempfile.TemporaryDirectory(prefix="grader-register-") as scratch:
                # generate_assignment records the source cells; its student version goes to a scratch folder,
                # so the committed release/ is not touched.
                self.nbgrader("generate_assignment", assignment, "--force",
                              f"--CourseDirectory.release_directory={scratch}")
        self._registered.add(assignment)

    def _registered_in_gradebook(self, assignment: str) -> bool:
        _put_tools_on_path()
        self._make_db_folder()
        with Gradebook(self.db_url, course_id=self.course_id) as gradebook, warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                known = {notebook.name for notebook in gradebook.find_assignment(assignment).notebooks}
            except MissingEntry:
                return False
        return set(self.notebook_names(assignment)) <= known

    def _make_db_folder(self) -> None:
        if self.db_url.startswith("sqlite:///"):
            Path(self.db_url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)

    def nbgrader(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run an nbgrader command in the course folder, with this course's config."""
        self._make_db_folder()
        _put_tools_on_path()
        env = {**os.environ, "PYTHONPATH": _python_path()}
        result = subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=self.root, env=env,
                                capture_output=True, text=True, stdin=subprocess.DEVNULL)
        if check and result.returncode != 0:
            raise GraderError(f"nbgrader {args[0]} failed in {self.root}: {_last_error(result.stderr)}")
        return result


def _put_tools_on_path() -> None:
    """nbgrader runs `alembic` from PATH when it creates a gradebook: make the one beside Python visible."""
    tools = str(Path(sys.executable).parent)
    if tools not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = os.pathsep.join([tools, os.environ.get("PATH", "")])


def _python_path() -> str:
    """PYTHONPATH that lets nbgrader import this package's preprocessors from any folder."""
    package_parent = str(Path(__file__).resolve().parent.parent)
    existing = os.environ.get("PYTHONPATH")
    return package_parent if not existing else os.pathsep.join([package_parent, existing])


def _last_error(log: str) -> str:
    lines = [line for line in log.splitlines() if "[ERROR]" in line or "Error" in line]
    return (lines[-1] if lines else (log.strip().splitlines() or ["no output"])[-1]).strip()


def new_course(target: Path, template: Course, notebooks: Iterable[str] | None = None,
               assignment: str | None = None) -> Course:
    """A fresh course folder with the template's config and one assignment's source (or some notebooks)."""
    if target.exists() and any(target.iterdir()):
        raise GraderError(f"{target}: folder is not empty; choose a new folder.")
    name = template.assignment(assignment)
    wanted = set(notebooks) if notebooks is not None else None
    source = template.folder("source", name)
    destination = target / source.relative_to(template.root)
    destination.mkdir(parents=True)
    shutil.copy2(template.root / CONFIG_FILE, target / CONFIG_FILE)
    for path in source.iterdir():
        if path.name.startswith(".") or path.name == "__pycache__":
            continue
        if path.suffix == ".ipynb" and wanted is not None and path.stem not in wanted:
            continue
        shutil.copy2(path, destination / path.name)
    return Course(target)

"""The course folder: where nbgrader keeps each step's files, and how nbgrader is run there."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from nbgrader.api import Gradebook
from nbgrader.coursedir import CourseDirectory
from traitlets.config import Config
from traitlets.config.loader import PyFileConfigLoader

from grader import ASSIGNMENT
from grader.errors import GraderError

CONFIG_FILE = "nbgrader_config.py"


@dataclass(frozen=True)
class Course:
    """A course folder with an nbgrader_config.py; every path comes from that config."""

    root: Path

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
        return PyFileConfigLoader(CONFIG_FILE, path=str(self.root)).load_config()

    @cached_property
    def _dirs(self) -> CourseDirectory:
        coursedir = CourseDirectory(config=self.config())
        coursedir.root = str(self.root)
        return coursedir

    def step_dir(self, step: str, student: str = ".") -> Path:
        """nbgrader's folder for a step ("source", "release", "submitted", "autograded", "feedback")."""
        directory = getattr(self._dirs, f"{step}_directory")
        return Path(self._dirs.format_path(directory, student, ASSIGNMENT))

    def timestamp(self, student: str) -> str | None:
        """The submission time nbgrader has for a student (from the timestamp file collect wrote).

        An unreadable timestamp file counts as no time (on time), never as an error for the batch.
        """
        try:
            return self._dirs.get_existing_timestamp(str(self.step_dir("submitted", student)))
        except (AttributeError, ValueError, OverflowError):  # nbgrader's own error path is broken
            return None

    @property
    def source(self) -> Path:
        return self.step_dir("source")

    @property
    def release(self) -> Path:
        return self.step_dir("release")

    @property
    def db_url(self) -> str:
        return self._dirs.db_url

    @property
    def course_id(self) -> str:
        return self._dirs.course_id

    def notebook_names(self) -> list[str]:
        """The assignment's notebooks (names without .ipynb), in order."""
        names = sorted(path.stem for path in self.source.glob("*.ipynb"))
        if not names:
            raise GraderError(f"{self.source}: no notebooks; is this the course folder?")
        return names

    def gradebook(self) -> Gradebook:
        """nbgrader's gradebook of this course (use it in a `with` block)."""
        _put_tools_on_path()
        return Gradebook(self.db_url, course_id=self.course_id)

    def nbgrader(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run an nbgrader command in the course folder, with this course's config."""
        if self.db_url.startswith("sqlite:///"):
            Path(self.db_url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
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


def new_course(target: Path, template: Course, notebooks: Iterable[str] | None = None) -> Course:
    """A fresh course folder with the template's config and source (optionally only some notebooks)."""
    if target.exists() and any(target.iterdir()):
        raise GraderError(f"{target}: folder is not empty; choose a new folder.")
    wanted = set(notebooks) if notebooks is not None else None
    destination = Course(target).root / template.source.relative_to(template.root)
    destination.mkdir(parents=True)
    shutil.copy2(template.root / CONFIG_FILE, target / CONFIG_FILE)
    for path in template.source.iterdir():
        if path.name.startswith(".") or path.name == "__pycache__":
            continue
        if path.suffix == ".ipynb" and wanted is not None and path.stem not in wanted:
            continue
        shutil.copy2(path, destination / path.name)
    return Course(target)

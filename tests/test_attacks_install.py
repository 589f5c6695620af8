"""Round-2 attack on a non-editable install (issue 9): with `pip install .` the grader package, samples and
all, sits in site-packages, which the sandbox mounts to run Python. A sandboxed cell looks for it.

The install is a copy of this repository's virtual environment with the package installed non-editable
from a copy of the source, under /work/venv-attack/<digest of the package's files>.
Measured against the code before the round-2 fixes (commit c942de6); the docstring says whether the
attack won then.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import grader as package
from grader.classroom import solved_notebook
from tests.attacks import code
from tests.attacks.checks import assert_scores_like
from tests.attacks.support import SVM, WRONG, classmates, grade_class, new_course, with_cells

pytestmark = pytest.mark.slow

VENV = Path("/work/venv-attack")
SOURCE = Path(package.__file__).resolve().parent.parent  # the tree under test (its grader package)


def _digest() -> str:
    digest = hashlib.sha256()
    for path in sorted([SOURCE / "pyproject.toml", *(SOURCE / "grader").rglob("*")]):
        if path.is_file() and "__pycache__" not in path.parts:
            digest.update(str(path.relative_to(SOURCE)).encode() + path.read_bytes())
    return digest.hexdigest()


def _run(*command: str, cwd: Path | None = None) -> None:
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, env=_environment())
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]


def _environment() -> dict[str, str]:
    return {key: value for key, value in os.environ.items() if key not in ("PYTHONPATH", "VIRTUAL_ENV")}


@pytest.fixture(scope="session")
def non_editable() -> Path:
    """The Python of a virtual environment with the grader package installed by `pip install .`.

    One environment per version of the package (several test runs may share the machine), built under a
    lock; the two most recent are kept.
    """
    digest = _digest()[:16]
    target = VENV / digest
    python = target / "bin" / "python"
    VENV.mkdir(parents=True, exist_ok=True)
    with open(VENV / "build.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (target / "complete").exists():
            _build(target)
        for old in sorted((p for p in VENV.iterdir() if p.is_dir() and p != target),
                          key=lambda p: p.stat().st_mtime)[:-1]:
            shutil.rmtree(old, ignore_errors=True)
    found = subprocess.run([str(python), "-c", "import grader; print(grader.__file__)"], cwd="/",
                           capture_output=True, text=True, env=_environment())
    assert "site-packages" in found.stdout, found.stdout + found.stderr  # really a non-editable install
    return python


def _build(target: Path) -> None:
    """Copy this environment, then replace the editable install by `pip install .` of a copy of the source."""
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(Path(sys.prefix), target, symlinks=True)
    python = str(target / "bin" / "python")
    prefix = subprocess.run([python, "-c", "import sys; print(sys.prefix)"], capture_output=True, text=True,
                            env=_environment()).stdout.strip()
    assert prefix == str(target), f"{target} is not a virtual environment ({prefix}); not installing there"
    source = target / "source"
    shutil.copytree(SOURCE, source, ignore=shutil.ignore_patterns(
        ".venv", ".git", "autograded", "__pycache__", "*.egg-info", "build", "tests", "benchmarks"))
    _run(python, "-m", "pip", "uninstall", "--yes", "--quiet", "dl-lecture01-grader")
    _run(python, "-m", "pip", "install", "--quiet", "--no-deps", ".", cwd=source)
    shutil.rmtree(source)
    (target / "complete").write_text("")


def test_no_file_of_a_non_editable_install_is_readable_in_the_sandbox(non_editable: Path, released_template,
                                                                     tmp_path):
    """A cell walks every folder on the sandbox's sys.path looking for the grader package and solution code.

    Measured on c942de6, the attack won: the cell listed the files of site-packages/grader (the first 20
    printed: grader/*.py and grader/sandbox/*.py), so grader/samples, a correct solution of every function,
    was readable too.
    """
    course = new_course(released_template, tmp_path)
    students = classmates(course)
    snooping = with_cells(solved_notebook(course, SVM, WRONG[SVM]), code.SNOOP_PACKAGE)
    students["m-snoop-install"] = {SVM: snooping}
    graded = grade_class(course, dict(sorted(students.items())), python=str(non_editable), env=_environment())
    shown = graded.outputs("m-snoop-install", SVM)
    assert "SNOOPED" in shown, graded.first.output[-2000:]
    assert "grader files: []" in shown, shown[-3000:]
    assert_scores_like(graded, "m-snoop-install", "a-baseline", SVM)

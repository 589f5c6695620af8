"""Without bubblewrap, grading still works, with limits, and says loudly that it is not sandboxed."""

from __future__ import annotations

import subprocess
import sys

import pytest

from grader.classroom import solved_notebook, submit
from grader.course import CONFIG_FILE, Course
from grader.samples import all_samples
from grader.scores import cell_scores

pytestmark = pytest.mark.slow  # grades a whole class


def test_grading_without_the_sandbox_gives_the_same_verdicts_and_warns(course: Course):
    with (course.root / CONFIG_FILE).open("a", encoding="utf-8") as config:
        config.write("\nc.SandboxedExecute.sandbox = False  # as on a machine without bubblewrap\n")
    samples = next(s for s in all_samples() if s.notebook == "02_svm_loss")
    mistake = samples.mistakes[0]
    submit(course, "correct", {samples.notebook: solved_notebook(course, samples.notebook)})
    submit(course, "mistaken", {samples.notebook: solved_notebook(course, samples.notebook, mistake.cells)})

    run = subprocess.run([sys.executable, "-m", "grader.cli", "autograde", "--course", str(course.root)],
                         capture_output=True, text=True)

    assert run.returncode == 0, run.stderr
    assert "grading WITHOUT a sandbox" in run.stderr
    rows = [r for r in cell_scores(course) if r.notebook == samples.notebook]
    assert all(r.score == r.max_score for r in rows if r.student == "correct")
    assert {r.cell for r in rows if r.student == "mistaken" and r.score < r.max_score} == set(mistake.fails)

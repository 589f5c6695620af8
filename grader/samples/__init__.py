"""Sample submissions for Lecture 1: alternative correct solutions and typical mistakes.

Each notebook has a module here (`forward_propagation`, `svm_loss`, ...) with

- ``NOTEBOOK``: the notebook's name without ``.ipynb``;
- ``ALTERNATIVES``: correct solutions written differently from the instructor's,
  as ``{name: {solution grade_id: code}}``; they must get full marks;
- ``MISTAKES``: a list of :class:`Mistake`, one per typical mistake of
  ``shared/lecture/FACTS.md`` (and more); each must lose the points of exactly
  the test cells named in ``fails``. A mistake with ``says`` must show that phrase in
  its visible test (tests/test_student_messages.py runs these in a real kernel).

The demo class, the tests and the benchmarks build their submissions from here.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field

MODULES = (
    "forward_propagation",
    "svm_loss",
    "softmax_cross_entropy",
    "regularization",
    "binary_cross_entropy",
    "scores",
)


@dataclass(frozen=True)
class Mistake:
    """A typical student mistake: replacement code for solution cells, and the test cells it must fail."""

    name: str
    cells: dict[str, str]
    fails: tuple[str, ...]
    notebook: str = field(default="")
    says: str = field(default="")


@dataclass(frozen=True)
class NotebookSamples:
    """The samples of one notebook."""

    notebook: str
    alternatives: dict[str, dict[str, str]]
    mistakes: tuple[Mistake, ...]


def load(module_name: str) -> NotebookSamples:
    """The samples of one notebook module, with each mistake tagged by its notebook."""
    module = importlib.import_module(f"{__name__}.{module_name}")
    notebook = module.NOTEBOOK
    mistakes = tuple(
        Mistake(m.name, dict(m.cells), tuple(m.fails), notebook, m.says) for m in module.MISTAKES
    )
    return NotebookSamples(notebook, dict(module.ALTERNATIVES), mistakes)


def all_samples() -> list[NotebookSamples]:
    """The samples of every notebook, in notebook order."""
    return [load(name) for name in MODULES]

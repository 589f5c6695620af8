"""The grading steps, exactly as the course's nbgrader config lists them for `nbgrader autograde`.

`grader autograde` runs the same two lists (Autograde.sanitize_preprocessors, then
Autograde.autograde_preprocessors), built the way nbgrader's exporter builds them. It splits them in two:
the sanitize steps, the autograde steps up to the executing one and the nbgrader steps right after
it that only change the notebook (IgnorePattern, ClearMetadata, LimitOutput) execute the notebook;
from the first other step on (saving grades, late penalties, checks, any step of the course's own)
the steps save it. A worker of this machine runs both lists; on a Dask cluster a worker executes
and the supervising process saves, so only its machine writes the gradebook.
"""

from __future__ import annotations

from dataclasses import dataclass

from nbconvert.exporters.exporter import ResourcesDict
from nbconvert.preprocessors import ClearMetadataPreprocessor, ClearOutputPreprocessor, Preprocessor
from nbformat import NotebookNode
from nbgrader.converters.autograde import Autograde
from nbgrader.preprocessors import ClearOutput, Execute, IgnorePattern, LimitOutput
from traitlets.config import Config, Configurable
from traitlets.utils.importstring import import_item

from grader.errors import GraderError

# Steps that only change the notebook in hand (no gradebook, no files): after the executing step they
# go with it (on a Dask cluster: in the worker, sparing the supervisor). Exact classes only: a subclass
# may do more.
NOTEBOOK_ONLY = (IgnorePattern, LimitOutput, ClearOutput, ClearMetadataPreprocessor, ClearOutputPreprocessor)


@dataclass(frozen=True)
class GradingSteps:
    """The configured steps, split after the notebook has been executed."""

    executing: tuple[Preprocessor, ...]
    saving: tuple[Preprocessor, ...]

    def executor(self) -> Preprocessor:
        """The step that executes the notebook."""
        return next(step for step in self.executing if _executes(step))


def configured_names(config: Config, trait: str) -> list:
    """A list of Autograde's config (its nbgrader default where the course sets none)."""
    if trait in config.get("Autograde", {}):
        return list(config.Autograde[trait])
    return list(Autograde.class_traits()[trait].default())


def build(config: Config, names: list) -> list[Preprocessor]:
    """Preprocessors as nbconvert's exporter makes them: imported by name, configured by the course."""
    owner = Configurable(config=config)
    steps = []
    for name in names:
        try:
            cls = import_item(name) if isinstance(name, str) else name
        except ImportError as error:
            raise GraderError(f"nbgrader_config.py: the grading step {name!r} cannot be imported ({error}); "
                              "fix Autograde.sanitize_preprocessors / autograde_preprocessors.") from None
        steps.append(cls(parent=owner))
    return steps


def grading_steps(config: Config) -> GradingSteps:
    """Sanitize and autograde steps of the course, split after the executing step and the
    notebook-only steps that follow it."""
    sanitize = build(config, configured_names(config, "sanitize_preprocessors"))
    autograde = build(config, configured_names(config, "autograde_preprocessors"))
    executing = [index for index, step in enumerate(autograde) if _executes(step)]
    if not executing:
        raise GraderError("nbgrader_config.py: Autograde.autograde_preprocessors has no step that executes "
                          "the notebook (grader.preprocessors.SandboxedExecute or nbgrader's Execute).")
    split = executing[0] + 1
    while split < len(autograde) and type(autograde[split]) in NOTEBOOK_ONLY:
        split += 1
    return GradingSteps(tuple(sanitize + autograde[:split]), tuple(autograde[split:]))


def _executes(step: Preprocessor) -> bool:
    from grader.preprocessors import SandboxedExecute

    return isinstance(step, (SandboxedExecute, Execute))


def run(steps: tuple[Preprocessor, ...], notebook: NotebookNode,
        resources: ResourcesDict) -> tuple[NotebookNode, ResourcesDict]:
    """Apply steps in order, as nbconvert does (a step that is not enabled leaves the notebook as it is)."""
    for step in steps:
        notebook, resources = step(notebook, resources)
    return notebook, resources

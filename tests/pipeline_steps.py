"""A grading step a course may configure, used by tests to see which steps each command really runs."""

from nbconvert.exporters.exporter import ResourcesDict
from nbformat import NotebookNode
from nbgrader.preprocessors import NbGraderPreprocessor

STAMP = "pipeline_stamp"


class StampGradedNotebook(NbGraderPreprocessor):
    """Writes the student's id into the graded notebook's metadata."""

    def preprocess(self, nb: NotebookNode, resources: ResourcesDict) -> tuple[NotebookNode, ResourcesDict]:
        nb.metadata[STAMP] = resources["nbgrader"]["student"]
        return nb, resources

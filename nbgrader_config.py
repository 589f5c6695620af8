"""nbgrader configuration for the Deep Learning course, Lecture 1.

All student data (submissions, graded notebooks, feedback, the gradebook)
lives under autograded/, which git ignores.
"""

import os

c = get_config()  # noqa: F821 - provided by nbgrader when it loads this file

here = os.path.dirname(os.path.abspath(__file__))

c.CourseDirectory.course_id = "deep-learning"
c.CourseDirectory.root = here
c.CourseDirectory.source_directory = "source"
c.CourseDirectory.release_directory = "release"
c.CourseDirectory.submitted_directory = os.path.join("autograded", "submitted")
c.CourseDirectory.autograded_directory = os.path.join("autograded", "graded")
c.CourseDirectory.feedback_directory = os.path.join("autograded", "feedback")
c.CourseDirectory.db_url = "sqlite:///" + os.path.join(here, "autograded", "gradebook.db")
# The grader's own folders beside nbgrader's: grading records, and exports (scores, LMS files, reports).
c.GraderFolders.results_directory = os.path.join("autograded", "results")
c.GraderFolders.exports_directory = os.path.join("autograded", "exports")
c.CourseDirectory.ignore = [".ipynb_checkpoints", "*.pyc", "__pycache__", "feedback", ".DS_Store", "__MACOSX"]

# The grading pipeline of both `nbgrader autograde` and `grader autograde` (which runs these same lists
# in its workers; on a Dask cluster the rest after SandboxedExecute in the supervising process).
# Student cells run in a sandbox and every test is decided in the trusted process
# (grader.preprocessors.SandboxedExecute replaces nbgrader's Execute; see docs/sandbox.md).
c.Autograde.autograde_preprocessors = [
    "grader.preprocessors.SandboxedExecute",
    "nbgrader.preprocessors.IgnorePattern",
    "nbconvert.preprocessors.ClearMetadataPreprocessor",
    "nbgrader.preprocessors.LimitOutput",
    "nbgrader.preprocessors.SaveAutoGrades",
    "nbgrader.preprocessors.AssignLatePenalties",
    "nbgrader.preprocessors.CheckCellMetadata",
    # The graded notebook shows nothing live in formgrader or JupyterLab (outputs, markdown, metadata).
    "grader.preprocessors.InertNotebook",
]
c.Autograde.sanitize_preprocessors = [
    "nbgrader.preprocessors.ClearOutput",
    "nbgrader.preprocessors.DeduplicateIds",
    "grader.preprocessors.DropEmptyNbgraderMetadata",
    "nbgrader.preprocessors.OverwriteKernelspec",
    "grader.preprocessors.ForeignCellsAsOrdinary",
    "grader.preprocessors.OverwriteCellsReadOnce",
    "nbgrader.preprocessors.CheckCellMetadata",
]
# A test cell the student deleted is put back (and run), instead of silently not counting.
c.OverwriteCells.add_missing_cells = True  # OverwriteCellsReadOnce is an OverwriteCells

c.SandboxedExecute.memory_bytes = 1 << 30
c.SandboxedExecute.wall_seconds = 120
c.SandboxedExecute.cell_seconds = 30

# Feedback shows each test's verdict and message, never hidden test code or tracebacks into it. The
# exporter sanitizes each page after it is rendered (no script runs, nothing is loaded from elsewhere),
# writes formulas as MathML, and gives each notebook a time and memory budget (grader/feedback_page.py).
c.GenerateFeedback.preprocessors = [
    "nbgrader.preprocessors.GetGrades",
    "grader.preprocessors.ClearHiddenTestsSafely",
    "grader.preprocessors.ConciseErrors",
    "nbconvert.preprocessors.CSSHTMLHeaderPreprocessor",
]
c.GenerateFeedback.exporter_class = "grader.feedback_page.FeedbackExporter"

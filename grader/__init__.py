"""Course tools for auto-graded exercises: the `grader` command and its nbgrader extensions."""

import sys

# jsonschema (under nbformat) builds an Earley parser for its optional IRI format check when it is imported:
# about half of the start-up of every grading process. Nothing here checks IRIs: it is left out.
sys.modules.setdefault("rfc3987_syntax", None)

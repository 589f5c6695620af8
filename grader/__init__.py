"""Course tools for the Lecture 1 exercises: the `grader` command and its nbgrader extensions."""

ASSIGNMENT = "lecture01"

"""The one error type the `grader` command reports to a user as a single line."""


class GraderError(Exception):
    """A problem the user can fix: the message names the file and what to do."""

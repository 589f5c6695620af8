"""Round-2 attacks on grading (issue 9): the attack code, as data, and the helpers that grade a class."""

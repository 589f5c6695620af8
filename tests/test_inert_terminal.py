"""What `grader` prints to a terminal and keeps in a record holds no control character of a submission.

A notebook whose nbformat version is a 20,000-character string of terminal control sequences (a window
title, erase-screen, cursor-home: nbformat's error quotes it) and a student id holding a colour sequence
are graded by `grader autograde` in a real pty. The marker "PWNED" proves the sequences reached the
output; each must arrive escaped (`\\x1b`), the lines short, and the record's reason the same.
"""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
from pathlib import Path

import pytest

from grader.classroom import solved_notebook, submit
from grader.course import Course
from grader.inert import terminal_safe
from grader.records import load_record

NOTEBOOK = "02_svm_loss"
SEQUENCES = "\x1b]0;PWNED\x07\x1b[2J\x1b[H\x9b31m\u202e"
HOSTILE_ID = "eve\x1b[31m"


def _in_pty(command: list[str], cwd: Path) -> bytes:
    """Everything `command` writes to a terminal (stdout and stderr on one pty)."""
    main, secondary = pty.openpty()
    process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=secondary, stderr=secondary,
                               cwd=cwd, close_fds=True)
    os.close(secondary)
    received = bytearray()
    while True:
        try:
            chunk = os.read(main, 65536)
        except OSError:  # the pty closes when the process ends
            break
        if not chunk:
            break
        received += chunk
    process.wait(timeout=600)
    os.close(main)
    return bytes(received)


def test_terminal_safe_escapes_every_control_character_and_cuts():
    shown = terminal_safe(SEQUENCES + "A" * 5000, limit=300)
    assert not any(ord(c) < 0x20 or 0x7f <= ord(c) < 0xa0 or c == "\u202e" for c in shown)
    assert shown.startswith("\\x1b]0;PWNED\\x07") and "\\x9b" in shown and "\\u202e" in shown
    assert len(shown) <= 300 and shown.endswith("more characters)")
    assert terminal_safe(shown, limit=300) == shown  # cutting and escaping twice change nothing
    assert terminal_safe("a\nb") == "a\\nb" and terminal_safe("a\nb\r", newlines=True) == "a\nb\\x0d"


@pytest.mark.slow
def test_autograde_prints_and_records_a_hostile_submission_escaped(make_course):
    course: Course = make_course()
    notebook = json.loads(json.dumps(solved_notebook(course, NOTEBOOK)))
    notebook["nbformat"] = SEQUENCES + "A" * 20000
    submit(course, HOSTILE_ID, {NOTEBOOK: json.dumps(notebook).encode()})
    command = [sys.executable, "-c", "from grader.cli import main; main()", "autograde", "--workers", "1",
               "--course", str(course.root)]
    shown = _in_pty(command, course.root).decode("utf-8", "replace")
    assert "PWNED" in shown, shown[-2000:]  # the sequences did reach the output...
    assert "\\x1b]0;PWNED\\x07" in shown  # ...escaped
    assert "\x1b]" not in shown and "\x07" not in shown and "\x1b[2J" not in shown and "\x9b" not in shown
    assert "\x1b[31m" not in shown and "eve\\x1b[31m" in shown
    assert max(len(line) for line in shown.splitlines()) < 2100
    record = load_record(course, "lecture01", HOSTILE_ID, NOTEBOOK)
    assert record is not None and "PWNED" in record.reason
    assert "\x1b" not in record.reason and "\x07" not in record.reason and len(record.reason) <= 2000
    on_disk = (course.results("lecture01", HOSTILE_ID) / f"{NOTEBOOK}.json").read_text(encoding="utf-8")
    assert "\\u001b]0;PWNED" not in on_disk  # not even JSON-escaped: the reason itself is safe

"""Moodle group submissions: which graded submission stands for which participant of the worksheet.

`grader collect` keeps a group's notebooks once, as the nbgrader student ``moodle-group-<group id>``
(``moodle-group-0`` for Moodle's "Default group"), registered with the group's name as last name. At export
the worksheet's Group column says who is in which group: every member gets the group's grade and feedback.
A participant graded on their own (a Moodle download before 4.1 has one folder per member) keeps that.
"""

from __future__ import annotations

from dataclasses import dataclass

from grader.course import Course
from grader.lms.moodle import GROUP_PREFIX, Worksheet, is_default_group, name_key
from grader.lms.roster import MOODLE, Participant, student_id

DEFAULT_GROUP_ID = student_id(MOODLE, f"{GROUP_PREFIX}0")


@dataclass(frozen=True)
class Graded:
    """The graded submission of a participant: their own, or their group's (then `group` is its name)."""

    student: str
    group: str | None = None


def registered_groups(course: Course) -> dict[str, str]:
    """The group submissions in the gradebook: nbgrader id -> group name."""
    prefix = student_id(MOODLE, GROUP_PREFIX)
    with course.gradebook() as gradebook:
        return {s.id: s.last_name or "" for s in gradebook.students if s.id.startswith(prefix)}


def graded_for(course: Course, sheet: Worksheet, graded: set[str]) -> tuple[dict[str, Graded], list[str]]:
    """For each participant id of the worksheet with a result, which one; and notes for the instructor.

    `graded` holds the nbgrader ids that have results.
    """
    groups = {sid: name for sid, name in registered_groups(course).items() if sid in graded}
    by_name: dict[str, list[str]] = {}
    for sid, name in groups.items():
        if sid != DEFAULT_GROUP_ID:
            by_name.setdefault(name_key(name), []).append(sid)
    found: dict[str, Graded] = {}
    notes: list[str] = []
    for person in sheet.participants:
        own = person.student_id
        if own in graded:
            found[person.lms_id] = Graded(own)
        elif person.group:
            group = _group_of(person, groups, by_name, notes)
            if group is not None:
                found[person.lms_id] = Graded(group, groups[group])
    return found, notes


def _group_of(person: Participant, groups: dict[str, str], by_name: dict[str, list[str]],
              notes: list[str]) -> str | None:
    group = person.group or ""
    default = DEFAULT_GROUP_ID in groups and name_key(groups[DEFAULT_GROUP_ID]) == name_key(group)
    if is_default_group(group) or default:
        return DEFAULT_GROUP_ID if DEFAULT_GROUP_ID in groups else None
    exact = [sid for sid, name in groups.items() if sid != DEFAULT_GROUP_ID and name == group]
    if len(exact) == 1:
        return exact[0]
    candidates = by_name.get(name_key(group), [])
    if len(candidates) > 1:
        notes.append(f"{person.student_id}: several graded groups are named {person.group!r} "
                     f"({', '.join(sorted(candidates))}); no grade given. Rename one group in Moodle, "
                     "download the submissions and the worksheet again and collect again.")
        return None
    return candidates[0] if candidates else None

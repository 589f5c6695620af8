"""Students as the LMS knows them, their nbgrader ids, and their record in nbgrader's gradebook.

A student's nbgrader id is made from the LMS's own number for them, which never changes and is safe in
file names: ``moodle-<participant id>`` (the number in Moodle's "Participant 12345" identifier and in
the folder names of its downloads) or ``canvas-<user id>`` (the ID column of Canvas's gradebook and the
number in its download file names). The id can be computed back from any LMS file, so export always finds
a student's row; the gradebook keeps name, email and the LMS id (``lms_user_id``) for people to read.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime

from nbgrader.api import Student
from sqlalchemy.exc import SQLAlchemyError

from grader.course import Course
from grader.errors import GraderError

MOODLE = "moodle"
CANVAS = "canvas"
_ID = re.compile(r"^(moodle|canvas)-(\d+)$")


@dataclass(frozen=True)
class Participant:
    """A student of the LMS course: ids, name, email and what the LMS says about the submission.

    `group` is the worksheet's Group cell (None when the worksheet has no such column). A Moodle group
    submission is a participant too: its `lms_id` is ``group-<group id>``, its name the group's, and
    `members` the participants it is graded for. `sortable_name` is Canvas's ("Doe, Jane"), which its
    download names are made from.
    """

    lms: str
    lms_id: str
    full_name: str = ""
    first_name: str | None = None
    last_name: str | None = None
    email: str | None = None
    submitted_at: datetime | None = None
    status: str = ""
    group: str | None = None
    members: tuple[Participant, ...] = ()
    sortable_name: str | None = None

    @property
    def student_id(self) -> str:
        return student_id(self.lms, self.lms_id)

    def names(self) -> tuple[str, str]:
        """(first, last): as given, else the full name split at its last space."""
        if self.first_name is not None or self.last_name is not None:
            return self.first_name or "", self.last_name or ""
        first, _, last = self.full_name.strip().rpartition(" ")
        return (first, last) if first else (last, "")


def student_id(lms: str, lms_id: str) -> str:
    """The nbgrader student id of an LMS user."""
    return f"{lms}-{lms_id}"


def parse_student_id(value: str) -> tuple[str, str] | None:
    """(lms, LMS id) of an id made by :func:`student_id`; None for other ids."""
    match = _ID.match(value)
    return (match.group(1), match.group(2)) if match else None


def register(course: Course, participants: Iterable[Participant]) -> int:
    """Create or update every participant in nbgrader's gradebook, in one transaction; return how many.

    nbgrader's ``update_or_create_student`` commits once per student (a disk sync each: 20 seconds for
    1,000 students); the same records are written here through its ``Student`` model with one commit.
    A gradebook with an authenticator (JupyterHub course membership) goes through nbgrader's call.
    """
    people = list(participants)
    with course.gradebook() as gradebook:
        if gradebook.authenticator:
            for person in people:
                gradebook.update_or_create_student(person.student_id, **_student_fields(person))
            return len(people)
        known = {student.id: student for student in gradebook.db.query(Student).all()}
        for person in people:
            fields = _student_fields(person)
            student = known.get(person.student_id)
            if student is None:
                student = known[person.student_id] = Student(id=person.student_id, **fields)
                gradebook.db.add(student)
            else:
                for name, value in fields.items():
                    setattr(student, name, value)
        try:
            gradebook.db.commit()
        except SQLAlchemyError as error:
            gradebook.db.rollback()
            raise GraderError(f"{course.db_url}: the students could not be registered "
                              f"({type(error).__name__}); check that the gradebook is writable and not "
                              "open in another program, then collect again.") from None
    return len(people)


def _student_fields(person: Participant) -> dict[str, str]:
    """The gradebook's fields of a participant that are known (an empty one never erases a value)."""
    first, last = person.names()
    fields = {"first_name": first or None, "last_name": last or None, "email": person.email,
              "lms_user_id": person.lms_id}
    return {key: value for key, value in fields.items() if value}


def known_students(course: Course) -> dict[str, Participant]:
    """The LMS students registered in the gradebook, by nbgrader id."""
    found = {}
    with course.gradebook() as gradebook:
        for student in gradebook.students:
            parsed = parse_student_id(student.id)
            if parsed:
                full = " ".join(part for part in (student.first_name, student.last_name) if part)
                found[student.id] = Participant(parsed[0], parsed[1], full, student.first_name,
                                                student.last_name, student.email)
    return found


def enrich(participants: list[Participant], people: list[Participant]) -> list[Participant]:
    """Participants with first/last name and email from a participants export (matched by email or name)."""
    by_email = {p.email.casefold(): p for p in people if p.email}
    by_name: dict[str, Participant] = {}
    for person in people:
        first, last = person.names()
        for key in (f"{first} {last}", f"{last} {first}", f"{last}, {first}"):
            by_name.setdefault(_name_key(key), person)
    result = []
    for participant in participants:
        match = (by_email.get(participant.email.casefold()) if participant.email else None) \
            or by_name.get(_name_key(participant.full_name))
        if match:
            participant = replace(participant, first_name=match.first_name, last_name=match.last_name,
                                  email=participant.email or match.email)
        result.append(participant)
    return result


def _name_key(name: str) -> str:
    return " ".join(name.split()).casefold()

"""`grader collect`: an LMS "download all submissions" zip into nbgrader's submitted/ folders.

The zip is only read. Everything is checked before anything is written: a damaged zip, a student the
roster does not know or two submissions from one student stop the command with one line and change
nothing. A student collected before is kept as is unless --force is given. Each collected submission gets
a timestamp.txt with the time the LMS recorded (Moodle worksheet's "Last modified (submission)"), else
the date of the student's entries in the download (when the LMS built it); a timestamp.txt the student
uploaded is never used.
"""

from __future__ import annotations

import shutil
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from grader.course import Course
from grader.errors import GraderError
from grader.lms import canvas, moodle
from grader.lms.archive import ArchiveFile, open_download, printable
from grader.lms.canvas_feedback import write_record
from grader.lms.notebook_names import NotebookMatcher
from grader.lms.roster import CANVAS, MOODLE, Participant, enrich, register

TIMESTAMP = "timestamp.txt"


@dataclass
class CollectReport:
    """What collect did: who was collected, what was renamed, kept, ignored, and what needs a person."""

    lms: str
    collected: dict[str, list[str]] = field(default_factory=dict)
    unchanged: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)
    without_submission: list[str] = field(default_factory=list)
    registered: int = 0
    times_from: str = ""


@dataclass
class _Submission:
    participant: Participant
    files: list[tuple[ArchiveFile, tuple[str, ...]]] = field(default_factory=list)
    prefixes: set[str] = field(default_factory=set)
    late: bool = False
    canvas_files: dict[str, str] = field(default_factory=dict)  # file.where -> Canvas attachment id
    canvas_name: str = ""


@dataclass
class _Plan:
    student: str
    notebooks: dict[str, ArchiveFile]
    timestamp: datetime
    canvas: tuple[str, str, dict[str, str]] | None = None  # user id, download name, notebook -> attachment


def collect(course: Course, download: Path, *, worksheet: Path | None = None,
            participants: Path | None = None, canvas_gradebook: Path | None = None,
            timezone: str | None = None, force: bool = False, assignment: str | None = None) -> CollectReport:
    """Collect a Moodle or Canvas submissions zip into autograded/submitted and register the students."""
    assignment = course.assignment(assignment)
    zone = _zone(timezone)
    with open_download(download) as files:
        lms = _detect(download, files)
        roster = _roster(lms, worksheet, participants, canvas_gradebook)
        report = CollectReport(lms, times_from="the worksheet" if worksheet else "the dates in the download")
        submissions = _group(download, files, lms, roster, report)
        people = list(roster.values()) if roster is not None else []
        people += [s.participant for s in submissions.values() if roster is None or s.participant.members]
        if participants is not None:
            people = enrich(people, moodle.read_participants(participants))
        matcher = NotebookMatcher(course, assignment)
        plans = [plan for submission in submissions.values()
                 if (plan := _plan(submission, matcher, report, zone)) is not None]
        covered = set(submissions) | {m.lms_id for s in submissions.values() for m in s.participant.members}
        report.without_submission = sorted(p.student_id for p in people
                                           if p.lms_id not in covered and not p.members)
        report.registered = register(course, people)
        for plan in plans:
            try:
                _write(course, assignment, plan, force, report)
            except OSError as error:
                folder = course.folder("submitted", assignment, plan.student)
                raise GraderError(f"{folder}: cannot be written ({error.strerror or error}); check that the "
                                  "course folder is writable and has free space, then collect "
                                  "again.") from None
    written = set(report.collected) | set(report.unchanged)
    write_record(course, assignment, [(plan.student, *plan.canvas) for plan in plans
                                      if plan.canvas is not None and plan.student in written])
    _groups_note(submissions.values(), report)
    _make_printable(report)
    return report


def _groups_note(submissions: Iterable[_Submission], report: CollectReport) -> None:
    for submission in submissions:
        group = submission.participant
        if group.members:
            names = ", ".join(f"{m.student_id} ({m.full_name})" if m.full_name else m.student_id
                              for m in group.members)
            report.notes.append(f"{group.student_id} ({group.full_name}): a group submission, graded once; "
                                f"export gives its grade and feedback to each member: {names}.")


def _make_printable(report: CollectReport) -> None:
    """Names from the download go to a terminal: no control characters (escape sequences) in any line."""
    for name in ("unchanged", "kept", "notes", "problems", "ignored", "without_submission"):
        setattr(report, name, [printable(line) for line in getattr(report, name)])
    report.collected = {printable(key): value for key, value in report.collected.items()}


def _zone(timezone: str | None) -> ZoneInfo | None:
    if not timezone:
        return None
    try:
        return ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise GraderError(f"--timezone {timezone}: unknown time zone; use a name like Europe/Berlin "
                          "or UTC.") from None


def _detect(download: Path, files: list[ArchiveFile]) -> str:
    anonymous = next((f for f in files if canvas.is_anonymous(f.parts)), None)
    if anonymous is not None:
        raise GraderError(f"{download}: {printable(anonymous.where)!r} is named anon_<id>_...: this Canvas "
                          "assignment uses anonymous grading, so no file can be matched to a student; turn "
                          "off 'Graders cannot view student names' in the assignment's settings while you "
                          "grade, then download the submissions again (or grade this assignment in "
                          "SpeedGrader).")
    if any(moodle.parse_submission_path(f.parts) for f in files):
        return MOODLE
    if any(canvas.parse_submission_path(f.parts) for f in files):
        return CANVAS
    raise GraderError(f"{download}: no file in this zip is named like a Moodle or Canvas submission "
                      "(such as 'Full Name_12345_assignsubmission_file_/...' or "
                      "'doejane_12345_67890_file.ipynb'); pass the zip from Moodle's 'Download all "
                      "submissions' or Canvas's 'Download Submissions'.")


def _roster(lms: str, worksheet: Path | None, participants: Path | None,
            gradebook: Path | None) -> dict[str, Participant] | None:
    if lms == MOODLE and gradebook is not None:
        raise GraderError(f"{gradebook}: a Canvas gradebook does not fit a Moodle download; pass the Moodle "
                          "grading worksheet with --worksheet instead.")
    if lms == CANVAS and (worksheet or participants):
        path = worksheet or participants
        raise GraderError(f"{path}: a Moodle file does not fit a Canvas download; pass the Canvas gradebook "
                          "export with --canvas-gradebook instead.")
    if worksheet is not None:
        return {p.lms_id: p for p in moodle.read_worksheet(worksheet).participants}
    if gradebook is not None:
        return {p.lms_id: p for p in canvas.read_gradebook(gradebook).participants}
    return None


def _group(download: Path, files: list[ArchiveFile], lms: str, roster: dict[str, Participant] | None,
           report: CollectReport) -> dict[str, _Submission]:
    """The download's files by LMS user (or Moodle group); unknown users and two submissions of one user
    are errors."""
    submissions: dict[str, _Submission] = {}
    moodle_roster = _MoodleRoster.of(roster) if lms == MOODLE else None
    for file in files:
        found = moodle.parse_submission_path(file.parts) if lms == MOODLE else \
            _canvas_file(download, file, roster)
        if found is None:
            if not (lms == CANVAS and canvas.is_online_entry(file.parts)):
                report.ignored.append(f"{file.where} (not in any student's submission)")
            continue
        if isinstance(found, moodle.MoodleFile):
            if found.plugin != "file":
                report.ignored.append(f"{file.where} (a {found.plugin} submission, not a file)")
                continue
            person, prefix, inner = _moodle_owner(download, file, found, moodle_roster), \
                f"{found.submission} ({found.layout})", found.inner
        else:
            person = _canvas_owner(download, file, found, roster)
            prefix, inner = found.submission, found.inner
        submission = submissions.setdefault(person.lms_id, _Submission(person))
        submission.prefixes.add(prefix)
        if isinstance(found, canvas.CanvasFile):
            submission.late = submission.late or found.late
            submission.canvas_files[file.where] = found.file_id
            submission.canvas_name = found.name
        if len(submission.prefixes) > 1:
            first, second = sorted(submission.prefixes)[:2]
            raise GraderError(f"{download}: two submissions from {lms} user {person.lms_id} ({first!r} and "
                              f"{second!r}); keep only one of them in the zip (or download the submissions "
                              "again) and collect again.")
        submission.files.append((file, inner))
    return submissions


def _canvas_file(download: Path, file: ArchiveFile,
                 roster: dict[str, Participant] | None) -> canvas.CanvasFile | None:
    """Whose file of a Canvas download this is, read from its first path part named like Canvas's."""
    for index, part in enumerate(file.parts):
        try:
            found = canvas.owner(part, roster)
        except canvas.AmbiguousName as error:
            users = " and ".join(error.user_ids)
            todo = ("pass the gradebook export with --canvas-gradebook (it tells them apart)"
                    if roster is None else "have that name changed in Canvas (People, the student, Edit: "
                    "Sortable Name), download the submissions and the gradebook export again and collect "
                    "again")
            raise GraderError(f"{download}: {file.where!r} can be read as the file of Canvas user {users}, "
                              "because its name part (the student's sortable name, which students may edit) "
                              f"holds numbers between underscores; {todo}.") from None
        if found is not None:
            return replace(found, inner=(found.filename, *file.parts[index + 1:]))
    return None


def _canvas_owner(download: Path, file: ArchiveFile, found: canvas.CanvasFile,
                  roster: dict[str, Participant] | None) -> Participant:
    if roster is None:
        return Participant(CANVAS, found.user_id, found.name)
    if found.user_id not in roster:
        raise GraderError(f"{download}: {file.where!r} belongs to canvas user {found.user_id}, who is not in "
                          "the Canvas gradebook export; download the Canvas gradebook export again (all "
                          "students, no filter) and collect again.")
    return roster[found.user_id]


@dataclass
class _MoodleRoster:
    """The worksheet's participants by id, and which group names each folder name may stand for."""

    people: dict[str, Participant]
    grouped: bool
    formatted: dict[str, set[str]]  # folder name key -> groups, as format_string writes their names
    plain: dict[str, set[str]]  # folder name key -> groups, their names as typed

    @classmethod
    def of(cls, roster: dict[str, Participant] | None) -> _MoodleRoster | None:
        if roster is None:
            return None
        formatted: dict[str, set[str]] = defaultdict(set)
        plain: dict[str, set[str]] = defaultdict(set)
        for name in {p.group for p in roster.values() if p.group}:
            plain[moodle.name_key(name)].add(name)
            for key in moodle.group_folder_keys(name):
                formatted[key].add(name)
        return cls(roster, any(p.group is not None for p in roster.values()), formatted, plain)

    def groups_named(self, folder_name: str) -> set[str]:
        """The worksheet's group names that Moodle writes as this folder name (through format_string as
        Moodle 4.1+ does; else as typed)."""
        key = moodle.name_key(folder_name)
        return self.formatted.get(key) or self.plain.get(key, set())


def _moodle_owner(download: Path, file: ArchiveFile, found: moodle.MoodleFile,
                  roster: _MoodleRoster | None) -> Participant:
    """The participant, or the group, a file of a Moodle download belongs to.

    With "Students submit in groups" the number in a Moodle 4.1+ folder is a group id: the folder's name is
    matched to the worksheet's Group column (as ``format_string`` and ``clean_filename`` write it, see
    :func:`grader.lms.moodle.group_folder_keys`), and the group's members come from there. A folder named
    like a member (``<group>-<Full Name>_<participant id>``, before Moodle 4.1) stays that member's. A folder
    whose number is a participant's but whose name is neither theirs nor a group's, or both, could be read
    two ways and stops collect.
    """
    where = repr(file.where)
    if found.default_group:
        if roster is None:
            raise GraderError(f"{download}: {where} is a group submission (\"Students submit in groups\"), "
                              "and only the grading worksheet says who is in which group; "
                              f"{moodle.GET_WORKSHEET} and pass it with --worksheet.")
        named = roster.groups_named(found.full_name)
        return _group_participant(download, where, roster.people, "0", found.full_name,
                                  lambda group: moodle.is_default_group(group) or group in named)
    pid = found.participant_id
    if roster is None:
        return Participant(MOODLE, pid, found.full_name)
    person = roster.people.get(pid)
    if roster.grouped:
        own = person is not None and _is_member_folder(found.full_name, person)
        groups = roster.groups_named(found.full_name)
        if own and groups:
            raise GraderError(f"{download}: {where} is named like participant {pid} ({person.full_name}) "  # type: ignore[union-attr]
                              f"and like the group {sorted(groups)[0]!r}, so it could be either's; rename "
                              "that group in Moodle (Participants, Groups), download the submissions and the "
                              "worksheet again and collect again.")
        if len(groups) > 1:
            names = " and ".join(repr(name) for name in sorted(groups))
            raise GraderError(f"{download}: {where} could be the submission of the group {names}: Moodle "
                              "writes their names alike in folder names; rename one of them in Moodle "
                              "(Participants, Groups), download the submissions and the worksheet again and "
                              "collect again.")
        if groups:
            (group,) = groups
            return _group_participant(download, where, roster.people, pid, found.full_name,
                                      lambda name: name == group)
        if person is not None and not own:
            raise GraderError(f"{download}: {where} has the number of participant {pid} "
                              f"({person.full_name}), but its name is neither theirs nor that of any group "
                              "in the worksheet's Group column, so it cannot be told whose it is; "
                              f"{moodle.GET_WORKSHEET} of this assignment again (all participants, no "
                              "filter) and collect again.")
    if person is None:
        kind = "group or participant" if roster.grouped else "user"
        raise GraderError(f"{download}: {where} belongs to moodle {kind} {pid}, who is not in the worksheet; "
                          f"{moodle.GET_WORKSHEET} again (all participants, no filter) and collect again.")
    return person


def _is_member_folder(folder_name: str, person: Participant) -> bool:
    """Whether a folder is named after this participant: their name, or "<group>-<their name>"."""
    folder, own = moodle.name_key(folder_name), moodle.name_key(person.full_name)
    return folder == own or (bool(person.group) and folder.endswith(f"-{own}"))


def _group_participant(download: Path, where: str, roster: dict[str, Participant], group_id: str,
                       folder_name: str, in_group: Callable[[str], bool]) -> Participant:
    members = tuple(p for p in roster.values() if p.group is not None and in_group(p.group))
    if not members:
        has_column = any(p.group is not None for p in roster.values())
        why = "lists nobody in that group" if has_column else "has no Group column"
        raise GraderError(f"{download}: {where} is the submission of the group {folder_name!r}, but the "
                          f"worksheet {why}; {moodle.GET_WORKSHEET} of this assignment again and collect "
                          "again.")
    times = [m.submitted_at for m in members if m.submitted_at is not None]
    name = members[0].group or folder_name
    return Participant(MOODLE, f"{moodle.GROUP_PREFIX}{group_id}", name, "", name,
                       submitted_at=max(times) if times else None, status=members[0].status, members=members)


def _plan(submission: _Submission, matcher: NotebookMatcher, report: CollectReport,
          zone: ZoneInfo | None) -> _Plan | None:
    """Which file becomes which notebook for one student; every unclear case goes into the report."""
    person = submission.participant
    who = f"{person.student_id} ({person.full_name})" if person.full_name else person.student_id
    candidates: dict[str, list[tuple[str, ArchiveFile]]] = defaultdict(list)
    for file, inner in submission.files:
        shown = "/".join(inner)
        if file.problem:
            report.problems.append(f"{who}: {shown}: {file.problem}; not collected.")
        elif inner[-1].lower().endswith(".ipynb"):
            found = matcher.identify(inner[-1], file.data)
            if found.notebook is None:
                report.problems.append(f"{who}: could not tell which notebook {shown!r} is (its name and "
                                       f"cells match none, or several); not collected. If it is one of "
                                       f"{', '.join(matcher.names)}, copy it into the student's folder "
                                       "under that name.")
                continue
            note = found.note(inner[-1])
            if note:
                report.notes.append(f"{who}: {note}.")
            if not found.readable:
                report.notes.append(f"{who}: {shown!r} is not a readable notebook; collected as "
                                    f"{found.notebook}.ipynb so that autograde reports it.")
            candidates[found.notebook].append((shown, file))
        elif inner[-1] == TIMESTAMP:
            report.notes.append(f"{who}: ignored the {TIMESTAMP} in the submission; the time comes from "
                                "the LMS.")
        else:
            report.ignored.append(f"{who}: {shown} (not a notebook)")
    notebooks = {}
    for name, files in candidates.items():
        chosen = _choose(name, files, who, report)
        if chosen is not None:
            notebooks[name] = chosen
    if submission.late:
        report.notes.append(f"{who}: Canvas marks this submission late.")
    if "draft" in person.status.casefold() or "entwurf" in person.status.casefold():
        report.notes.append(f"{who}: Moodle's status is {person.status!r}; the draft was collected.")
    if not notebooks:
        report.problems.append(f"{who}: no notebook of the assignment among the files; nothing collected.")
        return None
    dates = [file.modified for file, _ in submission.files if file.modified is not None]
    moment = person.submitted_at or (max(dates) if dates else None)
    if person.submitted_at is None and report.times_from == "the worksheet" and moment is not None:
        report.notes.append(f"{who}: the worksheet gives no submission time; used the date of the download, "
                            f"{moment:%Y-%m-%d %H:%M}.")
    if moment is None:
        raise GraderError(f"{who}: the download has no date for this submission and no worksheet gives one; "
                          "pass Moodle's grading worksheet with --worksheet.")
    files = {name: submission.canvas_files[file.where] for name, file in notebooks.items()
             if file.where in submission.canvas_files}
    return _Plan(person.student_id, notebooks, moment.replace(tzinfo=zone) if zone else moment.astimezone(),
                 (person.lms_id, submission.canvas_name, files) if files else None)


def _choose(name: str, files: list[tuple[str, ArchiveFile]], who: str,
            report: CollectReport) -> ArchiveFile | None:
    """One file for a notebook: the only one, identical copies, or the one with the exact name."""
    if len({file.digest() for _, file in files}) == 1:
        if len(files) > 1:
            report.notes.append(f"{who}: {', '.join(repr(s) for s, _ in files)} are identical; "
                                f"collected once as {name}.ipynb.")
        return files[0][1]
    exact = [(shown, data) for shown, data in files if shown.rsplit("/", 1)[-1] == f"{name}.ipynb"]
    listing = ", ".join(repr(shown) for shown, _ in files)
    if len(exact) == 1:
        report.notes.append(f"{who}: {listing} are all {name} and differ; collected {exact[0][0]!r}, "
                            "the one with the assignment's name.")
        return exact[0][1]
    report.problems.append(f"{who}: {listing} are all {name} and differ; none collected. Copy the right one "
                           f"into the student's folder as {name}.ipynb.")
    return None


def _write(course: Course, assignment: str, plan: _Plan, force: bool, report: CollectReport) -> None:
    """Write one student's submission folder, replacing an earlier one only with --force."""
    folder = course.folder("submitted", assignment, plan.student)
    stamp = plan.timestamp.isoformat(" ")
    if folder.exists() and any(folder.iterdir()):
        if _same(folder, plan, stamp):
            report.unchanged.append(plan.student)
            return
        if not force:
            report.kept.append(plan.student)
            return
    staging = folder.parent / f".{assignment}.collecting"
    if staging.exists():
        shutil.rmtree(staging)
    staging.mkdir(parents=True)
    for name, file in plan.notebooks.items():
        shutil.copyfile(file.stored, staging / f"{name}.ipynb")  # type: ignore[arg-type]
    (staging / TIMESTAMP).write_text(stamp + "\n", encoding="utf-8")
    if folder.exists():
        shutil.rmtree(folder)
    staging.rename(folder)
    report.collected[plan.student] = sorted(plan.notebooks)


def _same(folder: Path, plan: _Plan, stamp: str) -> bool:
    present = {path.name for path in folder.iterdir()}
    wanted = {f"{name}.ipynb" for name in plan.notebooks} | {TIMESTAMP}
    if present != wanted:
        return False
    if (folder / TIMESTAMP).read_text(encoding="utf-8").strip() != stamp:
        return False
    return all((folder / f"{name}.ipynb").read_bytes() == file.data for name, file in plan.notebooks.items())

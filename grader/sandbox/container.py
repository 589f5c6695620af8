"""A resource container (cgroup) per world: the kernel counts and bounds what the world uses.

Every world's processes (the student's code and everything it forks) live in a cgroup of their own,
made by the trusted side, which the world cannot leave (no cgroup file system is mounted inside).
The kernel counts there, whoever runs the grader (root included):
- memory of every kind: anonymous, shared (SysV, shared mappings), memfd and tmpfs pages, the
  kernel's memory for the world's objects; over the limit the kernel's OOM killer ends a process of
  that world, never another's;
- tasks (processes and threads): no more than `Limits.tasks` at once;
- CPU: every world has the same weight, and at most one core, whatever sessions or nice values its
  processes set (a cgroup's tasks are outside the kernel's per-session autogroups).
Ending a world kills every task in it (with bubblewrap the world is also a pid namespace, which the
kernel ends at once with its pid 1; without it the cgroup is frozen first, so nothing forks while it
is killed); the trusted side then reads the kernel's counters (OOM kills, refused forks) and removes
the cgroup. Cgroups are made ahead and removed afterwards by a thread of their own, so that the
kernel's slow part of both (waiting for RCU grace periods) is off a notebook's way.

cgroup v1 (a hierarchy per controller) and v2 (one unified hierarchy) are both supported. The worlds'
cgroups are made below the grading process's own cgroup, which must be writable by whoever grades:
root's always is; an unprivileged instructor needs one delegated to them (docs/sandbox.md).
"""

from __future__ import annotations

import contextlib
import errno
import itertools
import os
import queue
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

V1_CONTROLLERS = ("memory", "pids", "cpu")  # and "freezer" where worlds are no pid namespaces
V2_CONTROLLERS = ("memory", "pids", "cpu")
ROOT = Path("/sys/fs/cgroup")
CPU_PERIOD_US = 100_000


class ContainerUnavailable(Exception):
    """No resource container can be made here; the message says what is missing."""


@dataclass(frozen=True)
class Usage:
    """What the kernel counted for one world."""

    oom_kills: int = 0  # processes the kernel killed for the world's memory limit
    forks_refused: int = 0  # forks (or threads) refused at the world's task limit

    def ending(self) -> str:
        """How the kernel's counters explain a world that ended, or ""."""
        if self.oom_kills:
            return "its memory limit was exceeded (the kernel ended a process)"
        if self.forks_refused:
            return "it tried to run more processes than allowed"
        return ""


def _write(path: Path, text: str) -> None:
    with open(path, "w") as handle:
        handle.write(text)


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except OSError:
        return ""


def _field(text: str, name: str) -> int:
    for line in text.splitlines():
        key, _, value = line.partition(" ")
        if key == name and value.strip().lstrip("-").isdigit():
            return int(value)
    return 0


def _own_cgroup(hierarchy: str) -> str | None:
    """The grading process's cgroup in one v1 hierarchy ("memory") or in v2 (""), from /proc/self/cgroup."""
    for line in _read(Path("/proc/self/cgroup")).splitlines():
        _, controllers, path = line.split(":", 2)
        if (hierarchy and hierarchy in controllers.split(",")) or (not hierarchy and controllers == ""):
            return path
    return None


def _removable(folder: Path, seconds: float = 5.0) -> bool:
    """Remove an empty cgroup (its last tasks may still be leaving); False if it stays."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            folder.rmdir()
            return True
        except FileNotFoundError:
            return True
        except OSError as error:
            if error.errno != errno.EBUSY or time.monotonic() > deadline:
                return False
        time.sleep(0.002)


class WorldContainer:
    """One world's cgroup (one folder per v1 controller, or one v2 folder)."""

    def __init__(self, folders: dict[str, Path], version: int) -> None:
        self.folders = folders
        self.version = version

    def adopt(self, pid: int) -> None:
        """Put a process (the world's first task, before it runs anything of the student) in the world."""
        for folder in self.folders.values():
            _write(folder / "cgroup.procs", str(pid))

    def tasks(self) -> list[int]:
        pids: set[int] = set()
        for folder in self.folders.values():
            pids.update(int(line) for line in _read(folder / "cgroup.procs").split() if line.isdigit())
        return sorted(pids)

    def kill(self, seconds: float = 5.0) -> bool:
        """End every task of the world at once; True once none is left."""
        deadline = time.monotonic() + seconds
        freezer = self.folders.get("freezer")
        if self.version == 2:
            with contextlib.suppress(OSError):
                _write(self.folders["unified"] / "cgroup.kill", "1")
        elif freezer is not None:
            with contextlib.suppress(OSError):
                _write(freezer / "freezer.state", "FROZEN")  # nothing forks or runs while it is killed
            while "FREEZING" in _read(freezer / "freezer.state") and time.monotonic() < deadline:
                time.sleep(0.001)
        while time.monotonic() < deadline:
            left = self.tasks()
            for pid in left:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, signal.SIGKILL)
            if freezer is not None:
                with contextlib.suppress(OSError):
                    _write(freezer / "freezer.state", "THAWED")  # killed tasks can now die
            if not left:
                return True
            time.sleep(0.001)
        return not self.tasks()

    def usage(self) -> Usage:
        if self.version == 2:
            folder = self.folders["unified"]
            return Usage(oom_kills=_field(_read(folder / "memory.events"), "oom_kill"),
                         forks_refused=_field(_read(folder / "pids.events"), "max"))
        return Usage(oom_kills=_field(_read(self.folders["memory"] / "memory.oom_control"), "oom_kill"),
                     forks_refused=_field(_read(self.folders["pids"] / "pids.events"), "max"))

    def remove(self) -> bool:
        """Kill what is left and remove the folders; False if one of them stays (a task would not die)."""
        self.kill()
        return all([_removable(folder) for folder in self.folders.values()])


class Containers:
    """Where worlds' cgroups are made: below the grading process's own cgroup(s)."""

    _names = itertools.count(1)

    def __init__(self, parents: dict[str, Path], version: int, memory_swap: bool) -> None:
        self.parents = parents
        self.version = version
        self.memory_swap = memory_swap
        self._spares: dict[tuple[int, int], queue.Queue] = {}
        self._chores: queue.Queue = queue.Queue()
        self._helper: threading.Thread | None = None

    @classmethod
    def here(cls, freezer: bool = False) -> Containers:
        """The containers this process can make, or ContainerUnavailable saying why not. With `freezer`
        (worlds that are no pid namespaces) a world's cgroup is frozen before it is killed (v1)."""
        wanted = (*V1_CONTROLLERS, "freezer") if freezer else V1_CONTROLLERS
        v1 = [name for name in wanted if (ROOT / name / "cgroup.procs").exists()]
        if len(v1) == len(wanted):
            parents = {}
            for name in wanted:
                own = _own_cgroup(name)
                if own is None:
                    raise ContainerUnavailable(f"this process is in no {name} cgroup")
                parents[name] = ROOT / name / own.lstrip("/")
            swap = (parents["memory"] / "memory.memsw.limit_in_bytes").exists()
            return cls._checked(parents, 1, swap)
        if (ROOT / "cgroup.controllers").exists():
            own = _own_cgroup("")
            if own is None:
                raise ContainerUnavailable("this process is in no cgroup v2")
            parent = ROOT / own.lstrip("/")
            missing = set(V2_CONTROLLERS) - set(_read(parent / "cgroup.controllers").split())
            if missing:
                raise ContainerUnavailable(f"the cgroup {parent} offers no {', '.join(sorted(missing))} "
                                           "controller (delegate them to it)")
            return cls._checked({"unified": parent}, 2, True)
        missing = sorted(set(wanted) - set(v1))
        raise ContainerUnavailable(f"no cgroup hierarchy with the {', '.join(missing)} controllers "
                                   "is mounted")

    @classmethod
    def _checked(cls, parents: dict[str, Path], version: int, swap: bool) -> Containers:
        for parent in parents.values():
            if not os.access(parent, os.W_OK):
                raise ContainerUnavailable(f"the grader cannot make cgroups in {parent} (grade as root, "
                                           "or in a cgroup delegated to you: docs/sandbox.md)")
        containers = cls(parents, version, swap)
        if version == 2:
            containers._enable_v2_controllers()
        containers._remove_abandoned()
        return containers

    def _remove_abandoned(self) -> None:
        """Remove the empty cgroups of worlds whose grading process has gone (killed before it could)."""
        for parent in self.parents.values():
            with contextlib.suppress(OSError):
                for folder in parent.glob("grader-world-*"):
                    pid = folder.name.split("-")[2]
                    if pid.isdigit() and not Path(f"/proc/{pid}").exists():
                        with contextlib.suppress(OSError):
                            folder.rmdir()

    def _enable_v2_controllers(self) -> None:
        """v2 lets a cgroup with processes have no children with controllers: the grading process moves
        to a leaf of its own first, then the controllers are enabled for the worlds beside it."""
        parent = self.parents["unified"]
        leaf = parent / f"grader-{os.getpid()}"
        try:
            leaf.mkdir(exist_ok=True)
            for pid in _read(parent / "cgroup.procs").split():
                with contextlib.suppress(OSError):
                    _write(leaf / "cgroup.procs", pid)
            _write(parent / "cgroup.subtree_control", " ".join(f"+{name}" for name in V2_CONTROLLERS))
        except OSError as error:
            raise ContainerUnavailable(f"cannot enable {', '.join(V2_CONTROLLERS)} in {parent}: "
                                       f"{error.strerror}") from None

    def new_world(self, memory_bytes: int, tasks: int) -> WorldContainer:
        """A new, never used cgroup for one world, with its limits set: one made ahead when there is
        one (and the next is made ahead again)."""
        spares = self._spares.setdefault((memory_bytes, tasks), queue.Queue())
        self._chore(lambda: spares.put(self._made(memory_bytes, tasks)))
        try:
            world = spares.get_nowait()
        except queue.Empty:
            return self._make(memory_bytes, tasks)
        if isinstance(world, ContainerUnavailable):
            raise world
        return world

    def discard(self, world: WorldContainer, done: Callable[[bool], None]) -> None:
        """Remove a world's cgroup once its last task has left; `done(removed)` is told how it went."""
        self._chore(lambda: done(world.remove()))

    def close(self) -> None:
        """Remove the cgroups made ahead, after what is still to be removed."""
        if self._helper is not None:
            self._chores.put(None)
            self._helper.join(30)
            self._helper = None
        for spares in self._spares.values():
            while not spares.empty():
                world = spares.get_nowait()
                if isinstance(world, WorldContainer):
                    world.remove()

    def _chore(self, chore: Callable[[], None]) -> None:
        if self._helper is None or not self._helper.is_alive():
            self._helper = threading.Thread(target=self._do_chores, name="cgroups", daemon=True)
            self._helper.start()
        self._chores.put(chore)

    def _do_chores(self) -> None:
        while (chore := self._chores.get()) is not None:
            with contextlib.suppress(Exception):  # a failure shows where its cgroup is used
                chore()

    def _made(self, memory_bytes: int, tasks: int) -> WorldContainer | ContainerUnavailable:
        try:
            return self._make(memory_bytes, tasks)
        except ContainerUnavailable as error:
            return error

    def _make(self, memory_bytes: int, tasks: int) -> WorldContainer:
        """A new, empty cgroup for one world, with its limits set."""
        name = f"grader-world-{os.getpid()}-{next(self._names)}"
        folders = {key: parent / name for key, parent in self.parents.items()}
        try:
            for folder in folders.values():
                folder.mkdir()
            world = WorldContainer(folders, self.version)
            if self.version == 2:
                folder = folders["unified"]
                _write(folder / "memory.max", str(memory_bytes))
                with contextlib.suppress(OSError):
                    _write(folder / "memory.swap.max", "0")
                _write(folder / "pids.max", str(tasks))
                _write(folder / "cpu.weight", "100")
                _write(folder / "cpu.max", f"{CPU_PERIOD_US} {CPU_PERIOD_US}")
            else:
                _write(folders["memory"] / "memory.limit_in_bytes", str(memory_bytes))
                if self.memory_swap:
                    _write(folders["memory"] / "memory.memsw.limit_in_bytes", str(memory_bytes))
                _write(folders["pids"] / "pids.max", str(tasks))
                _write(folders["cpu"] / "cpu.shares", "1024")
                _write(folders["cpu"] / "cpu.cfs_period_us", str(CPU_PERIOD_US))
                _write(folders["cpu"] / "cpu.cfs_quota_us", str(CPU_PERIOD_US))
        except OSError as error:
            for folder in folders.values():
                with contextlib.suppress(OSError):
                    folder.rmdir()
            raise ContainerUnavailable(f"cannot make a cgroup in {error.filename or 'the cgroup tree'}: "
                                       f"{error.strerror}") from None
        return world

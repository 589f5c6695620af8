"""Starting the grading sandbox: bubblewrap around a pre-warmed zygote, or the strongest fallback.

The sandbox sees the Python installation read-only (without this package: the grader's own code
and the course's sample solutions are masked), its own writable folders, no network, no other
process, and nothing of the course: not source/, release/, the gradebook, the configuration, other
students' files or anyone's home. Inside it, every notebook and every test cell runs in a world of
its own (see grader/sandbox/inside/worker.py): new namespaces, fresh folders, nothing left behind.
"""

from __future__ import annotations

import base64
import contextlib
import functools
import json
import os
import shutil
import site
import socket
import struct
import subprocess
import sys
import sysconfig
import tempfile
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

from grader.sandbox import syscalls
from grader.sandbox.container import Containers, ContainerUnavailable, Usage, WorldContainer
from grader.sandbox.inside import codec, protocol

SANDBOX_CODE = Path(__file__).resolve().parent / "inside"
PACKAGE = Path(__file__).resolve().parent.parent  # the grader package
WRITABLE = (protocol.SCRATCH, "/tmp", "/dev/shm")
TMPFS_BYTES = 256 << 20


@dataclass(frozen=True)
class Limits:
    """What one notebook may use.

    The first four come from SandboxedExecute's settings (grader/preprocessors.py), the one place they
    are defined; the others are fixed here. The sandbox gets every limit it applies from here.
    """

    memory_bytes: int
    cpu_seconds: int
    wall_seconds: float
    cell_seconds: float
    tasks: int = 32  # processes and threads of one world at once (its cgroup)
    pending_signals: int = 64  # queued signals and POSIX timers (the kernel counts them per user)
    notebook_output_bytes: int = 8 << 20  # all outputs of a notebook's cells together, as kept
    processes: int = 16
    file_bytes: int = 16 << 20
    open_files: int = 256
    tmpfs_bytes: int = TMPFS_BYTES  # each of /scratch, /tmp and /dev/shm
    text: int = 20_000  # characters of each output stream, result or error message of a cell
    figure_bytes: int = 400_000  # one figure, as PNG
    figures: int = 5  # figures shown per cell
    message_bytes: int = 32 << 20  # one message from the sandbox (a value a test gets back)
    reference_elements: int = 100_000  # numbers the student's code may hand to a reference function ...
    reference_dimension: int = 1_000  # ... the length of each axis of an array it hands over ...
    reference_ndim: int = 2  # ... and how many axes (lists count as arrays)

    def rlimits(self) -> dict[str, int]:
        return {"as": self.memory_bytes, "cpu": self.cpu_seconds, "nproc": self.processes,
                "fsize": self.file_bytes, "nofile": self.open_files, "core": 0,
                "sigpending": self.pending_signals}

    def sandbox_settings(self) -> dict:
        """What the sandbox needs to know of the limits, sent with every world it opens."""
        return {"rlimits": self.rlimits(), "tmpfs_bytes": self.tmpfs_bytes, "text": self.text,
                "figure_bytes": self.figure_bytes, "figures": self.figures}


class SandboxCrashed(Exception):
    """The sandbox ended or stopped answering."""


class SandboxUnavailable(Exception):
    """A part of the sandbox is missing here, and grading without it was not accepted."""


MARGIN_SECONDS = 5.0  # the most a notebook's grading may run over its own wall_seconds (ending its world)


class WorldEnded(SandboxCrashed):
    """The world's process ended (its end of the channel closed)."""


_warned = False


# Inside the sandbox every world needs namespaces of its own (some systems allow bubblewrap's but no more).
_WORLD_PROBE = ("import ctypes, os, sys; libc = ctypes.CDLL(None, use_errno=True); "
                "sys.exit(libc.unshare(0x10000000 | 0x00020000 | 0x20000000 | 0x08000000 | 0x04000000 "
                "| 0x40000000 | 0x02000000) != 0)")


def bubblewrap_available() -> bool:
    """Whether bubblewrap can start a sandbox here, in which each notebook gets namespaces of its own."""
    return not _bubblewrap_problem()


@functools.cache
def _bubblewrap_problem() -> str:
    """Why bubblewrap cannot start this Python with the namespaces a world needs ("" if it can)."""
    bwrap = shutil.which("bwrap")
    if not bwrap:
        return "bubblewrap is not installed (apt-get install bubblewrap)"
    probe = subprocess.run([bwrap, *_bwrap_args(), sys.executable, "-E", "-s", "-c", _WORLD_PROBE],
                           capture_output=True, env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"})
    if probe.returncode == 0:
        return ""
    said = probe.stderr.decode(errors="replace").strip().splitlines()
    if said and "execvp" in said[-1]:
        return (f"bubblewrap cannot start this Python as the grading user ({said[-1][:200]}): "
                "install Python where that user can read it")
    return ("bubblewrap cannot create the namespaces a world needs here (allow unprivileged user "
            "namespaces: sysctl kernel.unprivileged_userns_clone=1, or grade outside this container)")


def missing_isolation() -> list[str]:
    """What of the sandbox is missing here, each with how to get it; empty when grading is fully isolated."""
    missing = [_bubblewrap_problem()] if _bubblewrap_problem() else []
    try:
        syscalls.sandbox_filter()
    except syscalls.SeccompUnavailable as error:
        missing.append(str(error))
    try:
        Containers.here()
    except ContainerUnavailable as error:
        missing.append(f"no resource container: {error}")
    return missing


def _warn(message: str) -> None:
    global _warned
    if not _warned:
        _warned = True
        warnings.warn(message, RuntimeWarning, stacklevel=3)
        print(message, file=sys.stderr)


def _bwrap_args(binds: tuple[str, ...] = ()) -> list[str]:
    """Everything read-only but /tmp, /dev/shm and /scratch (each world mounts fresh ones over them).

    The zygote runs as the sandbox's pid 1 (--as-pid-1): the kernel does not deliver a signal to a
    pid namespace's init from inside unless init handles it, so student code cannot kill the zygote.
    """
    args = ["--unshare-all", "--unshare-user", "--uid", "65534", "--gid", "65534", "--die-with-parent",
            "--new-session", "--as-pid-1", "--cap-drop", "ALL", "--ro-bind", "/usr", "/usr"]
    for name in ("bin", "lib", "lib32", "lib64", "sbin"):
        path = Path("/") / name
        if path.is_symlink():
            args += ["--symlink", os.readlink(path), str(path)]
        elif path.is_dir():
            args += ["--ro-bind", str(path), str(path)]
    size = ["--size", str(TMPFS_BYTES)]
    args += ["--proc", "/proc", "--dev", "/dev", *size, "--tmpfs", "/tmp", *size, "--tmpfs", "/dev/shm",
             *size, "--tmpfs", protocol.SCRATCH, "--dir", protocol.SUPPORT, "--dir", protocol.HOLD]
    for path in ("/etc/ld.so.cache", "/etc/fonts", "/etc/alternatives", "/etc/localtime"):
        if Path(path).exists():
            args += ["--ro-bind", path, path]
    for prefix in _python_folders():
        if not prefix.startswith("/usr/"):
            args += ["--ro-bind", prefix, prefix]
    for package in _installed_package_folders():
        args += ["--tmpfs", package, "--remount-ro", package]
    return [*args, *binds, "--remount-ro", "/", "--chdir", protocol.SCRATCH]


def _python_folders() -> list[str]:
    paths = sysconfig.get_paths()
    return sorted({sys.prefix, sys.base_prefix, sys.exec_prefix, paths["purelib"], paths["platlib"]})


def _installed_package_folders() -> list[str]:
    """This package wherever the sandbox could read it (a non-editable install, in the venv or in the
    base Python): masked by an empty folder, so neither the grader's code nor its sample solutions
    can be read inside."""
    bound = [folder.rstrip("/") + "/" for folder in _python_folders()]
    candidates = {*sys.path, *site.getsitepackages()}
    for base in (sys.prefix, sys.base_prefix):
        paths = sysconfig.get_paths(vars={"base": base, "platbase": base})
        candidates |= {paths["purelib"], paths["platlib"]}
    found = {str(Path(folder) / "grader") for folder in candidates
             if folder and (Path(folder) / "grader" / "sandbox" / "zygote.py").is_file()}
    found.add(str(PACKAGE))
    return sorted(path for path in found if any(path.startswith(prefix) for prefix in bound))


def _kept_below_writable() -> list[str]:
    """Read-only folders bound below a writable one (a venv under /tmp): each world binds them again."""
    below = [prefix for prefix in _python_folders()
             if any(prefix.startswith(folder + "/") for folder in WRITABLE)]
    return [prefix for prefix in below if not any(prefix.startswith(other + "/") for other in below)]


def _environment(isolated: bool, control_fd: int, scratch: str) -> dict[str, str]:
    return {"PATH": "/usr/bin:/bin", "HOME": "/tmp" if isolated else scratch, "LANG": "C.UTF-8",
            "MPLBACKEND": "Agg", "MPLCONFIGDIR": "/tmp/.matplotlib" if isolated else scratch,
            "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
            "PYTHONDONTWRITEBYTECODE": "1", protocol.ENV_CONTROL_FD: str(control_fd),
            protocol.ENV_ISOLATED: "1" if isolated else "0",
            protocol.ENV_SCRATCH: protocol.SCRATCH if isolated else scratch,
            protocol.ENV_KEEP: os.pathsep.join(_kept_below_writable()) if isolated else "",
            protocol.ENV_WORLD_FILTER: _world_filter_text()}


def _world_filter_text() -> str:
    """The world's seccomp program, as the sandbox reads it from its environment ("" without libseccomp)."""
    try:
        return base64.b64encode(syscalls.world_filter()).decode()
    except syscalls.SeccompUnavailable:
        return ""


class Zygote:
    """One sandbox with a pre-warmed Python; it runs one notebook at a time, each in a world of its own.

    `sandbox`: None grades with every part of the isolation and refuses (SandboxUnavailable) where a
    part is missing, unless `accept_risk`; then, and with False, it grades with what there is and
    `missing` says what was not there.
    """

    def __init__(self, sandbox: bool | None = None, accept_risk: bool = False) -> None:
        self.missing = missing_isolation() if sandbox is not False else ["the sandbox was turned off"]
        if self.missing and sandbox is not False and not accept_risk:
            raise SandboxUnavailable("; ".join(self.missing))
        self.isolated = sandbox is not False and bubblewrap_available()
        try:
            self.containers: Containers | None = (Containers.here(freezer=not self.isolated)
                                                  if sandbox is not False else None)
        except ContainerUnavailable:
            self.containers = None
        if self.missing:
            _warn(f"WARNING: grading without a complete sandbox ({'; '.join(self.missing)}). "
                  + ("Student code runs in a temporary folder only, and can read your files. "
                     if not self.isolated else "") + "Install what is missing to grade safely.")
        self.process: subprocess.Popen | None = None
        self.control: socket.socket | None = None
        self._scratch: str | None = None
        self._world: WorldContainer | None = None
        self._stuck = False  # a world's cgroup could not be removed: a task of it would not die
        self.last_usage = Usage()

    def start(self) -> None:
        """Start (or restart) the sandbox and wait until it is warm."""
        self.stop()
        parent, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        fd = child.fileno()
        python = [sys.executable, "-E", "-s"]
        passed = [fd]
        filter_fd = None
        if self.isolated:
            seccomp: list[str] = []
            with contextlib.suppress(syscalls.SeccompUnavailable):
                filter_fd = _readable(syscalls.sandbox_filter())
                passed.append(filter_fd)
                seccomp = ["--seccomp", str(filter_fd)]
            argv = ["bwrap", *seccomp, *_bwrap_args(("--ro-bind", str(SANDBOX_CODE), protocol.INSIDE_CODE)),
                    *python, f"{protocol.INSIDE_CODE}/worker.py"]
            scratch = protocol.SCRATCH
        else:
            self._scratch = tempfile.mkdtemp(prefix="grader-scratch-")
            argv = [*python, str(SANDBOX_CODE / "worker.py")]
            scratch = self._scratch
        try:
            self.process = subprocess.Popen(argv, pass_fds=passed,
                                            env=_environment(self.isolated, fd, scratch),
                                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                            stderr=subprocess.PIPE, cwd=self._scratch or "/")
        finally:
            child.close()
            if filter_fd is not None:
                os.close(filter_fd)
        self.control = parent
        parent.settimeout(60)
        try:
            if parent.recv(64) != protocol.READY:
                raise SandboxCrashed("the sandbox did not start")
        except (OSError, TimeoutError) as error:
            raise SandboxCrashed(f"the sandbox did not start: {self._stderr()}") from error
        parent.settimeout(None)

    def _stderr(self) -> str:
        if self.process and self.process.poll() is not None and self.process.stderr:
            return self.process.stderr.read().decode(errors="replace")[-500:]
        return ""

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def ready(self) -> None:
        """A warm sandbox, started anew where the last notebook left it stopped or stuck: before a
        notebook's clock starts, so that no classmate pays for what another notebook did."""
        if self._stuck or not self.alive():
            self.start()

    def open(self, limits: Limits, files: dict, timeout: float) -> Channel:
        """A channel to a fresh world that will run one notebook (or one test cell), the instructor's
        `files` written in it, its processes in a resource container of their own."""
        if self._stuck or not self.alive():
            self.start()
        deadline = time.monotonic() + timeout
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        ours.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)  # the kernel says who sends
        try:
            if self.containers is not None:
                self._world = self.containers.new_world(limits.memory_bytes, limits.tasks)
        except ContainerUnavailable as error:
            ours.close()
            theirs.close()
            raise SandboxCrashed(str(error)) from None
        try:
            socket.send_fds(self.control, [json.dumps(limits.sandbox_settings()).encode()], [theirs.fileno()])
        except OSError as error:
            ours.close()
            self.stop()  # the next world (or notebook) starts a new sandbox
            raise SandboxCrashed("the sandbox stopped") from error
        finally:
            theirs.close()
        channel = Channel(self, ours, limits.message_bytes)
        try:
            pid = _sender(ours, deadline)  # the world's first process, before the world holds anything
            if self._world is not None:
                try:
                    self._world.adopt(pid)
                except OSError as error:
                    raise SandboxCrashed(f"the world could not be contained ({error.strerror})") from None
            channel.send({"contained": self._world is not None})
            channel.send(files)
            channel.receive(deadline - time.monotonic())
        except BaseException:
            # The zygote has this world and waits for the word to end it: a world half opened is ended
            # here, or the zygote would take the next request for that word (red team round 3).
            ours.close()
            self.finish()
            raise
        return channel

    def finish(self, timeout: float = MARGIN_SECONDS) -> str:
        """Stop the current world; every process in it is killed. Returns how it ended, as the kernel
        tells it: the world's wait status, or its container's counters.

        The zygote kills the world's pid 1 (the kernel then ends its pid namespace, and every process of
        the world with it) and answers once pid 1 is reaped, with its wait status; the world's first
        process then tears the world's folders down, counted in the world's cgroup, which a thread
        of its own empties (killing whatever is left: without bubblewrap, what left the process group)
        and removes."""
        world, self._world = self._world, None
        with contextlib.suppress(OSError, AttributeError):
            self.control.send(protocol.STOP)
        try:
            self.control.settimeout(timeout)
            reply = self.control.recv(4096)
            if not reply:
                raise OSError("closed")
            answer = json.loads(reply)
            if answer.get("restart"):  # the zygote found a process it could not end: a new sandbox
                self.stop()
            ended = str(answer["done"])
        except (OSError, ValueError, KeyError, TypeError, AttributeError, TimeoutError):
            self.stop()  # the next world starts a new sandbox
            ended = "the sandbox itself was stopped"
        finally:
            if self.control:
                self.control.settimeout(None)
        self.last_usage = world.usage() if world is not None else Usage()
        if world is not None and self.containers is not None:
            self.containers.discard(world, self._removed)
        explained = self.last_usage.ending()
        return f"{ended}: {explained}" if explained else ended

    def _removed(self, removed: bool) -> None:
        if not removed:
            self._stuck = True  # the next world starts a new sandbox

    def stop(self) -> None:
        self._stuck = False
        if self._world is not None:
            self._world.remove()
            self._world = None
        if self.containers is not None:
            self.containers.close()
        if self.control is not None:
            self.control.close()
            self.control = None
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            self.process = None
        if self._scratch:
            _remove_tree(self._scratch)
            self._scratch = None


def _readable(data: bytes) -> int:
    """A file descriptor to read `data` from (bubblewrap reads its seccomp program so)."""
    with tempfile.TemporaryFile() as handle:
        handle.write(data)
        handle.flush()
        fd = os.dup(handle.fileno())
    os.lseek(fd, 0, os.SEEK_SET)
    return fd


def _sender(sock: socket.socket, deadline: float) -> int:
    """The process id (in this process's view) of who sent the next byte, as the kernel attached it."""
    sock.settimeout(max(deadline - time.monotonic(), 0.001))
    try:
        data, ancillary, _, _ = sock.recvmsg(1, socket.CMSG_SPACE(12))
    except (OSError, TimeoutError):
        raise SandboxCrashed("the world did not start") from None
    finally:
        sock.settimeout(None)
    for level, kind, payload in ancillary:
        if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS and len(payload) >= 12:
            pid = struct.unpack("3i", payload[:12])[0]
            if data == protocol.HELLO and pid > 0:
                return pid
    raise SandboxCrashed("the world did not start")


def _remove_tree(path: str) -> None:
    """Remove a folder the student's code wrote in, whatever permissions it gave what is in it."""

    def writable_then_retry(function, failed: str, _) -> None:
        with contextlib.suppress(OSError):
            os.chmod(os.path.dirname(failed), 0o700)
            if os.path.isdir(failed) and not os.path.islink(failed):
                os.chmod(failed, 0o700)
            function(failed)

    for _ in range(3):
        shutil.rmtree(path, onerror=writable_then_retry)
        if not os.path.exists(path):
            return


class Channel:
    """Messages to and from one world, with a deadline. It raises nothing but SandboxCrashed."""

    def __init__(self, zygote: Zygote, sock: socket.socket, limit: int) -> None:
        self.zygote = zygote
        self.sock = sock
        self.limit = limit

    def send(self, message: dict) -> None:
        try:
            codec.send(self.sock, message)
        except OSError as error:
            raise SandboxCrashed("the notebook's process ended") from error
        except (ValueError, TypeError, RecursionError) as error:
            raise SandboxCrashed(f"a message could not be sent ({type(error).__name__})") from None

    def receive(self, timeout: float) -> dict:
        try:
            return codec.receive(self.sock, self.limit, time.monotonic() + max(timeout, 0.001))
        except TimeoutError:
            raise SandboxCrashed("time limit exceeded") from None
        except (codec.Closed, ConnectionResetError, BrokenPipeError):
            raise WorldEnded("the notebook's process ended") from None
        except (ConnectionError, OSError, ValueError) as error:
            raise SandboxCrashed(str(error) or "the notebook's process ended") from None
        except Exception as error:  # whatever else a malformed message could cause
            raise SandboxCrashed(f"a malformed message ({type(error).__name__})") from None

    def close(self) -> str:
        self.sock.close()
        return self.zygote.finish()

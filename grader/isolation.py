"""Starting the grading sandbox: bubblewrap around a pre-warmed zygote, or the strongest fallback.

The sandbox sees the Python installation read-only, its own empty /tmp and scratch folder, no
network, no other process, and nothing of the course: not source/, release/, the gradebook, the
configuration, other students' files or anyone's home.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import sysconfig
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path

from grader.sandbox import codec

SANDBOX_CODE = Path(__file__).resolve().parent / "sandbox"
INSIDE_CODE = "/opt/grader-sandbox"
MESSAGE_LIMIT = 32 << 20


@dataclass(frozen=True)
class Limits:
    """What one notebook may use."""

    memory_bytes: int = 1 << 30
    cpu_seconds: int = 60
    wall_seconds: float = 120.0
    cell_seconds: float = 30.0
    processes: int = 16
    file_bytes: int = 16 << 20
    open_files: int = 256

    def rlimits(self) -> dict[str, int]:
        return {"as": self.memory_bytes, "cpu": self.cpu_seconds, "nproc": self.processes,
                "fsize": self.file_bytes, "nofile": self.open_files, "core": 0}


class SandboxCrashed(Exception):
    """The sandbox ended or stopped answering."""


_warned = False


def bubblewrap_available() -> bool:
    """Whether bubblewrap can start a sandbox here."""
    bwrap = shutil.which("bwrap")
    if not bwrap:
        return False
    probe = subprocess.run([bwrap, *_bwrap_args(), "/bin/true"], capture_output=True)
    return probe.returncode == 0


def _warn_fallback(reason: str) -> None:
    global _warned
    if not _warned:
        _warned = True
        message = (f"WARNING: grading WITHOUT a sandbox ({reason}). Student code runs with resource limits "
                   "in a temporary folder only, and can read your files. Install bubblewrap "
                   "(apt-get install bubblewrap) to grade safely.")
        warnings.warn(message, RuntimeWarning, stacklevel=3)
        print(message, file=sys.stderr)


TMPFS_BYTES = 256 << 20


def _bwrap_args(binds: tuple[str, ...] = ()) -> list[str]:
    """Everything read-only but /tmp, /dev/shm and /scratch (small, wiped after each notebook).

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
             *size, "--tmpfs", "/scratch"]
    for path in ("/etc/ld.so.cache", "/etc/fonts", "/etc/alternatives", "/etc/localtime"):
        if Path(path).exists():
            args += ["--ro-bind", path, path]
    for prefix in sorted({sys.prefix, sys.base_prefix, sys.exec_prefix, sysconfig.get_paths()["purelib"]}):
        if not prefix.startswith("/usr/"):
            args += ["--ro-bind", prefix, prefix]
    return [*args, *binds, "--remount-ro", "/", "--chdir", "/scratch"]


def _environment(isolated: bool, control_fd: int, scratch: str) -> dict[str, str]:
    return {"PATH": "/usr/bin:/bin", "HOME": "/tmp" if isolated else scratch, "LANG": "C.UTF-8",
            "MPLBACKEND": "Agg", "MPLCONFIGDIR": "/tmp/.matplotlib" if isolated else scratch,
            "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
            "PYTHONDONTWRITEBYTECODE": "1", "GRADER_CONTROL_FD": str(control_fd),
            "GRADER_ISOLATED": "1" if isolated else "0",
            "GRADER_SCRATCH": "/scratch" if isolated else scratch}


class Zygote:
    """One sandbox with a pre-warmed Python; it runs one notebook at a time."""

    def __init__(self, sandbox: bool | None = None) -> None:
        self.isolated = bubblewrap_available() if sandbox is None else sandbox
        if not self.isolated:
            _warn_fallback("bubblewrap is not available" if sandbox is None else "sandbox disabled")
        self.process: subprocess.Popen | None = None
        self.control: socket.socket | None = None
        self._scratch: str | None = None

    def start(self) -> None:
        """Start (or restart) the sandbox and wait until it is warm."""
        self.stop()
        parent, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        fd = child.fileno()
        python = [sys.executable, "-E", "-s"]
        if self.isolated:
            argv = ["bwrap", *_bwrap_args(("--ro-bind", str(SANDBOX_CODE), INSIDE_CODE)),
                    *python, f"{INSIDE_CODE}/worker.py"]
            scratch = "/scratch"
        else:
            self._scratch = tempfile.mkdtemp(prefix="grader-scratch-")
            argv = [*python, str(SANDBOX_CODE / "worker.py")]
            scratch = self._scratch
        self.process = subprocess.Popen(argv, pass_fds=[fd], env=_environment(self.isolated, fd, scratch),
                                        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                        stderr=subprocess.PIPE, cwd=self._scratch or "/")
        child.close()
        self.control = parent
        parent.settimeout(60)
        try:
            if parent.recv(64) != b"ready":
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

    def open(self, limits: Limits) -> Channel:
        """A channel to a fresh child that will run one notebook."""
        if not self.alive():
            self.start()
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            socket.send_fds(self.control, [json.dumps(limits.rlimits()).encode()], [theirs.fileno()])
        except OSError as error:
            raise SandboxCrashed("the sandbox stopped") from error
        finally:
            theirs.close()
        return Channel(self, ours)

    def finish(self, timeout: float = 10.0) -> str:
        """Stop the current child; every process it started is killed. Returns how it ended."""
        with contextlib.suppress(OSError):
            self.control.send(b"stop")
        self.control.settimeout(timeout)
        try:
            reply = self.control.recv(4096)
            if not reply:
                raise OSError("closed")
            return json.loads(reply)["done"]
        except (OSError, ValueError, KeyError, TimeoutError):
            self.start()
            return "the sandbox itself was stopped"
        finally:
            if self.control:
                self.control.settimeout(None)

    def stop(self) -> None:
        if self.control is not None:
            self.control.close()
            self.control = None
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            self.process = None
        if self._scratch:
            shutil.rmtree(self._scratch, ignore_errors=True)
            self._scratch = None


class Channel:
    """Messages to and from one notebook's child, with a deadline."""

    def __init__(self, zygote: Zygote, sock: socket.socket) -> None:
        self.zygote = zygote
        self.sock = sock
        self.deadline: float | None = None

    def send(self, message: dict) -> None:
        try:
            codec.send(self.sock, message)
        except OSError as error:
            raise SandboxCrashed("the notebook's process ended") from error

    def receive(self, timeout: float) -> dict:
        self.sock.settimeout(max(timeout, 0.001))
        try:
            return codec.receive(self.sock, MESSAGE_LIMIT)
        except TimeoutError:
            raise SandboxCrashed("time limit exceeded") from None
        except (ConnectionError, OSError, ValueError) as error:
            raise SandboxCrashed(str(error) or "the notebook's process ended") from None

    def close(self) -> str:
        self.sock.close()
        return self.zygote.finish()

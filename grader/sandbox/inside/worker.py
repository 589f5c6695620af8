"""The sandboxed side of grading: a pre-warmed zygote that forks a world per notebook and per test cell.

This file runs inside the sandbox and imports nothing of the course: only the standard library,
numpy, matplotlib, IPython's input transformer and `codec` beside it. It never decides a verdict:
it runs the student's cells and calls the student's functions on request, and answers with plain
data (see codec.py). The trusted grading process decides everything, and sends every limit.

Processes (inside bubblewrap):
- the zygote (started once per grading worker, the sandbox's pid 1) imports numpy and matplotlib,
  then waits on the control socket (fd 3) for a world to open;
- a world is what one notebook's cells (or one test cell, after its own replay of the cells) run
  in: its first process enters new user, mount, pid and IPC namespaces and mounts a fresh tmpfs on
  /scratch, /tmp, /dev/shm and the read-only folder of the instructor's files, then forks the world's
  pid 1, the process that runs the cells. When it ends (or is stopped: the zygote kills it), the
  kernel kills every process in the world, and its folders vanish with its mount namespace.
Without bubblewrap (the fallback) the world is a child in its own process group, killed as a group,
and its folder is emptied afterwards.
"""

from __future__ import annotations

import base64
import builtins
import contextlib
import ctypes
import functools
import gc
import io
import json
import os
import re
import resource
import select
import shutil
import signal
import socket
import sys
import time
import traceback
import warnings
from typing import Any

import codec

SCRATCH = os.environ.get("GRADER_SCRATCH", "/scratch")
# Inside bubblewrap every world gets namespaces of its own; without it (the fallback) it cannot.
ISOLATED = os.environ.get("GRADER_ISOLATED") == "1"
SUPPORT = "/opt/grader-support"  # the instructor's files: read-only, first on sys.path
HOLD = "/opt/grader-hold"  # where read-only folders below a writable one wait while it is replaced
_LIBC = ctypes.CDLL(None, use_errno=True)
CLONE_NEWNS, CLONE_NEWIPC, CLONE_NEWUSER, CLONE_NEWPID = 0x00020000, 0x08000000, 0x10000000, 0x20000000
CLONE_NEWUTS, CLONE_NEWNET, CLONE_NEWCGROUP, CLONE_NEWTIME = 0x04000000, 0x40000000, 0x02000000, 0x00000080
# Every namespace Linux offers, new for each world: it shares no kernel object with any other world.
WORLD_NAMESPACES = (CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWNET
                    | CLONE_NEWCGROUP | CLONE_NEWTIME)
PR_SET_NO_NEW_PRIVS, PR_SET_SECCOMP, SECCOMP_MODE_FILTER = 38, 22, 2
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 1, 2, 4, 32, 4096, 16384, 1 << 18
MNT_DETACH = 2
PR_SET_DUMPABLE = 4
PR_SET_CHILD_SUBREAPER = 36


class _Output:
    """Output limits, as the trusted side sends them with every world (no defaults here)."""

    text = 0
    figure_bytes = 0
    figures = 0


def prewarm() -> None:
    """Import what every notebook uses once, before any fork."""
    os.environ.setdefault("MPLBACKEND", "Agg")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy.random  # noqa: F401 - numpy, and what initialises weights (each world imported it again)
    from IPython.core.inputtransformer2 import TransformerManager  # noqa: F401

    plt.show = lambda *args, **kwargs: None
    _skip_layout_when_quiet()
    _draw_once(plt)


class _Quiet:
    """Whether what runs now draws nothing (a replay for a test cell, or a test's call)."""

    now = False


def _skip_layout_when_quiet() -> None:
    """Laying a figure out (tight_layout: measuring every tick label and title) is skipped when nothing
    is drawn: it returns None and only moves the axes, so no value the student's code computes changes.
    In a replay for a test cell it was most of the cells' time."""
    from matplotlib.figure import Figure

    original = Figure.tight_layout

    @functools.wraps(original)
    def tight_layout(*args: Any, **kwargs: Any) -> None:
        if not _Quiet.now:
            original(*args, **kwargs)

    Figure.tight_layout = tight_layout


def _draw_once(plt: Any) -> None:
    """Draw and save one figure with text, maths and a legend, so fonts and renderers load before fork."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(5, 3))
    left.plot([0, 1], [0, 1], label=r"$\sigma(z) = \frac{1}{1 + e^{-z}}$")
    left.bar([0, 1], [1, 2])
    left.scatter([0, 1], [1, 0])
    left.contour([[0, 1], [1, 0]])
    left.set_title("warm-up")
    left.set_xlabel("z")
    left.legend()
    left.grid(True)
    right.imshow([[0, 1], [1, 0]])
    right.text(0, 0, "0.5")
    fig.tight_layout()
    fig.savefig(io.BytesIO(), format="png", dpi=72)
    plt.close("all")


# ----------------------------------------------------------------------------- zygote


def zygote() -> None:
    """Serve notebooks one at a time on the control socket until told to quit."""
    prewarm()
    # What is imported now is never collected: a world's garbage collector then leaves it alone, and
    # does not write to (and so copy) every page the world shares with the zygote.
    gc.collect()
    gc.freeze()
    # As the sandbox's pid 1 the zygote gets only the signals it handles: it handles none.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    with contextlib.suppress(OSError, AttributeError):
        _LIBC.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)  # nothing forked from here can be traced or read
        if not ISOLATED:  # what the student's code forks (even after setsid) is reparented to the zygote
            _LIBC.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    control = socket.socket(fileno=int(os.environ["GRADER_CONTROL_FD"]))
    control.send(b"ready")
    while True:
        data, fds, _, _ = socket.recv_fds(control, 1 << 16, 1)
        if not data or data == b"quit" or not fds:
            return
        channel = socket.socket(fileno=fds[0])
        settings = json.loads(data)
        status = _serve_world(control, channel, settings) if ISOLATED else _serve_unisolated(control, channel,
                                                                                             settings)
        clean = _sweep()
        control.send(json.dumps({"done": status, "restart": not clean}).encode())
        if not clean:
            return  # something outlived its notebook: the trusted side starts a new sandbox


def _serve_world(control: socket.socket, channel: socket.socket, settings: dict) -> str:
    """Run one notebook (or one test cell) in a world of its own; say how it ended once it is gone.

    The world is a new user, mount, pid and IPC namespace. Its first process (`_world`) mounts fresh
    folders and forks the world's init; when that init ends, the kernel kills every process of the
    world, whatever its state, and the world's folders go with its mount namespace.
    """
    report_out, report_in = os.pipe()
    pid = os.fork()
    if pid == 0:
        control.close()
        os.close(report_out)
        try:
            _world(channel, settings, report_in)
        finally:
            os._exit(0)
    os.close(report_in)
    channel.close()
    status = 0
    try:
        pidfd = os.pidfd_open(pid)  # Linux only, like the sandbox itself
        try:
            ended_first = _wait_for_end(control, pidfd)
        finally:
            os.close(pidfd)
        report = "" if ended_first else _kill_world(report_out)
        with contextlib.suppress(ChildProcessError):
            _, status = os.waitpid(pid, 0)  # returns once the world's init, and so all of the world, is gone
        report += _read_all(report_out)
    finally:
        os.close(report_out)
    ending = re.search(r"^ended (.+)$", report, re.M)
    if ending and (ended_first or ending.group(1) != "killed by signal SIGKILL"):
        return ending.group(1)  # it ended by itself (perhaps just before the word to stop came)
    return _describe_status(status) if ended_first else "stopped while running"


def _kill_world(report: int) -> str:
    """Kill the world's init: the kernel then kills every other process of the world. Returns what
    was read of the world's report."""
    ready, _, _ = select.select([report], [], [], 10)
    text = os.read(report, 4096).decode(errors="replace") if ready else ""
    match = re.match(r"init (\d+)\n", text)
    if match:
        with contextlib.suppress(ProcessLookupError):
            os.kill(int(match.group(1)), signal.SIGKILL)
    return text


def _read_all(fd: int) -> str:
    chunks = []
    while chunk := os.read(fd, 4096):
        chunks.append(chunk)
    return b"".join(chunks).decode(errors="replace")


def _serve_unisolated(control: socket.socket, channel: socket.socket, settings: dict) -> str:
    """Without bubblewrap: a child in its own process group, killed as a group; its folder wiped."""
    pid = os.fork()
    if pid == 0:
        control.close()
        try:
            os.setsid()
            child(channel, settings)
        finally:
            os._exit(0)
    channel.close()
    status = 0
    pidfd = os.pidfd_open(pid)
    try:
        ended_first = _wait_for_end(control, pidfd)
    finally:
        os.close(pidfd)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)
    with contextlib.suppress(ChildProcessError):
        _, status = os.waitpid(pid, 0)
    _wipe(SCRATCH)
    return _describe_status(status) if ended_first else "stopped while running"


def _wait_for_end(control: socket.socket, pidfd: int) -> bool:
    """Wait for the trusted side's word that the notebook is done; whether its process ended first."""
    ready, _, _ = select.select([control, pidfd], [], [])
    control.recv(4096)  # the word to stop (waited for, when the process ended first)
    return pidfd in ready


def _describe_status(status: int) -> str:
    if os.WIFSIGNALED(status):
        return f"killed by signal {signal.Signals(os.WTERMSIG(status)).name}"
    return f"exited with code {os.WEXITSTATUS(status)}"


def _sweep() -> bool:
    """Reap what is left and make sure no process but the zygote remains; False if one does."""
    me = os.getpid()
    for _ in range(50):
        with contextlib.suppress(ChildProcessError):
            while os.waitpid(-1, os.WNOHANG)[0]:
                pass
        others = _other_processes(me)
        if not others:
            return True
        for pid in others:  # a zombie thread-group leader is killed with its group too
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.002)
    return False


def _other_processes(me: int) -> list[int]:
    """Inside bubblewrap: every process but the zygote. Without it: the zygote's children, which are all
    that is left of a notebook's processes (the zygote is their subreaper)."""
    if ISOLATED:
        return [int(name) for name in os.listdir("/proc") if name.isdigit() and int(name) not in (1, me)]
    children = []
    for name in os.listdir("/proc"):
        with contextlib.suppress(OSError, IndexError, ValueError), open(f"/proc/{name}/stat", "rb") as handle:
            if int(handle.read().rsplit(b")", 1)[1].split()[1]) == me:
                children.append(int(name))
    return children


def _wipe(folder: str) -> None:
    """Empty a folder, whatever permissions the student's code gave what is in it (fallback only)."""
    for _ in range(3):
        for name in os.listdir(folder):
            path = os.path.join(folder, name)
            with contextlib.suppress(OSError):
                if os.path.isdir(path) and not os.path.islink(path):
                    shutil.rmtree(path, onerror=_writable_then_retry)
                else:
                    os.unlink(path)
        if not os.listdir(folder):
            return


def _writable_then_retry(function: Any, path: str, _: Any) -> None:
    with contextlib.suppress(OSError):
        os.chmod(os.path.dirname(path), 0o700)
        if os.path.isdir(path) and not os.path.islink(path):
            os.chmod(path, 0o700)
        function(path)


# ----------------------------------------------------------------------------- a world


def _world(channel: socket.socket, settings: dict, report: int) -> None:
    """The world's first process: new namespaces, fresh folders, the instructor's files; then its pid 1."""
    _quiet_stdio()
    _enter_namespaces()
    _fresh_folders(int(settings["tmpfs_bytes"]))
    message = codec.receive(channel, 1 << 30)
    if message.get("op") != "files":
        return
    _write_files(message["files"], (SUPPORT, SCRATCH))
    _write_bytecode(message.get("bytecode", {}))
    _mount(None, SUPPORT, None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV)
    _drop_capabilities()  # the world's processes have none, not even in their own namespaces
    _refuse_world_syscalls()
    codec.send(channel, {"ok": True})
    init = os.fork()
    if init == 0:  # the world's pid 1 runs the notebook: when it ends, so does every process of the world
        os.close(report)
        try:
            child(channel, settings)
        finally:
            os._exit(0)
    channel.close()
    os.write(report, f"init {init}\n".encode())
    with contextlib.suppress(ChildProcessError):
        _, status = os.waitpid(init, 0)
        os.write(report, f"ended {_describe_status(status)}\n".encode())


def _quiet_stdio() -> None:
    """The world writes nothing to the zygote's output (a pipe the trusted side reads when it crashes)."""
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    os.close(null)


def _enter_namespaces() -> None:
    """New user, mount, pid, IPC, UTS, network, cgroup and time namespaces; the same uid inside, with
    capabilities until dropped."""
    uid, gid = os.geteuid(), os.getegid()
    _check(_LIBC.unshare(WORLD_NAMESPACES), "unshare")
    for name, text in (("setgroups", "deny"), ("uid_map", f"{uid} {uid} 1"), ("gid_map", f"{gid} {gid} 1")):
        with open(f"/proc/self/{name}", "w") as handle:
            handle.write(text)
    _mount(None, "/", None, MS_REC | MS_PRIVATE)


def _fresh_folders(size: int) -> None:
    """New, empty tmpfs on every writable folder; read-only folders bound below them are bound again."""
    keep = [path for path in os.environ.get("GRADER_KEEP", "").split(os.pathsep) if path]
    if keep:
        _mount("tmpfs", HOLD, "tmpfs", MS_NOSUID | MS_NODEV, "size=64k,mode=700")
    for index, path in enumerate(keep):
        os.mkdir(f"{HOLD}/{index}")
        _mount(path, f"{HOLD}/{index}", None, MS_BIND | MS_REC)
    for folder, mode in ((SCRATCH, "755"), ("/tmp", "1777"), ("/dev/shm", "1777"), (SUPPORT, "755")):
        _mount("tmpfs", folder, "tmpfs", MS_NOSUID | MS_NODEV, f"size={size},mode={mode}")
    for index, path in enumerate(keep):
        os.makedirs(path, exist_ok=True)
        _mount(f"{HOLD}/{index}", path, None, MS_BIND | MS_REC)
    if keep:
        _check(_LIBC.umount2(HOLD.encode(), MNT_DETACH), "umount")
    # The sandbox's /proc shows the machine's counters (memory, load, CPU time) that any world changes
    # and any other could read: a world sees an empty, read-only folder there.
    _mount("tmpfs", "/proc", "tmpfs", MS_NOSUID | MS_NODEV | MS_RDONLY, "size=4k,mode=555")


def _refuse_world_syscalls() -> None:
    """From here on, no new namespace, mount or capability, nor any interface syscalls.py refuses
    (the trusted side compiled the program; the sandbox's own filter stays under it)."""
    program = base64.b64decode(os.environ.get("GRADER_WORLD_FILTER", ""))
    if not program:
        return
    instructions = (ctypes.c_uint64 * (len(program) // 8)).from_buffer_copy(program)

    class SockFprog(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]

    fprog = SockFprog(len(program) // 8, ctypes.addressof(instructions))
    _check(_LIBC.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "no_new_privs")
    _check(_LIBC.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.byref(fprog), 0, 0), "seccomp")


def _drop_capabilities() -> None:
    """No capability at all from here on, not even in the world's own namespaces."""
    header = (ctypes.c_uint32 * 2)(0x20080522, 0)  # _LINUX_CAPABILITY_VERSION_3, this process
    _check(_LIBC.capset(header, (ctypes.c_uint32 * 6)()), "capset")


def _mount(source: str | None, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    def text(value: str | None) -> bytes | None:
        return None if value is None else value.encode()

    _check(_LIBC.mount(text(source), text(target), text(fstype), ctypes.c_ulong(flags), text(data)),
           f"mount {target}")


def _check(result: int, what: str) -> None:
    if result != 0:
        error = ctypes.get_errno()
        raise OSError(error, f"{what}: {os.strerror(error)}")


# ----------------------------------------------------------------------------- child


def child(channel: socket.socket, settings: dict) -> None:
    """Run a notebook's cells, then (in a world opened for a test cell) answer that test's calls."""
    if not ISOLATED:  # no world's first process set the world up: the files, and the filter, are added here
        message = codec.receive(channel, 1 << 30)
        if message.get("op") != "files":
            return
        _write_files(message["files"], (SCRATCH,))
        _refuse_world_syscalls()
        codec.send(channel, {"ok": True})
    # The trusted side puts this process in the world's resource container, then says so: the kernel
    # tells it which process sent this byte (SCM_CREDENTIALS), before any code of the student runs.
    channel.sendall(b"h")
    if "contained" not in codec.receive(channel, 1 << 10):
        return
    signal.signal(signal.SIGINT, signal.default_int_handler)
    _Output.text, _Output.figure_bytes, _Output.figures = (int(settings[name]) for name in
                                                           ("text", "figure_bytes", "figures"))
    os.makedirs(SCRATCH, exist_ok=True)
    os.chdir(SCRATCH)
    sys.path[:0] = [SUPPORT, SCRATCH] if ISOLATED else [SCRATCH]
    _limit(settings["rlimits"])
    os.register_at_fork(after_in_child=_lower_priority_of_forks)
    namespace: dict[str, Any] = {"__name__": "__main__", "__builtins__": builtins}
    builtins.get_ipython = lambda: _SHELL  # type: ignore[attr-defined]
    builtins.display = _display  # type: ignore[attr-defined]
    while True:
        try:
            message = codec.receive(channel, 1 << 30)
        except ConnectionError:
            return
        op = message.get("op")
        if op == "run":
            if message.get("plots") is False:
                _stand_in_for_pyplot()
            _use_backend("template" if message.get("quiet") else "Agg")
            reply = _run_cell(message["source"], namespace, quiet=bool(message.get("quiet")),
                              python=message.get("python") is True)
            codec.send(channel, {"ok": True, "failed": reply["error"] is not None} if message.get("quiet")
                       else reply)
        elif op == "resolve":
            codec.send(channel, _resolve(message["name"], namespace))
        elif op == "test":
            codec.send(channel, {"serving": True})
            _answer_requests(channel, namespace)
            codec.send(channel, {"finished": True})
        else:
            return


def _use_backend(name: str) -> None:
    """A replay (for a test cell) draws nothing: matplotlib's template backend lays text out at no cost."""
    import matplotlib.pyplot as plt

    if isinstance(plt, _PyplotStandIn):
        return
    if plt.get_backend().lower() != name.lower():
        plt.switch_backend(name)
        plt.show = lambda *args, **kwargs: None


class _Nothing:
    """Any matplotlib object, in a replay with pyplot's stand-in: every attribute, call and item of it is
    itself again, iterating it gives it once, and it works as a context manager. Nothing is built."""

    __slots__ = ()

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(name)
        return self

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self

    def __getitem__(self, key: Any) -> Any:
        return self

    def __setitem__(self, key: Any, value: Any) -> None:
        pass

    def __iter__(self) -> Any:
        return iter((self,))

    def __enter__(self) -> Any:
        return self

    def __exit__(self, *exception: Any) -> bool:
        return False


_NOTHING = _Nothing()


class _PyplotStandIn(type(sys)):
    """matplotlib.pyplot as a test cell's replay sees it, where no figure is ever shown: every function
    returns `_Nothing`; subplots gives the grid of axes its arguments ask for; there are no figures.

    Only for a replay: a cell that then goes otherwise than it went (raises where it did not) makes the
    trusted side replay again with matplotlib itself, and so does a test that fails.
    """

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(name)
        return _NOTHING

    @staticmethod
    def subplots(nrows: int = 1, ncols: int = 1, *args: Any, squeeze: bool = True, **kwargs: Any) -> Any:
        import numpy as np

        axes = np.empty((int(nrows), int(ncols)), dtype=object)
        for index in np.ndindex(axes.shape):
            axes[index] = _NOTHING
        if squeeze:
            axes = axes.item() if axes.size == 1 else axes.ravel() if 1 in axes.shape else axes
        return _NOTHING, axes

    @staticmethod
    def get_fignums() -> list[int]:
        return []


def _stand_in_for_pyplot() -> None:
    """From now on `import matplotlib.pyplot` gives the stand-in (a test cell's world, before its replay)."""
    import matplotlib

    if not isinstance(sys.modules.get("matplotlib.pyplot"), _PyplotStandIn):
        stand_in = _PyplotStandIn("matplotlib.pyplot")
        sys.modules["matplotlib.pyplot"] = stand_in
        matplotlib.pyplot = stand_in


def _limit(limits: dict) -> None:
    for name, value in limits.items():
        kind = getattr(resource, f"RLIMIT_{name.upper()}", None)
        if kind is not None:
            with contextlib.suppress(ValueError, OSError):
                resource.setrlimit(kind, (int(value), int(value)))


def _write_bytecode(modules: dict[str, str]) -> None:
    """The trusted side's compiled instructor modules (checked against their source when imported)."""
    folder = os.path.join(SUPPORT, "__pycache__")
    for module, data in modules.items():
        if module.isidentifier():
            os.makedirs(folder, exist_ok=True)
            with open(os.path.join(folder, f"{module}.{sys.implementation.cache_tag}.pyc"), "wb") as handle:
                handle.write(base64.b64decode(data))


def _write_files(files: dict[str, str], folders: tuple[str, ...]) -> None:
    for name, data in files.items():
        if os.path.basename(name) != name or name.startswith("."):
            continue
        for folder in folders:
            with open(os.path.join(folder, name), "wb") as handle:
                handle.write(base64.b64decode(data))


class _Capture(io.StringIO):
    """A stream that keeps at most the text limit's characters."""

    def write(self, text: str) -> int:
        room = _Output.text - self.tell()
        if room > 0:
            super().write(text[:room])
        return len(text)


_student_running = False


def _lower_priority_of_forks() -> None:
    """Processes the student's code forks run at a low priority: a fork bomb cannot starve other sandboxes."""
    if _student_running:
        with contextlib.suppress(OSError):
            os.nice(19)  # the lowest: a fork bomb (uncapped when grading as root) leaves the cores to others


@contextlib.contextmanager
def _student_code(quiet: bool = False):
    global _student_running
    _student_running, _Quiet.now = True, quiet
    try:
        yield
    finally:
        _student_running, _Quiet.now = False, False


def _run_cell(source: str, namespace: dict, quiet: bool = False, python: bool = False) -> dict:
    """Execute one student cell like a notebook would; return its outputs as plain data, and the Python
    code IPython's syntax (magics, `!`) became ("python"), which a replay then runs as it is."""
    from IPython.core.inputtransformer2 import TransformerManager

    out, err = _Capture(), _Capture()
    error = None
    result_text = None
    code = None
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), warnings.catch_warnings(), \
            _student_code(quiet):
        warnings.simplefilter("default")
        warnings.showwarning = _show_warning_on(err)
        try:
            code = source if python else TransformerManager().transform_cell(source)
            result_text = _execute(code, namespace)
        except BaseException as exception:  # the student's code may raise anything, even SystemExit
            error = {"ename": type(exception).__name__, "evalue": str(exception)[:_Output.text],
                     "traceback": _student_traceback(exception)}
    rendering = time.perf_counter()
    figures = _figures(render=not quiet)
    return {"stdout": out.getvalue(), "stderr": err.getvalue(), "result": result_text, "figures": figures,
            "error": error, "python": code, "rendered in": time.perf_counter() - rendering}


def _show_warning_on(stream: io.StringIO):
    def show(message, category, filename, lineno, file=None, line=None):
        stream.write(warnings.formatwarning(message, category, filename, lineno, line))

    return show


def _execute(code: str, namespace: dict) -> str | None:
    """Run the code; like IPython, show the value of a final expression."""
    import ast

    tree = ast.parse(code, filename="<cell>")
    last = tree.body[-1] if tree.body and isinstance(tree.body[-1], ast.Expr) else None
    if last is not None:
        tree.body = tree.body[:-1]
    exec(compile(tree, "<cell>", "exec"), namespace)
    if last is None:
        return None
    value = eval(compile(ast.Expression(last.value), "<cell>", "eval"), namespace)
    if value is None:
        return None
    with contextlib.suppress(Exception):
        return repr(value)[:_Output.text]
    return f"<{type(value).__name__} object>"


def _student_traceback(exception: BaseException) -> list[str]:
    frames = [frame for frame in traceback.extract_tb(exception.__traceback__) if frame.filename == "<cell>"]
    lines = [f"  line {frame.lineno}, in {frame.name}" for frame in frames]
    return [*lines, f"{type(exception).__name__}: {str(exception)[:2000]}"]


def _figures(render: bool = True) -> list[str]:
    """PNG images of the figures the cell left open (closed afterwards)."""
    import matplotlib.pyplot as plt

    images = []
    for number in plt.get_fignums()[:_Output.figures] if render else []:
        buffer = io.BytesIO()
        with contextlib.suppress(Exception), _no_idle_layout(plt.figure(number)) as figure:
            figure.savefig(buffer, format="png", dpi=72)
            if buffer.tell() <= _Output.figure_bytes:
                images.append(base64.b64encode(buffer.getvalue()).decode())
    plt.close("all")
    return images


@contextlib.contextmanager
def _no_idle_layout(figure: Any):
    """After `tight_layout` a figure keeps a layout engine that does nothing (PlaceHolderLayoutEngine),
    and savefig draws such a figure twice: once for its layout engine, once to render. Without the
    idle engine it is drawn once, into the same pixels (a quarter of what such a figure cost)."""
    from matplotlib.layout_engine import PlaceHolderLayoutEngine

    engine = figure.get_layout_engine()
    idle = type(engine) is PlaceHolderLayoutEngine
    if idle:
        figure._layout_engine = None  # no public way: set_layout_engine(None) may pick rcParams' engine
    try:
        yield figure
    finally:
        if idle:
            figure._layout_engine = engine


def _display(*objects: Any, **kwargs: Any) -> None:
    """IPython's display(): figures are shown after the cell anyway, anything else as its repr."""
    for item in objects:
        if type(item).__name__ != "Figure":
            print(repr(item))


class _Shell:
    """Enough of IPython's get_ipython() for the magics a notebook may contain."""

    def run_line_magic(self, name: str, line: str, _stack_depth: int = 1) -> None:
        if name in ("time", "timeit"):
            exec(line, sys._getframe(1).f_globals)

    def run_cell_magic(self, name: str, line: str, cell: str) -> None:
        if name in ("time", "timeit", "capture"):
            exec(cell, sys._getframe(1).f_globals)

    def system(self, command: str) -> None:
        print(f"(shell command not run while grading: {command})")

    getoutput = system

    def __getattr__(self, name: str) -> Any:
        return lambda *args, **kwargs: None


_SHELL = _Shell()


# ----------------------------------------------------------------------------- test cells


def _answer_requests(channel: socket.socket, namespace: dict) -> None:
    """Answer one test cell's requests until it ends (this world then ends with it)."""
    while True:
        message = codec.receive(channel, 1 << 30)
        op = message.get("op")
        if op == "resolve":
            codec.send(channel, _resolve(message["name"], namespace))
        elif op == "call":
            codec.send(channel, _call(channel, message, namespace))
        else:
            return


def _resolve(name: str, namespace: dict) -> dict:
    if name not in namespace or name.startswith("__"):
        return {"kind": "missing"}
    value = namespace[name]
    if callable(value) and not isinstance(value, type(sys)):
        return {"kind": "function"}
    return {"kind": "value", "value": codec.encode(value)}


def _call(channel: socket.socket, message: dict, namespace: dict) -> dict:
    """Call a student's function with plain-data arguments; trusted callables become callbacks."""
    function = namespace.get(message["name"])
    if not callable(function):
        return {"error": {"type": "NameError", "message": f"name {message['name']!r} is not defined"}}
    args = [_argument(channel, item) for item in message.get("args", [])]
    substitutes = {name: _callback(channel, ident) for name, ident in message.get("substitute", {}).items()}
    saved = {name: namespace.get(name, _MISSING) for name in substitutes}
    namespace.update(substitutes)
    out = _Capture()  # what the student's code prints while a test calls it is never shown
    caught: list = []
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out), \
                warnings.catch_warnings(record=True) as caught, _student_code(quiet=True):
            warnings.simplefilter("always")
            result = function(*args)
        reply = {"result": codec.encode(result)}
    except BaseException as exception:  # anything the student's code raises is reported, never trusted
        reply = {"error": {"type": type(exception).__name__, "message": str(exception)[:_Output.text]}}
    finally:
        for name, old in saved.items():
            if old is _MISSING:
                namespace.pop(name, None)
            else:
                namespace[name] = old
    reply["warnings"] = [{"category": w.category.__name__, "message": str(w.message)[:500]} for w in caught]
    return reply


_MISSING = object()


def _argument(channel: socket.socket, item: Any) -> Any:
    if isinstance(item, dict) and "~callback" in item:
        return _callback(channel, item["~callback"])
    return codec.decode(item)


_LOCAL_FUNCTIONS: dict[int, Any] = {}


def _encode_argument(value: Any) -> Any:
    """Plain data, or a handle the trusted side can call back (a function passed along)."""
    if callable(value) and not isinstance(value, type):
        _LOCAL_FUNCTIONS[len(_LOCAL_FUNCTIONS) + 1] = value
        return {"~function": len(_LOCAL_FUNCTIONS)}
    return codec.encode(value)


def _callback(channel: socket.socket, ident: int):
    """A function that asks the trusted side to run one of its functions (a test's reference)."""

    def call_trusted(*args: Any) -> Any:
        codec.send(channel, {"callback": ident, "args": [_encode_argument(a) for a in args]})
        while True:
            answer = codec.receive(channel, 1 << 30)
            if answer.get("op") == "invoke":
                codec.send(channel, _invoke(channel, answer))
                continue
            if "error" in answer:
                raise RuntimeError(answer["error"])
            return codec.decode(answer.get("result"))

    return call_trusted


def _invoke(channel: socket.socket, message: dict) -> dict:
    """Run a function that was passed to the trusted side, at its request."""
    function = _LOCAL_FUNCTIONS.get(message.get("id"))
    if function is None:
        return {"error": "unknown function"}
    try:
        return {"result": codec.encode(function(*[_argument(channel, a) for a in message.get("args", [])]))}
    except BaseException as exception:  # reported to the trusted side as the function's error
        return {"error": f"{type(exception).__name__}: {exception}"[:_Output.text]}


if __name__ == "__main__":
    zygote()

"""The sandboxed side of grading: a pre-warmed zygote that forks one child per notebook.

This file runs inside the sandbox and imports nothing of the course: only the standard library,
numpy, matplotlib, IPython's input transformer and `codec` beside it. It never decides a verdict:
it runs the student's cells and calls the student's functions on request, and answers with plain
data (see codec.py). The trusted grading process decides everything.

Processes:
- the zygote (started once per grading worker) imports numpy and matplotlib, then waits on the
  control socket (fd 3) for a notebook; it forks a child per notebook and, when the notebook is
  done or must be stopped, kills every other process it can see and wipes the writable folders;
- the child runs the student's cells and, for each test cell, forks a grandchild that answers
  the test cell's calls and then exits, so nothing a test cell hands to the student's code
  survives into the next one.
"""

from __future__ import annotations

import base64
import builtins
import contextlib
import ctypes
import io
import json
import os
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

TEXT_LIMIT = 20_000
FIGURE_LIMIT = 400_000
SCRATCH = os.environ.get("GRADER_SCRATCH", "/scratch")
# Inside bubblewrap the sandbox has its own process list and its own /tmp; without it (the fallback)
# only the scratch folder is ours, and only the child's process group can be killed.
ISOLATED = os.environ.get("GRADER_ISOLATED") == "1"
WRITABLE = [SCRATCH, "/tmp", "/dev/shm"] if ISOLATED else [SCRATCH]


def prewarm() -> None:
    """Import what every notebook uses once, before any fork."""
    os.environ.setdefault("MPLBACKEND", "Agg")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy  # noqa: F401
    from IPython.core.inputtransformer2 import TransformerManager  # noqa: F401

    plt.show = lambda *args, **kwargs: None
    _draw_once(plt)


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
    # As the sandbox's pid 1 the zygote gets only the signals it handles: it handles none.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None).prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE = 0: children cannot ptrace us
    control = socket.socket(fileno=int(os.environ["GRADER_CONTROL_FD"]))
    control.send(b"ready")
    while True:
        data, fds, _, _ = socket.recv_fds(control, 4096, 1)
        if not data or data == b"quit":
            return
        channel = socket.socket(fileno=fds[0])
        limits = json.loads(data)
        pid = os.fork()
        if pid == 0:
            control.close()
            try:
                child(channel, limits)
            finally:
                os._exit(0)
        channel.close()
        status = _wait_for_end(control, pid)
        if ISOLATED:
            _kill_all_but_me()
        else:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signal.SIGKILL)
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, 0)
        _wipe()
        control.send(json.dumps({"done": status}).encode())


def _wait_for_end(control: socket.socket, pid: int) -> str:
    """Wait for the trusted side's word that the notebook is done; say how the child ended."""
    pidfd = os.pidfd_open(pid)  # Linux only, like the sandbox itself
    try:
        ready, _, _ = select.select([control, pidfd], [], [])
        status = _describe_status(os.waitpid(pid, 0)[1]) if pidfd in ready else "stopped while running"
        control.recv(4096)  # the word to stop (waited for, when the child ended first)
        return status
    finally:
        os.close(pidfd)


def _describe_status(status: int) -> str:
    if os.WIFSIGNALED(status):
        return f"killed by signal {signal.Signals(os.WTERMSIG(status)).name}"
    return f"exited with code {os.WEXITSTATUS(status)}"


def _kill_all_but_me() -> None:
    """Kill every process of this sandbox except the zygote and the sandbox's init."""
    me = os.getpid()
    for _ in range(50):
        others = [int(name) for name in os.listdir("/proc")
                  if name.isdigit() and int(name) not in (1, me) and not _is_zombie(name)]
        if not others:
            break
        for pid in others:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(ChildProcessError):
            while os.waitpid(-1, os.WNOHANG)[0]:
                pass
        time.sleep(0.002)


def _is_zombie(pid: str) -> bool:
    """Whether a process has ended and only waits to be reaped (or is already gone)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            return handle.read().rsplit(b")", 1)[1].split()[0] in (b"Z", b"X")
    except (OSError, IndexError):
        return True


def _wipe() -> None:
    for folder in WRITABLE:
        if not os.path.isdir(folder):
            continue
        for name in os.listdir(folder):
            path = os.path.join(folder, name)
            if os.path.ismount(path):
                continue
            with contextlib.suppress(OSError):
                if os.path.isdir(path) and not os.path.islink(path):
                    shutil.rmtree(path, ignore_errors=True)
                else:
                    os.unlink(path)


# ----------------------------------------------------------------------------- child


def child(channel: socket.socket, limits: dict) -> None:
    """Run one notebook: files, student cells, then one grandchild per test cell."""
    os.setsid()
    signal.signal(signal.SIGINT, signal.default_int_handler)
    os.makedirs(SCRATCH, exist_ok=True)
    os.chdir(SCRATCH)
    sys.path.insert(0, SCRATCH)
    _limit(limits)
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
        if op == "files":
            _write_files(message["files"])
            codec.send(channel, {"ok": True})
        elif op == "run":
            codec.send(channel, _run_cell(message["source"], namespace))
        elif op == "test":
            _serve_test_cell(channel, namespace)
        else:
            return


def _limit(limits: dict) -> None:
    for name, value in limits.items():
        kind = getattr(resource, f"RLIMIT_{name.upper()}", None)
        if kind is not None:
            with contextlib.suppress(ValueError, OSError):
                resource.setrlimit(kind, (int(value), int(value)))


def _write_files(files: dict[str, str]) -> None:
    for name, data in files.items():
        if os.path.basename(name) != name or name.startswith("."):
            continue
        with open(os.path.join(SCRATCH, name), "wb") as handle:
            handle.write(base64.b64decode(data))


class _Capture(io.StringIO):
    """A stream that keeps at most TEXT_LIMIT characters."""

    def write(self, text: str) -> int:
        room = TEXT_LIMIT - self.tell()
        if room > 0:
            super().write(text[:room])
        return len(text)


_student_running = False


def _lower_priority_of_forks() -> None:
    """Processes the student's code forks run at a low priority: a fork bomb cannot starve other sandboxes."""
    if _student_running:
        with contextlib.suppress(OSError):
            os.nice(10)


@contextlib.contextmanager
def _student_code():
    global _student_running
    _student_running = True
    try:
        yield
    finally:
        _student_running = False


def _run_cell(source: str, namespace: dict) -> dict:
    """Execute one student cell like a notebook would; return its outputs as plain data."""
    from IPython.core.inputtransformer2 import TransformerManager

    out, err = _Capture(), _Capture()
    error = None
    result_text = None
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), warnings.catch_warnings(), \
            _student_code():
        warnings.simplefilter("default")
        warnings.showwarning = _show_warning_on(err)
        try:
            code = TransformerManager().transform_cell(source)
            result_text = _execute(code, namespace)
        except BaseException as exception:  # the student's code may raise anything, even SystemExit
            error = {"ename": type(exception).__name__, "evalue": str(exception)[:TEXT_LIMIT],
                     "traceback": _student_traceback(exception)}
    return {"stdout": out.getvalue(), "stderr": err.getvalue(), "result": result_text,
            "figures": _figures(), "error": error}


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
        return repr(value)[:TEXT_LIMIT]
    return f"<{type(value).__name__} object>"


def _student_traceback(exception: BaseException) -> list[str]:
    frames = [frame for frame in traceback.extract_tb(exception.__traceback__) if frame.filename == "<cell>"]
    lines = [f"  line {frame.lineno}, in {frame.name}" for frame in frames]
    return [*lines, f"{type(exception).__name__}: {str(exception)[:2000]}"]


def _figures() -> list[str]:
    """PNG images of the figures the cell left open (closed afterwards)."""
    import matplotlib.pyplot as plt

    images = []
    for number in plt.get_fignums()[:5]:
        buffer = io.BytesIO()
        with contextlib.suppress(Exception):
            plt.figure(number).savefig(buffer, format="png", dpi=72)
            if buffer.tell() <= FIGURE_LIMIT:
                images.append(base64.b64encode(buffer.getvalue()).decode())
    plt.close("all")
    return images


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


def _serve_test_cell(channel: socket.socket, namespace: dict) -> None:
    """Fork a grandchild that answers one test cell's requests; wait for it and clean up after it."""
    pid = os.fork()
    if pid == 0:
        try:
            _answer_requests(channel, namespace)
        finally:
            os._exit(0)
    try:
        _, status = os.waitpid(pid, 0)
    except ChildProcessError:
        status = 0
    codec.send(channel, {"ended": _describe_status(status)})


def _answer_requests(channel: socket.socket, namespace: dict) -> None:
    # A test cell's calls write no files: nothing they are handed can be left for a later cell.
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (0, 0))
    codec.send(channel, {"serving": True})
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
    out = _Capture()
    caught: list = []
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out), \
                warnings.catch_warnings(record=True) as caught, _student_code():
            warnings.simplefilter("always")
            result = function(*args)
        reply = {"result": codec.encode(result)}
    except BaseException as exception:  # anything the student's code raises is reported, never trusted
        reply = {"error": {"type": type(exception).__name__, "message": str(exception)[:TEXT_LIMIT]}}
    finally:
        for name, old in saved.items():
            if old is _MISSING:
                namespace.pop(name, None)
            else:
                namespace[name] = old
    reply["stdout"] = out.getvalue()
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
        return {"error": f"{type(exception).__name__}: {exception}"[:TEXT_LIMIT]}


if __name__ == "__main__":
    zygote()

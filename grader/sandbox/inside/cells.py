"""A world's pid 1: it runs the student's cells as a notebook would, and serves the test cell's requests.

It answers with plain data (codec.py) and decides nothing: the trusted side does."""

from __future__ import annotations

import builtins
import contextlib
import io
import os
import resource
import signal
import socket
import sys
import time
import traceback
import warnings
from typing import Any

import calls
import codec
import figures
import protocol
import state
from protocol import Op


def serve(channel: socket.socket, settings: dict) -> None:
    """Run a notebook's cells, then (in a world opened for a test cell) answer that test's calls."""
    signal.signal(signal.SIGINT, signal.default_int_handler)
    state.Output.text, state.Output.figure_bytes, state.Output.figures = (
        int(settings[name]) for name in ("text", "figure_bytes", "figures"))
    os.makedirs(protocol.SCRATCH, exist_ok=True)
    os.chdir(protocol.SCRATCH)
    sys.path[:0] = [protocol.SUPPORT, protocol.SCRATCH] if protocol.ISOLATED else [protocol.SCRATCH]
    _limit(settings["rlimits"])
    os.register_at_fork(after_in_child=state.lower_priority_of_forks)
    namespace: dict[str, Any] = {"__name__": "__main__", "__builtins__": builtins}
    builtins.get_ipython = lambda: _SHELL  # type: ignore[attr-defined]
    builtins.display = _display  # type: ignore[attr-defined]
    while True:
        try:
            message = codec.receive(channel, protocol.INBOUND_BYTES)
        except ConnectionError:
            return
        op = message.get("op")
        if op == Op.RUN:
            if message.get("plots") is False:
                figures.stand_in_for_pyplot()
            figures.use_backend("template" if message.get("quiet") else "Agg")
            reply = run_cell(message["source"], namespace, quiet=bool(message.get("quiet")),
                              python=message.get("python") is True)
            codec.send(channel, {"ok": True, "failed": reply["error"] is not None} if message.get("quiet")
                       else reply)
        elif op == Op.RESOLVE:
            codec.send(channel, calls.resolve(message["name"], namespace))
        elif op == Op.TEST:
            codec.send(channel, {"serving": True})
            calls.answer_requests(channel, namespace)
            codec.send(channel, {"finished": True})
        else:
            return


def _limit(limits: dict) -> None:
    for name, value in limits.items():
        kind = getattr(resource, f"RLIMIT_{name.upper()}", None)
        if kind is not None:
            with contextlib.suppress(ValueError, OSError):
                resource.setrlimit(kind, (int(value), int(value)))


def run_cell(source: str, namespace: dict, quiet: bool = False, python: bool = False) -> dict:
    """Execute one student cell like a notebook would; return its outputs as plain data, and the Python
    code IPython's syntax (magics, `!`) became ("python"), which a replay then runs as it is."""
    from IPython.core.inputtransformer2 import TransformerManager

    out, err = state.Capture(), state.Capture()
    error = None
    result_text = None
    code = None
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), warnings.catch_warnings(), \
            state.student_code(quiet):
        warnings.simplefilter("default")
        warnings.showwarning = _show_warning_on(err)
        try:
            code = source if python else TransformerManager().transform_cell(source)
            result_text = execute(code, namespace)
        except BaseException as exception:  # the student's code may raise anything, even SystemExit
            error = {"ename": type(exception).__name__, "evalue": str(exception)[:state.Output.text],
                     "traceback": _student_traceback(exception)}
    rendering = time.perf_counter()
    images = figures.collect(render=not quiet)
    return {"stdout": out.getvalue(), "stderr": err.getvalue(), "result": result_text, "figures": images,
            "error": error, "python": code, "rendered in": time.perf_counter() - rendering}


def _show_warning_on(stream: io.StringIO):
    def show(message, category, filename, lineno, file=None, line=None):
        stream.write(warnings.formatwarning(message, category, filename, lineno, line))

    return show


def execute(code: str, namespace: dict) -> str | None:
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
        return repr(value)[:state.Output.text]
    return f"<{type(value).__name__} object>"


def _student_traceback(exception: BaseException) -> list[str]:
    frames = [frame for frame in traceback.extract_tb(exception.__traceback__) if frame.filename == "<cell>"]
    lines = [f"  line {frame.lineno}, in {frame.name}" for frame in frames]
    return [*lines, f"{type(exception).__name__}: {str(exception)[:2000]}"]


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


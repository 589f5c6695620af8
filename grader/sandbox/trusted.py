"""Trusted execution of one notebook: student cells in the sandbox, test cells here.

The student's cells run in the sandbox, in their order, in a world of their own. Then each test cell
runs in this (trusted) process, in a fresh namespace where every name the test takes from the
student resolves to plain data or to a proxy that calls the student's function in the sandbox: in a
new world, where the student's cells were replayed (quietly) for that test cell alone. So nothing one
test cell hands to the student's code can reach another test cell, or the cells' outputs. Whether a
test passes is decided here, by code the student's code can neither reach nor change: patching numpy,
builtins, sys.modules or IPython in the sandbox, lying objects and reordered cells change nothing.
"""

from __future__ import annotations

import ast
import builtins
import contextlib
import functools
import hashlib
import importlib.util
import io
import json
import py_compile
import sys
import tempfile
import time
import warnings
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import CodeType, ModuleType
from typing import Any

import numpy as np
from nbformat import NotebookNode, from_dict

from grader.notebooks import is_test, nbgrader_meta, visible_part
from grader.sandbox.inside import codec
from grader.sandbox.inside.protocol import ENDING, SUPPORT, Op
from grader.sandbox.zygote import Channel, Limits, SandboxCrashed, WorldEnded, Zygote

MAX_CRASHES = 3
_EXCEPTIONS: dict[str, type[Exception]] = {}


class ProcessEnded(BaseException):
    """The student's process ended or broke off while a test used it (os._exit, a signal, a limit).

    A BaseException: the checks a test cell uses catch the student's exceptions (Exception), and
    must not turn this into a verdict; the test cell stops and the notebook is reported "not graded".
    """


@dataclass
class NotebookRun:
    """The executed notebook and what went wrong while running it (empty when nothing did)."""

    notebook: NotebookNode
    problems: list[str] = field(default_factory=list)
    # Wall seconds, as this side saw them: "worlds" and "test worlds" (opening the notebook's world, and
    # those of test cells), "cells" (the notebook's cells, their figures included), "replays" (the cells
    # again, for test cells) and "tests" (the test cells, their worlds and replays included); "figures"
    # (of "cells", rendering the figures to PNG, as the sandbox timed it: never used for a decision); and
    # and counts.
    timings: Counter = field(default_factory=Counter)


def student_exception(name: str) -> type[Exception]:
    """The builtin exception class of this name, or a generic one.

    The name comes from the sandbox, so the student's code chooses it: a name of its own making could
    carry what a hidden test handed to the code into the feedback. Only builtin names are kept.
    """
    builtin = getattr(builtins, name, None)
    if isinstance(builtin, type) and issubclass(builtin, Exception):
        return builtin
    if name in ("KeyboardInterrupt", "SystemExit", "GeneratorExit"):
        return _EXCEPTIONS.setdefault(name, type(name, (Exception,), {}))
    return _EXCEPTIONS.setdefault("Exception", type("Exception", (Exception,), {}))


def _ending(text: object) -> str:
    """How the student's process ended, as the sandbox says; anything else it says is not repeated."""
    match = ENDING.fullmatch(str(text))
    return match.group(0) if match else "ended unexpectedly"


def _text(value: object, limit: int) -> str:
    """Text from the sandbox, cut to the limit; a lone surrogate (which no file can hold) becomes "?"."""
    return str(value)[:limit].encode("utf-8", "replace").decode("utf-8")


@dataclass(frozen=True)
class RanCell:
    """A cell as a replay runs it again: its Python code (IPython's syntax already turned into Python in
    its first run, which said what it became), and whether it raised then."""

    source: str
    python: bool
    failed: bool

    @classmethod
    def of(cls, source: str, reply: dict) -> RanCell:
        python = reply.get("python")
        # What the first run said the cell became (its own world's word: only ever run in its own worlds).
        if isinstance(python, str) and len(python) <= 2 * len(source) + 1000:
            return cls(python, True, reply.get("error") is not None)
        return cls(source, False, reply.get("error") is not None)


class Session:
    """One notebook's world in the sandbox, restarted (and its cells replayed) when it dies.

    Each test cell gets a new world: the cells that ran are replayed there, without outputs.
    """

    def __init__(self, zygote: Zygote, files: dict[str, bytes], limits: Limits) -> None:
        self.zygote = zygote
        self.files = files
        self.limits = limits
        self.deadline = time.monotonic() + limits.wall_seconds
        self.channel: Channel | None = None
        self.replay: list[RanCell] = []  # the cells that ran, to run again in a new world
        self.full_replay = False  # the current test cell's world replays with matplotlib itself
        self.stood_in = False  # the current test cell's world replayed with pyplot's stand-in
        self.test: str | None = None  # a test cell's world: None, "waiting" (to open), "serving", "ended"
        self.values: dict[str, dict] = {}  # what names the tests use stood for after the student's cells
        self.timings: Counter = Counter()  # see NotebookRun.timings
        self.refused: str | None = None  # why a reference function was not run during the current call
        self.notebook_world_used = False  # whether a test cell has had the notebook's own world
        self.output_bytes = 0  # of the outputs kept so far (Limits.notebook_output_bytes)
        self._reaches: tuple[int, bool] | None = None  # (cells replayed, whether they reach pyplot)

    def remaining(self, cap: float | None = None) -> float:
        """What is left of the notebook's time (everything grading it does counts), at most `cap`."""
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise SandboxCrashed(f"the notebook's time limit of {self.limits.wall_seconds:g} s was exceeded")
        return min(left, cap) if cap else left

    def ensure(self) -> Channel:
        if self.channel is None:
            start = time.perf_counter()
            files = {"op": Op.FILES, "files": {name: codec.base64.b64encode(data).decode()
                                              for name, data in self.files.items()},
                     "bytecode": _bytecode(self.files) if self.zygote.isolated else {}}
            channel = self.zygote.open(self.limits, files, self.remaining(30))
            self.channel = channel
            self.timings["test worlds" if self.test else "worlds"] += time.perf_counter() - start
            stand_in = self.test == "waiting" and not self.full_replay
            if not self._replay(channel, stand_in):  # a cell went otherwise than it did: replay it all
                self.reset()
                self.full_replay = True
                return self.ensure()
            self.stood_in = stand_in and bool(self.replay)
        return self.channel

    def _replay(self, channel: Channel, stand_in: bool = False) -> bool:
        """Run the cells that ran again, quietly. A replay counts toward the notebook's time, like
        everything grading it does.

        With `stand_in` (a test cell's world), pyplot is replaced by a stand-in that builds nothing (see
        the sandbox's worker); False if a cell then raised where it had not, or the other way round.
        """
        start = time.monotonic()
        try:
            for cell in self.replay:
                channel.send({"op": Op.RUN, "source": cell.source, "python": cell.python, "quiet": True,
                              "plots": not stand_in})
                reply = channel.receive(self.remaining(self.limits.cell_seconds))
                if stand_in and reply.get("failed") is not cell.failed:
                    return False
            return True
        finally:
            self.timings["replays"] += time.monotonic() - start

    def reset(self) -> str:
        """Stop the world (its container kills all it started); the next request opens a fresh one.
        Ending a world counts toward the notebook's time too; the kernel ends it at once."""
        ended = self.channel.close() if self.channel else "not started"
        self.channel = None
        if self.test == "serving":
            self.test = "ended"
        return ended

    def run_cell(self, source: str) -> dict:
        channel = self.ensure()
        start = time.monotonic()
        channel.send({"op": Op.RUN, "source": source})
        reply = channel.receive(self.remaining(self.limits.cell_seconds))
        took = time.monotonic() - start
        self.timings["cells"] += took
        rendered = reply.get("rendered in")  # as the sandbox says: for the benchmark's breakdown alone
        if isinstance(rendered, float) and rendered > 0:
            self.timings["figures"] += min(rendered, took)
        self.replay.append(RanCell.of(source, reply))
        return reply

    def prefetch(self, names: list[str]) -> None:
        """Ask the notebook's world what these names stand for, before any test cell hands it anything."""
        for name in names:
            channel = self.ensure()
            channel.send({"op": Op.RESOLVE, "name": name})
            reply = channel.receive(self.remaining(10))
            if reply.get("kind") in ("value", "function", "missing"):
                self.values[name] = reply

    def begin_test(self, full_replay: bool = False) -> None:
        """The test cell gets a world of its own, opened at its first call.

        The first test cell takes over the notebook's own world, where every cell has run and its
        outputs (and the values the tests read) are already taken, so nothing the test hands the
        student's code can reach them; it is closed with that test cell. Every later test cell gets a
        new world, where the student's cells are replayed: with pyplot's stand-in, unless `full_replay`.
        """
        if self.channel is None or self.notebook_world_used:
            self.reset()
        self.notebook_world_used = True
        self.full_replay, self.stood_in = full_replay, False
        self.test = "waiting"

    def functions_reach_plots(self) -> bool:
        """Whether the cells' functions can reach pyplot (_functions_reach_plots), found once per
        notebook (and kept no longer than the notebook)."""
        if self._reaches is None or self._reaches[0] != len(self.replay):
            sources = tuple(ran.source for ran in self.replay)
            self._reaches = (len(self.replay), _functions_reach_plots(sources))
        return self._reaches[1]

    def _open_test_world(self) -> None:
        try:
            channel = self.ensure()
            channel.send({"op": Op.TEST})
            if "serving" not in channel.receive(self.remaining(10)):
                raise SandboxCrashed("the test process did not start")
        except SandboxCrashed as crash:
            self.test = "ended"
            raise ProcessEnded(f"the student's cells could not be replayed for this test ({crash})") from None
        self.test = "serving"

    def end_test(self) -> None:
        """Close the test cell's world: nothing it was handed survives it."""
        self.reset()
        self.test = None

    def request(self, message: dict, callbacks: dict[int, Callable[..., Any]]) -> dict:
        """Send a request of the test cell; run the callbacks it asks for; return its answer."""
        if self.test == "waiting":
            self._open_test_world()
        if self.test != "serving" or self.channel is None:
            raise ProcessEnded("the student's process for this test ended earlier")
        channel = self.channel
        try:
            channel.send(message)
            while True:
                reply = channel.receive(self.remaining(self.limits.cell_seconds))
                if "callback" in reply:
                    channel.send(self._run_callback(callbacks, reply))
                else:
                    return reply
        except WorldEnded:
            self.test = "ended"
            raise ProcessEnded(f"the student's code ended its process ({_ending(self.reset())})") from None
        except SandboxCrashed as crash:
            raise ProcessEnded(str(crash)) from None

    def _run_callback(self, callbacks: dict[int, Callable[..., Any]], reply: dict) -> dict:
        """Run a trusted function the student's code called; functions it passed stay in the sandbox."""
        ident = reply.get("callback")
        function = callbacks.get(ident) if type(ident) is int else None
        raw = reply.get("args", [])
        if function is None or not isinstance(raw, list):
            return {"error": "unknown callback"}
        args = [SandboxFunction(a["~function"], self, callbacks) if isinstance(a, dict) and "~function" in a
                else codec.decode(a) for a in raw]  # a function passed along is only ever called back there
        refused = _too_big_for_a_reference(args, self.limits)
        if refused:  # the reference is not run: the call that asked for it fails
            self.refused = refused
            return {"error": f"ValueError: {refused}"}
        try:
            return {"result": codec.encode(function(*args))}
        except Exception as error:  # a reference function failing on the student's data
            return {"error": f"{type(error).__name__}: {error}"[:self.limits.text]}


def _too_big_for_a_reference(args: list[Any], limits: Limits) -> str | None:
    """Why these arguments are too big to hand to a reference function here, or None.

    A reference runs in this (trusted) process, on data the student's code chose: the total number of
    elements, the length of each axis and the number of axes are capped, so that its time and memory
    stay small (an outer product of two vectors is at most reference_dimension squared elements).
    """
    elements = 0
    for arg in args:
        count, shape_ok = _elements(arg, limits, 0)
        elements += count
        if not shape_ok:
            return (f"a reference function was handed an array with more than {limits.reference_ndim} axes "
                    f"or an axis longer than {limits.reference_dimension}")
    if elements > limits.reference_elements:
        return f"reference functions are handed at most {limits.reference_elements} numbers at a time"
    return None


def _elements(value: Any, limits: Limits, depth: int) -> tuple[int, bool]:
    """(number of elements, whether every array or list in it is small enough in shape)."""
    if isinstance(value, np.ndarray):
        return value.size, value.ndim + depth <= limits.reference_ndim and all(
            n <= limits.reference_dimension for n in value.shape)
    if isinstance(value, (list, tuple)):
        if len(value) > limits.reference_dimension or depth >= limits.reference_ndim:
            return len(value), False
        total, ok = 0, True
        for item in value:
            count, item_ok = _elements(item, limits, depth + 1)
            total, ok = total + count, ok and item_ok
        return total, ok
    if isinstance(value, dict):
        total, ok = 0, True
        for item in value.values():
            count, item_ok = _elements(item, limits, depth)
            total, ok = total + count, ok and item_ok
        return total, ok
    return 1, True


class SandboxFunction:
    """A function the student's code passed to a trusted one (say, an activation): it runs in the sandbox."""

    def __init__(self, ident: int, session: Session, callbacks: dict[int, Callable[..., Any]]) -> None:
        self.ident = ident
        self.session = session
        self.callbacks = callbacks

    def __call__(self, *args: Any) -> Any:
        reply = self.session.request({"op": Op.INVOKE, "id": self.ident,
                                      "args": [codec.encode(a) for a in args]}, self.callbacks)
        if "error" in reply:
            raise RuntimeError(_text(reply["error"], self.session.limits.text))
        return codec.decode(reply.get("result"))


class StudentFunction:
    """Stands for a student's function: calling it calls the real one in the sandbox."""

    def __init__(self, name: str, session: Session) -> None:
        self.__name__ = name
        self._session = session

    def __repr__(self) -> str:
        return f"<function {self.__name__}>"

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.call_with_references({}, *args, **kwargs)

    def call_with_references(self, references: dict[str, Callable[..., Any]], *args: Any,
                             **kwargs: Any) -> Any:
        """Call it while these trusted functions stand in for the student's functions of the same names."""
        if kwargs:
            raise TypeError("the grader passes arguments by position only")
        callbacks: dict[int, Callable[..., Any]] = {}

        def register(function: Callable[..., Any]) -> int:
            callbacks[len(callbacks) + 1] = function
            return len(callbacks)

        encoded = [{"~callback": register(a)} if callable(a) and not isinstance(a, type) else codec.encode(a)
                   for a in args]
        substitute = {name: register(function) for name, function in references.items()}
        self._session.refused = None
        # What the student's function prints is not shown: it could show what a hidden test handed it.
        reply = self._session.request({"op": Op.CALL, "name": self.__name__, "args": encoded,
                                       "substitute": substitute}, callbacks)
        _mirror_changes(args, reply.get("changed"))
        if self._session.refused:
            raise ValueError(self._session.refused)
        limit = self._session.limits.text
        for caught in reply.get("warnings", [])[:20]:
            category = student_exception(str(caught.get("category", "Warning")))
            if not (isinstance(category, type) and issubclass(category, Warning)):
                category = UserWarning
            warnings.warn(_text(caught.get("message", ""), min(500, limit)), category, stacklevel=2)
        if "error" in reply:
            error = reply["error"] if isinstance(reply["error"], dict) else {}
            exception = student_exception(str(error.get("type", "Exception")))
            raise exception(_text(error.get("message", ""), limit))
        return codec.decode(reply.get("result"))


def _mirror_changes(args: tuple[Any, ...], changed: Any) -> None:
    """Leave the arrays a call was handed as the student's function left them (as a call in the
    student's own kernel would), so a check can see a function that changed its input in place."""
    if not isinstance(changed, dict):
        return
    for index, value in list(changed.items())[:len(args)]:
        arg = args[int(index)] if str(index).isdigit() and int(index) < len(args) else None
        after = codec.decode(value)
        if (isinstance(arg, np.ndarray) and isinstance(after, np.ndarray) and after.shape == arg.shape
                and after.dtype == arg.dtype and arg.flags.writeable):
            np.copyto(arg, after)


class StudentNames(dict):
    """A test cell's namespace: names the test does not define come from the student's notebook."""

    def __init__(self, session: Session) -> None:
        super().__init__()
        self._session = session

    def __missing__(self, name: str) -> Any:
        if name in builtins.__dict__ or name.startswith("__"):
            raise KeyError(name)
        reply = self._session.values.get(name) or self._session.request({"op": Op.RESOLVE, "name": name}, {})
        if reply.get("kind") == "function":
            return StudentFunction(name, self._session)
        if reply.get("kind") == "value":
            return codec.decode(reply.get("value"))
        raise KeyError(name)


_CHECKS_CODE: dict[tuple[str, bytes], CodeType] = {}


def load_checks(path: Path) -> ModuleType:
    """A fresh copy of the instructor's check helpers (no state carried from another test cell).

    The module is run anew each time; only its compiled code is kept (per file and content)."""
    source = path.read_bytes()
    key = (str(path), hashlib.sha256(source).digest())
    if key not in _CHECKS_CODE:
        _CHECKS_CODE[key] = compile(source, str(path), "exec", dont_inherit=True)
    spec = importlib.util.spec_from_file_location("checks", path)
    module = importlib.util.module_from_spec(spec)
    exec(_CHECKS_CODE[key], module.__dict__)
    return module


def execute(notebook: NotebookNode, zygote: Zygote, files: dict[str, bytes], checks: Path,
            limits: Limits) -> NotebookRun:
    """Run the student's cells in the sandbox, then the test cells here; fill in every cell's outputs."""
    notebook = from_dict(notebook)
    run = NotebookRun(notebook)
    with contextlib.suppress(SandboxCrashed):  # if it cannot start, the first cell says so
        zygote.ready()
    session = Session(zygote, files, limits)
    run.timings = session.timings
    count = 0
    try:
        for cell in notebook.cells:
            if cell.cell_type == "code" and not is_test(cell):
                count += 1
                _run_student_cell(cell, count, session, run)
        tests = [cell for cell in notebook.cells if is_test(cell)]
        # Only names the release's test cells show: nothing of a hidden test reaches a world before it runs.
        with contextlib.suppress(SandboxCrashed):
            session.prefetch(sorted(set().union(*[_names_used(visible_part(cell.source)) for cell in tests])))
        for cell in tests:
            count += 1
            start = time.perf_counter()
            _run_test_cell(cell, count, session, checks, run)
            session.timings["tests"] += time.perf_counter() - start
    finally:
        session.reset()
    return run


@functools.lru_cache(maxsize=256)
def _names_used(source: str) -> frozenset[str]:
    """The names a test cell reads (that it may take from the student's notebook)."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return frozenset()
    names = {node.id for node in ast.walk(tree)
             if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load)}
    return frozenset(name for name in names if name not in builtins.__dict__ and not name.startswith("__"))


@functools.lru_cache(maxsize=256)
def _compiled_test(source: str, name: str) -> CodeType:
    """A test cell's code, compiled once per process (every student's notebook has the same tests)."""
    return compile(source, f"<test {name}>", "exec", dont_inherit=True)


_BYTECODE: dict[bytes, bytes] = {}


def _bytecode(files: dict[str, bytes]) -> dict[str, str]:
    """Compiled instructor modules (checked against their source), so no world compiles them again."""
    compiled = {}
    for name, source in files.items():
        if name.endswith(".py") and name.isascii():
            key = hashlib.sha256(name.encode() + b"\0" + source).digest()
            if key not in _BYTECODE:
                _BYTECODE[key] = _compile(name, source)
            if _BYTECODE[key]:
                compiled[name[:-3]] = codec.base64.b64encode(_BYTECODE[key]).decode()
    return compiled


def _compile(name: str, source: bytes) -> bytes:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / name
        path.write_bytes(source)
        try:
            py_compile.compile(str(path), cfile=str(path) + "c", dfile=f"{SUPPORT}/{name}",
                               doraise=True,
                               invalidation_mode=py_compile.PycInvalidationMode.CHECKED_HASH)
        except py_compile.PyCompileError:
            return b""
        return Path(str(path) + "c").read_bytes()


def _run_student_cell(cell: NotebookNode, count: int, session: Session, run: NotebookRun) -> None:
    cell.execution_count = count
    crashes = sum("ended the grading process" in p for p in run.problems)
    if crashes >= MAX_CRASHES:
        cell.outputs = [_error("NotRun", "not run: earlier cells ended the grading process too often")]
        return
    try:
        reply = session.run_cell(cell.source)
    except SandboxCrashed as crash:
        ended = session.reset()
        run.problems.append(f"cell {count} ended the grading process ({crash}; {ended})")
        cell.outputs = [_error("GradingStopped", f"this cell ended the grading process ({crash}); "
                               "it was skipped and the rest of the notebook was graded without it")]
        return
    outputs = _student_outputs(reply, count, session.limits)
    size = sum(len(json.dumps(output)) for output in outputs)
    session.output_bytes += size
    if session.output_bytes > session.limits.notebook_output_bytes:  # the graded notebook stays small
        outputs = [from_dict({"output_type": "stream", "name": "stdout", "text": (
            f"(this cell's outputs are not kept: the notebook's outputs are over "
            f"{session.limits.notebook_output_bytes >> 20} MB in all)\n")})] if size else []
    cell.outputs = outputs


def _student_outputs(reply: dict, count: int, limits: Limits) -> list[NotebookNode]:
    """The outputs of a student cell; the sandbox keeps them small, and so does this side (it may lie)."""
    outputs = []
    for name in ("stdout", "stderr"):
        if reply.get(name):
            outputs.append(from_dict({"output_type": "stream", "name": name,
                                      "text": _text(reply[name], limits.text)}))
    figures = reply.get("figures") if isinstance(reply.get("figures"), list) else []
    for image in figures[:limits.figures]:
        if isinstance(image, str) and len(image) <= limits.figure_bytes * 4 // 3 + 4:
            outputs.append(from_dict({"output_type": "display_data", "data": {"image/png": image},
                                      "metadata": {}}))
    if reply.get("result") is not None:
        outputs.append(from_dict({"output_type": "execute_result", "execution_count": count,
                                  "data": {"text/plain": _text(reply["result"], limits.text)},
                                  "metadata": {}}))
    error = reply.get("error")
    if isinstance(error, dict):
        lines = error.get("traceback") if isinstance(error.get("traceback"), list) else []
        outputs.append(from_dict({"output_type": "error", "ename": _text(error.get("ename", "Error"), 100),
                                  "evalue": _text(error.get("evalue", ""), limits.text),
                                  "traceback": [_text(line, 2000) for line in lines[:50]]}))
    return outputs


def _run_test_cell(cell: NotebookNode, count: int, session: Session, checks: Path, run: NotebookRun) -> None:
    """Run one test cell, once: its verdict is the only one. (A test that ran again where it failed
    gave the student's code two tries: code that tells the two worlds apart passes contradictory
    tests.) Its world replays the cells with pyplot's stand-in only where no function or class the
    cells define can reach a matplotlib object (decided from the cells, before any test runs)."""
    cell.execution_count = count
    name = str(nbgrader_meta(cell).get("grade_id") or f"in cell {count}")
    full_replay = session.functions_reach_plots()
    printed, failure, problems = _attempt_test(cell, name, session, checks, full_replay=full_replay)
    run.problems.extend(problems)
    with contextlib.suppress(SandboxCrashed):
        session.end_test()
    outputs = []
    if printed:
        outputs.append(from_dict({"output_type": "stream", "name": "stdout",
                                  "text": _text(printed, session.limits.text)}))
    if failure is not None:
        outputs.append(_error(type(failure).__name__, _text(failure, session.limits.text)))
    cell.outputs = outputs


PLOTTING = frozenset({"plt", "pyplot", "matplotlib", "mpl"})


PARSED_BYTES = 200_000  # cells longer than this in all are not parsed here: they are replayed with matplotlib


def _functions_reach_plots(sources: tuple[str, ...]) -> bool:
    """Whether a function, lambda or class the cells define reads a name (or attribute, or string) that
    is matplotlib or pyplot, or a name bound (anywhere in the cells) from an expression that reads one:
    called by a test, it could behave otherwise with pyplot's stand-in. Cells too long to parse in the
    trusted process, or that cannot be parsed, count as reaching."""
    if sum(len(source) for source in sources) > PARSED_BYTES:
        return True
    try:
        trees = [ast.parse(source) for source in sources]
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return True
    module_level = [node for tree in trees for node in _outside_definitions(tree)]
    tainted = set(PLOTTING)
    for node in module_level:
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "matplotlib":
            if any(alias.name == "*" for alias in node.names):
                return True
            tainted |= {alias.asname or alias.name for alias in node.names}
        elif isinstance(node, ast.Import):
            tainted |= {alias.asname or alias.name.split(".")[0] for alias in node.names
                        if alias.name.split(".")[0] == "matplotlib"}
    bindings = [node for node in module_level if isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign,
                                                                    ast.For, ast.With, ast.NamedExpr))]
    # A name read by a binding taints what it binds: followed name by name, each binding once (a chain
    # a0 = plt, a1 = a0, ... costs its length, not its square).
    readers: dict[str, list[int]] = {}
    for index, node in enumerate(bindings):
        for name in _names(node):
            readers.setdefault(name, []).append(index)
    waiting, followed = list(tainted), set()
    while waiting:
        for index in readers.get(waiting.pop(), ()):
            if index not in followed:
                followed.add(index)
                fresh = _bound(bindings[index]) - tainted
                tainted |= fresh
                waiting.extend(fresh)
    definitions = [node for tree in trees for node in ast.walk(tree)
                   if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef))]
    return any(_free_names(definition) & tainted for definition in definitions)


def _outside_definitions(tree: ast.AST) -> list[ast.AST]:
    """The nodes of a module that are not inside a function, lambda or class (what binds its globals)."""
    found, todo = [], [tree]
    while todo:
        node = todo.pop()
        found.append(node)
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)):
            todo.extend(ast.iter_child_nodes(node))
    return found


def _free_names(definition: ast.AST) -> set[str]:
    """What a function, lambda or class reads that is not its own parameter or local name (so, a global
    of the cells; attributes and "matplotlib..." strings always count)."""
    own: set[str] = set()
    if isinstance(definition, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
        arguments = definition.args
        own |= {arg.arg for arg in [*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs,
                                    *filter(None, [arguments.vararg, arguments.kwarg])]}
        own |= {node.id for node in ast.walk(definition) if isinstance(node, ast.Name)
                and isinstance(node.ctx, ast.Store)}
        own -= {name for node in ast.walk(definition) if isinstance(node, (ast.Global, ast.Nonlocal))
                for name in node.names}
    return _names(definition) - own


def _names(node: ast.AST) -> set[str]:
    """The names, attribute names and "matplotlib..." strings a node reads."""
    names = set()
    for child in ast.walk(node):
        if isinstance(child, ast.Name):
            names.add(child.id)
        elif isinstance(child, ast.Attribute):
            names.add(child.attr)
        elif isinstance(child, ast.Constant) and isinstance(child.value, str) and "matplotlib" in child.value:
            names.add("matplotlib")
    return names


def _bound(node: ast.AST) -> set[str]:
    """The names a binding statement binds."""
    targets = {ast.Assign: lambda n: n.targets, ast.AugAssign: lambda n: [n.target],
               ast.AnnAssign: lambda n: [n.target], ast.For: lambda n: [n.target],
               ast.NamedExpr: lambda n: [n.target],
               ast.With: lambda n: [item.optional_vars for item in n.items if item.optional_vars]}
    return {name for target in targets[type(node)](node) for name in _names(target)}


def _attempt_test(cell: NotebookNode, name: str, session: Session, checks: Path,
                  full_replay: bool) -> tuple[str, BaseException | None, list[str]]:
    """(what the test printed, why it failed or None, problems to report) of one run of a test cell."""
    printed = io.StringIO()
    failure: BaseException | None = None
    problems: list[str] = []
    saved_checks = sys.modules.get("checks")
    sys.modules["checks"] = load_checks(checks)
    try:
        session.begin_test(full_replay)
        namespace = StudentNames(session)
        with contextlib.redirect_stdout(printed), contextlib.redirect_stderr(printed):
            exec(_compiled_test(cell.source, name), namespace)
    except (SandboxCrashed, ProcessEnded) as crash:
        # The student's process ended or broke off: the test is failed and the notebook reported.
        # The process is replaced (its cells replayed) for the next test: it may have lied about ending.
        failure = crash if isinstance(crash, ProcessEnded) else ProcessEnded(f"grading stopped: {crash}")
        problems.append(f"test {name}: {crash}")
        session.reset()
    except Exception as error:  # a failing test: its message is the verdict's explanation
        failure = error
    finally:
        if saved_checks is None:
            sys.modules.pop("checks", None)
        else:
            sys.modules["checks"] = saved_checks
    return printed.getvalue(), failure, problems


def _error(name: str, message: str) -> NotebookNode:
    return from_dict({"output_type": "error", "ename": name, "evalue": message,
                      "traceback": [f"{name}: {message}"]})

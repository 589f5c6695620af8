"""Checks used by the test cells of the Lecture 1 notebooks.

Every check explains itself to a student: what was called, what was
expected, what came back and, where a known mistake explains the
difference, its name. Hidden checks (used while grading) never show their
inputs, their expected values or what the student's code printed.

Usage in a test cell::

    out = checks.call(svm_loss, S, y)
    checks.expect_close(out, 5.2667, mistakes={"forgetting the margin": 4.2667})
    checks.passed("svm_loss")

A failing check raises CheckFailed: in Jupyter it shows only its message (no traceback into this
file), and the cell still ends in an error, so "Run All" stops there and nbgrader scores it failed.
"""

from __future__ import annotations

import contextlib
import importlib
import inspect
import io
import json
import linecache
import re
import sys
import warnings
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "CheckFailed",
    "Outcome",
    "answer",
    "answered",
    "call",
    "expect_close",
    "expect_equal",
    "expect_no_warning",
    "expect_shape",
    "first",
    "fix_first",
    "needs",
    "passed",
    "pyplot",
    "requires",
    "summary",
    "use_references",
    "value",
    "visible_tables",
]

_MISSING = object()
_references: dict[str, dict[str, Callable[..., Any]]] = {}
_passes: dict[str, Any] = {}  # name -> the function (or answer) that passed its visible test, for `summary`
_called: set[str] = set()  # the functions a check has called (whether or not their tests passed)
_hidden_checked = False  # whether a hidden test ran since the last `passed` (a test cell's hidden part)
_RED, _BOLD, _RESET = "\x1b[31m", "\x1b[1m", "\x1b[0m"


class CheckFailed(AssertionError):
    """A check did not pass; the message is written for the student.

    IPython shows an exception through its `_render_traceback_` when it has one: a failing check
    shows just its message, without the frames of this file. str() is the whole message (the
    grader builds the graded notebook's error output from it).
    """

    def _render_traceback_(self) -> list[str]:
        first, *rest = str(self).splitlines() or [""]
        return [f"{_RED}{_BOLD}{first}{_RESET}", *rest]


def _short(obj: Any, prefix: str = "") -> str:
    """A compact representation of a value for messages; rows of a matrix are aligned under `prefix`."""
    if isinstance(obj, np.ndarray) and obj.ndim:
        with np.printoptions(precision=6, suppress=True, threshold=20, floatmode="maxprec"):
            return np.array2string(obj, separator=", ", prefix=prefix, max_line_width=100)
    if isinstance(obj, (float, np.floating)) or (isinstance(obj, np.ndarray) and obj.dtype.kind == "f"):
        return f"{float(obj):.6g}"
    text = repr(obj)
    return text if len(text) <= 300 else text[:297] + "..."


class Outcome:
    """What came back from a student's function (or a student's variable)."""

    def __init__(self, value: Any, label: str, hidden: str | None = None,
                 caught: list[warnings.WarningMessage] | None = None) -> None:
        self.value = value
        self.label = label
        self.hidden = hidden
        self.warnings = caught or []

    def describe(self) -> str:
        """How to name this outcome in a message without revealing hidden inputs."""
        if self.hidden:
            return f"{self.label} on a hidden test ({self.hidden})"
        return self.label

    def __getitem__(self, key: Any) -> Outcome:
        try:
            part = self.value[key]
        except Exception as error:
            raise CheckFailed(
                f"{self.describe()} returned {type(self.value).__name__}, "
                f"which has no part [{key!r}] ({type(error).__name__}). "
                "Check what your function returns."
            ) from None
        return Outcome(part, f"{self.label}[{key!r}]", self.hidden, self.warnings)

    def map(self, function: Callable[[Any], Any], label: str) -> Outcome:
        """A quantity derived from the outcome, e.g. its column sums."""
        return Outcome(function(self.value), label.format(self.label), self.hidden, self.warnings)


def use_references(function_name: str, **references: Callable[..., Any]) -> None:
    """While `function_name` is checked, call these functions in place of the student's own.

    This keeps a mistake in one function from costing the points of another
    function that calls it.
    """
    _references[function_name] = dict(references)


@contextlib.contextmanager
def _substituted(func: Callable[..., Any], references: dict[str, Callable[..., Any]]):
    namespace = getattr(func, "__globals__", None)
    if namespace is None or not references:
        yield
        return
    saved = {name: namespace.get(name, _MISSING) for name in references}
    namespace.update(references)
    try:
        yield
    finally:
        for name, old in saved.items():
            if old is _MISSING:
                namespace.pop(name, None)
            else:
                namespace[name] = old


def _call_with_references(func: Callable[..., Any], args: list[Any]) -> Any:
    """Call `func`; while it runs, the references registered for it stand in for the student's helpers.

    A helper swap never gives points to code that does not run: `func` is first called as it is, with
    the student's own helpers. If that call fails, the swap only counts when a helper is to blame (it
    fails, or returns a wrong value, on the arguments `func` hands it, without calling `func` back);
    otherwise the failure of the student's own call is the verdict.
    """
    references = _references.get(getattr(func, "__name__", ""), {})
    if references:
        try:
            with _quiet():
                _swapped(func, {}, [_copy(a) for a in args])
        except Exception:
            if not _a_helper_is_to_blame(func, references, args):
                raise
    return _swapped(func, references, args)


def _swapped(func: Callable[..., Any], references: dict[str, Callable[..., Any]], args: list[Any]) -> Any:
    """While grading, the student's function lives in a sandbox and comes with its own way of doing this."""
    sandboxed = getattr(func, "call_with_references", None)
    if sandboxed is not None:
        return sandboxed(references, *args)
    with _substituted(func, references):
        return func(*args)


@contextlib.contextmanager
def _quiet():
    """Nothing a call prints or warns is shown."""
    sink = io.StringIO()
    with warnings.catch_warnings(record=True), contextlib.redirect_stdout(sink), \
            contextlib.redirect_stderr(sink):
        warnings.simplefilter("always")
        yield


def _sibling(func: Callable[..., Any], name: str) -> Callable[..., Any] | None:
    """The student's own function `name`, from the notebook `func` comes from."""
    namespace = getattr(func, "__globals__", None)
    if namespace is not None:
        helper = namespace.get(name)
        return helper if callable(helper) else None
    session = getattr(func, "_session", None)  # a sandboxed function: its notebook's other names
    return type(func)(name, session) if session is not None else None


def _a_helper_is_to_blame(func: Callable[..., Any], references: dict[str, Callable[..., Any]],
                          args: list[Any]) -> bool:
    """Whether one of the student's helpers, on its own, fails where its reference works."""
    calls: list[tuple[str, list[Any]]] = []

    def recording(name: str, reference: Callable[..., Any]) -> Callable[..., Any]:
        def stand_in(*helper_args: Any) -> Any:
            # A function handed along (an activation) is only valid during this call: the helper is
            # checked with the identity in its place, the same for the student's helper and the reference.
            calls.append((name, [_identity if callable(a) else _copy(a) for a in helper_args]))
            return reference(*helper_args)
        return stand_in

    try:
        with _quiet():
            _swapped(func, {n: recording(n, r) for n, r in references.items()}, [_copy(a) for a in args])
    except Exception:
        return False  # it fails even with correct helpers
    own_name = getattr(func, "__name__", "")
    for name, helper_args in calls[:20]:
        helper = _sibling(func, name)
        if helper is not None and _fails_on_its_own(helper, own_name, references[name], helper_args):
            return True
    return False


def _identity(z: Any) -> Any:
    return z


def _fails_on_its_own(helper: Callable[..., Any], caller: str, reference: Callable[..., Any],
                      args: list[Any]) -> bool:
    """The student's helper fails or differs from its reference here, without calling `caller` back."""
    called_back = []

    def trap(*_: Any) -> Any:
        called_back.append(True)
        raise RecursionError(f"{caller} called back")

    try:
        with _quiet():
            got = _swapped(helper, {caller: trap}, [_copy(a) for a in args])
    except Exception:
        return not called_back
    if called_back:
        return False
    try:
        with _quiet():
            want = reference(*[_copy(a) for a in args])
        return not np.allclose(np.asarray(got, dtype=np.float64), np.asarray(want, dtype=np.float64),
                               rtol=1e-4, atol=1e-6, equal_nan=True)
    except Exception:
        return False


def _copy(argument: Any) -> Any:
    return argument.copy() if isinstance(argument, np.ndarray) else argument


def _argument_text(argument: Any) -> str:
    if isinstance(argument, np.ndarray):
        if argument.size > 12:
            return f"<array of shape {argument.shape}, dtype {argument.dtype}>"
        dtype = "" if argument.dtype in (np.float64, np.int64) else f", dtype=np.{argument.dtype}"
        return f"np.array({argument.tolist()!r}{dtype})"
    if isinstance(argument, np.ufunc):
        return f"np.{argument.__name__}"
    if callable(argument) and not isinstance(argument, type):
        name = getattr(argument, "__name__", None)
        text = name or repr(argument)
        return type(argument).__name__ if " at 0x" in text else text
    return repr(argument)


def call(func: Callable[..., Any], *args: Any, hidden: str | None = None,
         mistakes: Mapping[type[BaseException], str] | None = None) -> Outcome:
    """Call a student's function on copies of `args` and record what came back.

    `hidden` describes a hidden test in words; its inputs are then never shown,
    and what the function prints is not shown either. `mistakes` names the known
    mistake an exception stands for, e.g. {ZeroDivisionError: "no guard for 0 / 0"}.
    """
    global _hidden_checked
    _hidden_checked = _hidden_checked or bool(hidden)
    name = getattr(func, "__name__", repr(func))
    _called.add(name)
    if _passes.get(name, func) is not func:  # changed since its test passed: that pass no longer counts
        del _passes[name]
    label = name if hidden else f"{name}({', '.join(_argument_text(a) for a in args)})"
    if not callable(func):
        raise CheckFailed(f"{name} should be a function, but it is a {type(func).__name__}.")
    # nbgrader fails a test cell that writes to stderr: what the student's code prints there is
    # shown as ordinary output instead, and nothing at all is shown on hidden tests.
    sink = io.StringIO() if hidden else sys.stdout
    redirect = contextlib.ExitStack()
    redirect.enter_context(contextlib.redirect_stderr(sink))
    if hidden:
        redirect.enter_context(contextlib.redirect_stdout(sink))
    handed = [_copy(a) for a in args]
    with warnings.catch_warnings(record=True) as caught, np.errstate(all="warn", under="ignore"), redirect:
        warnings.simplefilter("always")
        try:
            result = _call_with_references(func, handed)
        except NotImplementedError:
            raise CheckFailed(f"{name} is not implemented yet: "
                              "replace `raise NotImplementedError()` with your code.") from None
        except Exception as error:
            detail = "" if hidden else f": {error}"
            lines = [f"{Outcome(None, label, hidden).describe()} raised {type(error).__name__}{detail}"]
            known = next((m for kind, m in (mistakes or {}).items() if isinstance(error, kind)), None)
            if known:
                lines.append(f"This matches a known mistake: {known}.")
            else:
                lines += _explained(error, name, show_line=not hidden)
            raise CheckFailed("\n".join(lines)) from None
    _expect_inputs_unchanged(func, args, handed, Outcome(None, label, hidden).describe())
    return Outcome(result, label, hidden, list(caught))


# Python's and numpy's error messages for the mistakes beginners make, each in the lecture's words.
# (pattern of the message, what it means and what to change); the first pattern that matches is used.
_ERRORS: tuple[tuple[str, str], ...] = (
    (r"only integer scalar arrays can be converted to a scalar index",
     "np.max(0, v) takes the largest entry of 0 along the axis v: it is not the elementwise max(0, v) of the "
     "formula. Write np.maximum(0, v), which compares element by element."),
    (r"truth value of an array with more than one element is ambiguous",
     "an array was used where Python needs one True or False: Python's max(0, v), an `if` or `and` on an "
     "array. For the elementwise max(0, v) write np.maximum(0, v); for a condition per element use "
     "np.where(condition, a, b)."),
    (r"only (length-1|size-1|0-dimensional|one element) arrays can be converted to Python scalars",
     "a function of Python's math module (math.exp, math.log, ...) got an array: math works on one number at "
     "a time. Use numpy's np.exp, np.log, ..., which work on every element of an array."),
    (r"math range error",
     "math.exp overflowed: e^z is larger than the largest float for z > 709.78. Use np.exp on arrays, and "
     "the numerically stable formula above (never exp of a large positive number)."),
    (r"math domain error",
     "math.log got 0 or a negative number: log(0) is -infinity. Use np.log, and keep its argument away "
     "from 0 (clip it) as the explanation above shows."),
    (r"^matmul: Input operand|shapes \(.*\) and \(.*\) not aligned",
     "a matrix product of two arrays whose inner sizes differ: for A @ B the number of columns of A must "
     "equal the number of rows of B. Check the order (Θ · x, not x · Θ) and the shapes: here a column is one "
     "example, so X has shape (n_in, m)."),
    (r"operands could not be broadcast together",
     "two arrays of shapes that do not fit were combined elementwise. Check the shapes: S is (K, N) with one "
     "column per example; S[y] takes whole rows (shape (N, N)), the true-class score of every column is "
     "S[y, np.arange(N)] (shape (N,)); a bias is a column (n_out, 1)."),
    (r"ufunc 'bitwise_xor' not supported",
     "^ is not a power in Python: it is a bitwise xor. Write θ**2 (or np.square(θ)) for the square."),
    (r"unsupported operand type\(s\) for \^",
     "^ is not a power in Python: it is a bitwise xor. Write θ**2 (or np.square(θ)) for the square."),
    (r"index -?\d+ is out of bounds for axis",
     "an index is larger than the array: check which axis holds the classes (the rows, K) and which the "
     "examples (the columns, N)."),
    (r"only integers, slices .* are valid indices",
     "an index must be an int or an array of ints: a float (e.g. from / or np.mean) cannot index an array. "
     "Use int(...) or an integer array (y.astype(int))."),
    (r"division by zero",
     "a division by 0: a count that can be 0 (no examples, no predicted positives) needs its own case."),
    (r"has no len\(\)",
     "len() of a number: the variable is a single number, not an array. Check what the line before returns."),
)


def _explained(error: BaseException, name: str, show_line: bool) -> list[str]:
    """One sentence that says what a Python or numpy error means here, and the line it came from."""
    text = str(error)
    meaning = next((sentence for pattern, sentence in _ERRORS if re.search(pattern, text)), None)
    lines = [f"What it means: {meaning}"] if meaning else []
    where = _student_line(error) if show_line else None
    if where:
        lines.append(f"It happened in {where[0]}, in the line `{where[1]}`.")
    return lines


def _student_line(error: BaseException) -> tuple[str, str] | None:
    """(function, source line) of the last frame of the student's own code in an error's traceback."""
    found = None
    frame = error.__traceback__
    while frame is not None:
        code = frame.tb_frame.f_code
        if _NOTEBOOK_CELL.search(code.co_filename):
            line = linecache.getline(code.co_filename, frame.tb_lineno).strip()
            if line:
                found = (code.co_name if not code.co_name.startswith("<") else "your cell", line)
        frame = frame.tb_next
    return found


# The file names IPython gives the code of a notebook's cells (ipykernel 6+, older IPython, exec'd cells):
# only a line of the student's own cells is shown, never one of a library or of the grader.
_NOTEBOOK_CELL = re.compile(r"ipykernel_\d+[/\\]\d+\.py$|^<ipython-input-|^<cell")


def _expect_inputs_unchanged(func: Callable[..., Any], originals: tuple[Any, ...], handed: list[Any],
                             described: str) -> None:
    """A function must leave the arrays it was handed as they were: the caller still needs them."""
    for position, (original, after) in enumerate(zip(originals, handed, strict=True)):
        if not isinstance(original, np.ndarray) or not isinstance(after, np.ndarray):
            continue
        if after.shape == original.shape and np.array_equal(after, original, equal_nan=True):
            continue
        raise CheckFailed(
            f"{described} changed its input {_parameter(func, position)} in place. A function must leave its "
            "inputs unchanged: the caller still needs them (in a network, the next layer or the next step "
            "of training would get the changed numbers). Work on a new array instead: s = s - s.max() "
            "instead of s -= s.max(), or a copy, s = s.copy(), before changing entries.")


def _parameter(func: Callable[..., Any], position: int) -> str:
    """The name of a function's parameter at `position`, or its position in words."""
    with contextlib.suppress(TypeError, ValueError):
        names = [n for n, p in inspect.signature(func).parameters.items()
                 if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
        if position < len(names):
            return f"`{names[position]}`"
    return f"number {position + 1}"


def value(obj: Any, name: str) -> Outcome:
    """Wrap a student's variable (an answer to a question) for checking."""
    return Outcome(obj, name)


def _as_array(outcome: Outcome) -> np.ndarray:
    got = outcome.value
    if got is None:
        raise CheckFailed(f"{outcome.describe()} returned None. Did you forget `return`?")
    try:
        return np.asarray(got, dtype=np.float64)
    except (TypeError, ValueError):
        raise CheckFailed(
            f"{outcome.describe()} returned a {type(got).__name__}, expected a number or a numpy array."
        ) from None


def _matching_mistake(got: np.ndarray, mistakes: Mapping[str, Any] | None, rtol: float,
                      atol: float) -> str | None:
    for name, wrong in (mistakes or {}).items():
        if callable(wrong):  # a test of its own: say, "between 1e-6 and 0.1"
            with contextlib.suppress(Exception):
                if bool(wrong(got)):
                    return name
            continue
        wrong = np.asarray(wrong, dtype=np.float64)
        if wrong.size == got.size and np.allclose(got.reshape(wrong.shape), wrong, rtol=max(rtol, 1e-3),
                                                   atol=max(atol, 1e-4), equal_nan=True):
            return name
    return None


def _right_numbers_wrong_shape(got: np.ndarray, want: np.ndarray, hidden: bool) -> str | None:
    """The name of a result with the right numbers in an array of the wrong shape (a (1, N) row, say)."""
    if got.size != want.size or not np.allclose(got.reshape(want.shape), want, rtol=1e-4, atol=1e-6,
                                                  equal_nan=True):
        return None
    shapes = "" if hidden else f" of shape {got.shape} instead of {want.shape}"
    return (f"the numbers are right, but in an array{shapes} (e.g. from keepdims=True or a reshape to a "
            "row): return the shape the docstring asks for (np.ravel(...), or no keepdims)")


def _fail(outcome: Outcome, problem: str, expected: Any, got: Any, mistake: str | None) -> None:
    lines = [f"{outcome.describe()} {problem}."]
    if not outcome.hidden:
        lines.append(f"  expected: {_short(expected, '  expected: ')}")
        lines.append(f"  got:      {_short(got, '  got:      ')}")
    if mistake:
        lines.append(f"This matches a known mistake: {mistake}.")
    raise CheckFailed("\n".join(lines))


def expect_shape(outcome: Outcome, shape: tuple[int, ...]) -> None:
    """The outcome is an array of exactly this shape."""
    got = _as_array(outcome)
    if got.shape != tuple(shape):
        if outcome.hidden:  # the shape the code made of a hidden input could tell that input
            raise CheckFailed(f"{outcome.describe()} returned an array of the wrong shape.")
        raise CheckFailed(f"{outcome.describe()} has shape {got.shape}, expected {tuple(shape)}.")


def expect_close(outcome: Outcome, expected: Any, *, mistakes: Mapping[str, Any] | None = None,
                 rtol: float = 1e-5, atol: float = 1e-8) -> None:
    """The outcome equals `expected` within tolerances; a scalar may come as any number type."""
    got = _as_array(outcome)
    want = np.asarray(expected, dtype=np.float64)
    if want.ndim == 0 and got.size == 1:
        got = got.reshape(())
    if got.shape != want.shape:
        mistake = (_matching_mistake(got, mistakes, rtol, atol)
                   or _right_numbers_wrong_shape(got, want, bool(outcome.hidden)))
        problem = (f"has shape {got.shape}, expected shape {want.shape}" if not outcome.hidden
                   else "has the wrong shape")
        _fail(outcome, problem, want, got, mistake)
    if np.allclose(got, want, rtol=rtol, atol=atol, equal_nan=True):
        return
    problem = "returned a wrong value"
    if not np.all(np.isfinite(got)) and np.all(np.isfinite(want)):
        problem = "returned nan or inf where a finite value was expected"
    _fail(outcome, problem, want, got, _matching_mistake(got, mistakes, rtol, atol))


def expect_equal(outcome: Outcome, expected: Any, *, mistakes: Mapping[str, Any] | None = None) -> None:
    """The outcome equals `expected` exactly (integers, class indices, tuples, booleans)."""
    got = outcome.value
    if isinstance(expected, bool):
        same = isinstance(got, (bool, np.bool_)) and bool(got) == expected
    elif isinstance(expected, tuple):
        same = isinstance(got, (tuple, list)) and len(got) == len(expected) and all(
            _is_integer(a) and int(a) == b for a, b in zip(got, expected, strict=True))
    else:
        same = _same_array(got, expected)
    if same:
        return
    mistake = next((name for name, wrong in (mistakes or {}).items() if _same_array(got, wrong)), None)
    _fail(outcome, "is not right", expected, got, mistake)


def _is_integer(number: Any) -> bool:
    return isinstance(number, (int, np.integer)) and not isinstance(number, (bool, np.bool_))


def _same_array(got: Any, wrong: Any) -> bool:
    try:
        return np.shape(got) == np.shape(wrong) and bool(np.all(np.asarray(got) == np.asarray(wrong)))
    except (TypeError, ValueError):
        return False


def expect_no_warning(outcome: Outcome, category: type[Warning] = RuntimeWarning, *,
                      mistake: str | None = None) -> None:
    """The call emitted no warning of this category (such as numpy's overflow warning).

    `mistake` names the known mistake such a warning stands for.
    """
    found = [w for w in outcome.warnings if issubclass(w.category, category)]
    if found:
        # On a hidden test the warning's text is not shown: the student's code writes it.
        detail = "" if outcome.hidden else f": {found[0].message}"
        lines = [f"{outcome.describe()} emitted a {category.__name__}{detail}. "
                 "A numerically stable implementation avoids it."]
        if mistake:
            lines.append(f"This matches a known mistake: {mistake}.")
        raise CheckFailed("\n".join(lines))


def passed(name: str) -> None:
    """Print the one-line confirmation of a test cell whose checks all passed (remembered for `summary`)."""
    global _hidden_checked
    _passes[name] = sys._getframe(1).f_globals.get(name, _MISSING)
    if _hidden_checked:
        print(f"\u2714 {name} passed all tests.")
    else:
        print(f"\u2714 {name} passed the visible tests. (Hidden tests check more cases when your "
              "notebook is graded.)")
    _hidden_checked = False


def answered(name: str) -> None:
    """Print that the answer `name` has the right format (its value is checked when graded); remember it."""
    _passes[name] = sys._getframe(1).f_globals.get(name, _MISSING)
    print(f"{name} has the right format; its value is checked when your notebook is graded.")


def _still_passing(name: str, namespace: dict[str, Any]) -> bool:
    """Whether `name` passed its visible test and is still the same function (or answer) since."""
    if name not in _passes:
        return False
    now = namespace.get(name, _MISSING)
    if callable(now):
        return now is _passes[name]
    return _same_array(now, _passes[name]) and type(now) is type(_passes[name])


def summary(notebook: str) -> None:
    """The visible tests of this notebook in points, as far as they ran in this kernel (the last cell)."""
    if not _passes and not _called:
        print("No visible test has run in this kernel yet: run all cells (Kernel > Restart Kernel and Run "
              "All Cells), and this cell adds up their points.")
        return
    points = _test_points(notebook)
    if not points and not _passes:  # as where the notebook is graded: its test cells run elsewhere
        print("No visible test has passed in this kernel yet: run the test cells (Kernel > Restart Kernel "
              "and Run All Cells), and this cell adds up their points. (When your notebook is graded, the "
              "tests run apart from this cell: the grade shows their points.)")
        return
    if not points:
        print(f"This cell reads the points from {notebook}.ipynb, which is not in this folder; the visible "
              f"tests passed so far: {', '.join(sorted(_passes))}.")
        return
    namespace = sys._getframe(1).f_globals
    functions = {n: p for n, p in points.items() if not n.startswith("answer_")}
    questions = {n: p for n, p in points.items() if n.startswith("answer_")}
    earned, parts = 0.0, []
    for name, worth in functions.items():
        ok = _still_passing(name, namespace)
        earned += worth if ok else 0
        note = "" if ok else (": changed since its test passed, run the test again" if name in _passes
                              else ": not passed yet")
        parts.append(f"{name} {_points(worth if ok else 0)} of {_points(worth)}{note}")
    lines = [f"Visible tests: {_points(earned)} of {_points(sum(functions.values()))} points "
             f"({'; '.join(parts)})."]
    if questions:
        formatted = sum(_still_passing(name, namespace) for name in questions)
        worth = sum(questions.values())
        lines.append(f"Questions: {_points(worth)} point{'' if worth == 1 else 's'}, checked only when your "
                     f"notebook is graded ({formatted} of {len(questions)} answers have the right format).")
    lines.append("The hidden tests check the same functions on other inputs: a function that fails a visible "
                 "test loses its points, one that passes them all may still lose them on a hidden test.")
    print("\n".join(lines))


def _points(number: float) -> str:
    return f"{number:g}"


def _test_points(notebook: str) -> dict[str, float]:
    """{function or answer name: points} of the graded test cells of `notebook`.ipynb (in this folder)."""
    for folder in (Path.cwd(), Path(__file__).resolve().parent):
        path = folder / f"{notebook}.ipynb"
        with contextlib.suppress(OSError, ValueError):
            cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
            found = {}
            for cell in cells:
                marks = cell.get("metadata", {}).get("nbgrader", {})
                grade_id = str(marks.get("grade_id", ""))
                if marks.get("grade") and grade_id.startswith("test_"):
                    found[grade_id[len("test_"):]] = float(marks.get("points", 0))
            return found
    return {}


def visible_tables(notebook: str) -> dict[str, Any]:
    """The long tables of a notebook's visible tests (the values of known mistakes), kept beside the
    notebook in `<notebook>_tests.json` so that the test cells stay short. Hidden tests keep theirs."""
    path = Path(__file__).resolve().parent / f"{notebook}_tests.json"
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise CheckFailed(f"{path.name} is missing or damaged: keep it next to the notebook and checks.py "
                          "(unpack the exercise folder again); the visible tests read their tables from "
                          "it.") from None


def answer(name: str) -> Any:
    """The value of the answer variable `name` in the calling cell's notebook, or a message to define it."""
    namespace = sys._getframe(1).f_globals
    try:
        return namespace[name]  # a lookup the grader's test namespace answers, unlike .get()
    except KeyError:
        raise CheckFailed(f"{name} is not defined yet: in the cell above, replace "
                          f"`raise NotImplementedError()` with your answer, `{name} = ...`, "
                          "and run that cell.") from None


INSTALL_MATPLOTLIB = ("This cell draws a plot: to see it, install matplotlib (conda install matplotlib, or "
                      "pip install matplotlib) and restart the kernel; nothing else needs it.")


class PlotsUnavailable(CheckFailed):
    """A plot was asked for, but matplotlib is not installed (the lecture's environment has none)."""


class _NoPyplot:
    """Stands for matplotlib.pyplot where matplotlib is missing: every use says what to install."""

    def __getattr__(self, name: str) -> Any:
        raise PlotsUnavailable(INSTALL_MATPLOTLIB)

    def __bool__(self) -> bool:
        return False


def pyplot() -> Any:
    """matplotlib.pyplot; without matplotlib a stand-in whose first use ends the cell with one line
    saying what to install (inside `with checks.needs(...)`: printed, not an error)."""
    try:
        return importlib.import_module("matplotlib.pyplot")
    except ImportError:
        return _NoPyplot()


class NotReady(CheckFailed):
    """A cell that shows what the student's functions do cannot run yet: the message says what to do."""


class needs(contextlib.AbstractContextManager):
    """For a cell that shows what the student's functions do: until they are ready, one friendly line.

    `with checks.needs("sigmoid"):` runs the block. If it meets a function that is not implemented yet
    (NotImplementedError), a name that is not defined yet, a function that is not right yet (see
    `first`) or one that crashes, it prints one line saying what to do first instead of an error; where
    matplotlib is missing, one line saying what to install. The figures the block opened are closed.
    """

    def __init__(self, *names: str) -> None:
        self.names = names
        self._figures: set[int] = set()

    def __enter__(self) -> needs:
        self._figures = set(_open_figures())
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, traceback: Any) -> bool:
        if kind is None or not issubclass(kind, Exception):
            return False
        if "matplotlib.pyplot" in sys.modules:
            for number in set(_open_figures()) - self._figures:
                sys.modules["matplotlib.pyplot"].close(number)
        if isinstance(error, (PlotsUnavailable, NotReady)):
            print(str(error).splitlines()[0])
        elif isinstance(error, (NotImplementedError, NameError, CheckFailed)):
            missing = self._missing(error)
            if isinstance(error, NameError) and missing.startswith("answer_"):
                print(f"Answer the question that defines {missing} above first (this cell uses it).")
            else:
                print(f"Implement {missing} above first (this cell uses it).")
        else:
            where = _student_line(error)
            blame = where[0] if where and where[0] != "your cell" else " and ".join(self.names) or "your code"
            meaning = next((m for p, m in _ERRORS if re.search(p, str(error))), "")
            print(f"Fix {blame} above first (this cell uses it): it raised {type(error).__name__}"
                  + (f", {meaning}" if meaning else f": {_short(str(error))}"))
        return True

    def _missing(self, error: BaseException | None) -> str:
        if isinstance(error, NameError) and getattr(error, "name", None):
            return str(error.name)
        frame = error.__traceback__ if error is not None else None
        last = None
        while frame is not None:
            last = frame.tb_frame.f_code.co_name
            frame = frame.tb_next
        if last and not last.startswith("<"):
            return last
        return " and ".join(self.names) or "the functions above"


def first(*helpers: Requirement) -> None:
    """In a cell that shows what the student's functions do: stop (with `needs`) unless each is right.

    The student's function is checked on the lecture's input before its result is shown or plotted."""
    for helper in helpers:
        problem = helper.problem()
        if problem is None:
            continue
        if "is not implemented yet" in problem:
            raise NotReady(f"Implement {helper.name} above first (this cell uses it).")
        raise NotReady(f"Fix {helper.name} above first (this cell uses it; its test says what is wrong): "
                       f"{problem}")


def _open_figures() -> list[int]:
    pyplot = sys.modules.get("matplotlib.pyplot")
    return list(pyplot.get_fignums()) if pyplot is not None else []


class Requirement:
    """A helper a test depends on, with one input and the value it must give."""

    def __init__(self, func: Callable[..., Any], args: tuple[Any, ...], expected: Any) -> None:
        self.func, self.args, self.expected = func, args, expected
        self.name = getattr(func, "__name__", repr(func))

    def problem(self) -> str | None:
        """Why the helper is not right yet, or None when it gives the expected value."""
        try:
            with _quiet():
                expect_close(call(self.func, *self.args), self.expected, rtol=1e-4, atol=1e-6)
        except CheckFailed as failure:
            return str(failure).splitlines()[0]
        return None


def requires(func: Callable[..., Any], *args: Any, expected: Any) -> Requirement:
    """A helper that a tested function uses: `func(*args)` must give `expected` (see `fix_first`)."""
    return Requirement(func, args, expected)


@contextlib.contextmanager
def fix_first(*helpers: Requirement):
    """When a check in the block fails and a helper it depends on is wrong, say to fix that helper first."""
    try:
        yield
    except CheckFailed as failure:
        broken: dict[str, str] = {}
        for helper in helpers:
            problem = None if helper.name in broken else helper.problem()
            if problem:
                broken[helper.name] = problem
        if not broken:
            raise
        names = " and ".join(broken)
        verb = "are" if len(broken) > 1 else "is"
        tests = "their tests above say" if len(broken) > 1 else "its test above says"
        lines = [f"Fix {names} first: this test uses {names}, which {verb} not right yet "
                 f"({tests} what is wrong). Then run this test again."]
        lines += [f"  {problem}" for problem in broken.values()]
        lines.append(str(failure))
        raise CheckFailed("\n".join(lines)) from None

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
import io
import sys
import warnings
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

__all__ = [
    "CheckFailed",
    "Outcome",
    "answer",
    "call",
    "expect_close",
    "expect_equal",
    "expect_no_warning",
    "expect_shape",
    "fix_first",
    "needs",
    "passed",
    "requires",
    "use_references",
    "value",
]

_MISSING = object()
_references: dict[str, dict[str, Callable[..., Any]]] = {}
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
    with warnings.catch_warnings(record=True) as caught, np.errstate(all="warn", under="ignore"), redirect:
        warnings.simplefilter("always")
        try:
            result = _call_with_references(func, [_copy(a) for a in args])
        except NotImplementedError:
            raise CheckFailed(f"{name} is not implemented yet: "
                              "replace `raise NotImplementedError()` with your code.") from None
        except Exception as error:
            detail = "" if hidden else f": {error}"
            lines = [f"{Outcome(None, label, hidden).describe()} raised {type(error).__name__}{detail}"]
            known = next((m for kind, m in (mistakes or {}).items() if isinstance(error, kind)), None)
            if known:
                lines.append(f"This matches a known mistake: {known}.")
            raise CheckFailed("\n".join(lines)) from None
    return Outcome(result, label, hidden, list(caught))


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
        mistake = _matching_mistake(got, mistakes, rtol, atol)
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
    """Print the one-line confirmation of a test cell whose checks all passed."""
    global _hidden_checked
    if _hidden_checked:
        print(f"\u2714 {name} passed all tests.")
    else:
        print(f"\u2714 {name} passed the visible tests. (Hidden tests check more cases when your "
              "notebook is graded.)")
    _hidden_checked = False


def answer(name: str) -> Any:
    """The value of the answer variable `name` in the calling cell's notebook, or a message to define it."""
    namespace = sys._getframe(1).f_globals
    try:
        return namespace[name]  # a lookup the grader's test namespace answers, unlike .get()
    except KeyError:
        raise CheckFailed(f"{name} is not defined yet: in the cell above, replace "
                          f"`raise NotImplementedError()` with your answer, `{name} = ...`, "
                          "and run that cell.") from None


class needs(contextlib.AbstractContextManager):
    """For a cell that shows what the student's functions do: until they exist, one friendly line.

    `with checks.needs("sigmoid"):` runs the block; if it meets a function that is not implemented
    yet (NotImplementedError) or a name that is not defined yet, it prints "Implement sigmoid above
    first." (naming what was missing) instead of an error, and closes the figures the block opened.
    """

    def __init__(self, *names: str) -> None:
        self.names = names
        self._figures: set[int] = set()

    def __enter__(self) -> needs:
        self._figures = set(_open_figures())
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, traceback: Any) -> bool:
        if kind is None or not issubclass(kind, (NotImplementedError, NameError, CheckFailed)):
            return False
        if "matplotlib.pyplot" in sys.modules:
            for number in set(_open_figures()) - self._figures:
                sys.modules["matplotlib.pyplot"].close(number)
        missing = self._missing(error)
        if isinstance(error, NameError) and missing.startswith("answer_"):
            print(f"Answer the question that defines {missing} above first (this cell uses it).")
        else:
            print(f"Implement {missing} above first (this cell uses it).")
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

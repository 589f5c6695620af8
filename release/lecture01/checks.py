"""Checks used by the test cells of the Lecture 1 notebooks.

Every check explains itself to a student: what was called, what was
expected, what came back and, where a known mistake explains the
difference, its name. Hidden checks (used while grading) never show their
inputs, their expected values or what the student's code printed.

Usage in a test cell::

    out = checks.call(svm_loss, S, y)
    checks.expect_close(out, 5.2667, mistakes={"forgetting the margin": 4.2667})
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
    "call",
    "expect_close",
    "expect_equal",
    "expect_no_warning",
    "expect_shape",
    "use_references",
    "value",
]

_MISSING = object()
_references: dict[str, dict[str, Callable[..., Any]]] = {}


class CheckFailed(AssertionError):
    """A check did not pass; the message is written for the student."""


def _short(obj: Any) -> str:
    """A compact, single-line-ish representation of a value for messages."""
    if isinstance(obj, np.ndarray) and obj.ndim:
        with np.printoptions(precision=6, suppress=True, threshold=20):
            return f"array({np.array2string(obj, separator=', ')})"
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

    While grading, the student's function lives in a sandbox and comes with its own way of doing this.
    """
    references = _references.get(getattr(func, "__name__", ""), {})
    sandboxed = getattr(func, "call_with_references", None)
    if sandboxed is not None:
        return sandboxed(references, *args)
    with _substituted(func, references):
        return func(*args)


def _copy(argument: Any) -> Any:
    return argument.copy() if isinstance(argument, np.ndarray) else argument


def _argument_text(argument: Any) -> str:
    if isinstance(argument, np.ndarray):
        if argument.size > 12:
            return f"<array of shape {argument.shape}, dtype {argument.dtype}>"
        dtype = "" if argument.dtype in (np.float64, np.int64) else f", dtype=np.{argument.dtype}"
        return f"np.array({argument.tolist()!r}{dtype})"
    return repr(argument)


def call(func: Callable[..., Any], *args: Any, hidden: str | None = None) -> Outcome:
    """Call a student's function on copies of `args` and record what came back.

    `hidden` describes a hidden test in words; its inputs are then never shown,
    and what the function prints is not shown either.
    """
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
            raise CheckFailed(f"{Outcome(None, label, hidden).describe()} raised "
                              f"{type(error).__name__}{detail}") from None
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
        wrong = np.asarray(wrong, dtype=np.float64)
        if wrong.size == got.size and np.allclose(got.reshape(wrong.shape), wrong, rtol=max(rtol, 1e-3),
                                                   atol=max(atol, 1e-4), equal_nan=True):
            return name
    return None


def _fail(outcome: Outcome, problem: str, expected: Any, got: Any, mistake: str | None) -> None:
    lines = [f"{outcome.describe()} {problem}."]
    if not outcome.hidden:
        lines.append(f"  expected: {_short(expected)}")
        lines.append(f"  got:      {_short(got)}")
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


def expect_no_warning(outcome: Outcome, category: type[Warning] = RuntimeWarning) -> None:
    """The call emitted no warning of this category (such as numpy's overflow warning)."""
    found = [w for w in outcome.warnings if issubclass(w.category, category)]
    if found:
        # On a hidden test the warning's text is not shown: the student's code writes it.
        detail = "" if outcome.hidden else f": {found[0].message}"
        raise CheckFailed(
            f"{outcome.describe()} emitted a {category.__name__}{detail}. "
            "A numerically stable implementation avoids it."
        )

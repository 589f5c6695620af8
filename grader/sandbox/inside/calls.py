"""Serving a test cell: the trusted side calls the student's functions with plain data; references it
swaps in run on the trusted side (callbacks), functions the student's code passes run here."""

from __future__ import annotations

import contextlib
import socket
import sys
import warnings
from typing import Any

import codec
import numpy as np
import protocol
import state
from protocol import Op


def answer_requests(channel: socket.socket, namespace: dict) -> None:
    """Answer one test cell's requests until it ends (this world then ends with it)."""
    while True:
        message = codec.receive(channel, protocol.INBOUND_BYTES)
        op = message.get("op")
        if op == Op.RESOLVE:
            codec.send(channel, resolve(message["name"], namespace))
        elif op == Op.CALL:
            codec.send(channel, _call(channel, message, namespace))
        else:
            return


def resolve(name: str, namespace: dict) -> dict:
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
    before = [arg.copy() if isinstance(arg, np.ndarray) else None for arg in args]
    substitutes = {name: _callback(channel, ident) for name, ident in message.get("substitute", {}).items()}
    saved = {name: namespace.get(name, _MISSING) for name in substitutes}
    namespace.update(substitutes)
    out = state.Capture()  # what the student's code prints while a test calls it is never shown
    caught: list = []
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out), \
                warnings.catch_warnings(record=True) as caught, state.student_code(quiet=True):
            warnings.simplefilter("always")
            result = function(*args)
        reply = {"result": codec.encode(result)}
    except BaseException as exception:  # anything the student's code raises is reported, never trusted
        reply = {"error": {"type": type(exception).__name__, "message": str(exception)[:state.Output.text]}}
    finally:
        for name, old in saved.items():
            if old is _MISSING:
                namespace.pop(name, None)
            else:
                namespace[name] = old
    reply["warnings"] = [{"category": w.category.__name__, "message": str(w.message)[:500]} for w in caught]
    # An array the function changed in place, as a local call would have left it for its caller.
    pairs = enumerate(zip(args, before, strict=True))
    reply["changed"] = {str(index): codec.encode(arg) for index, (arg, old) in pairs
                        if old is not None and not np.array_equal(arg, old, equal_nan=True)}
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
            answer = codec.receive(channel, protocol.INBOUND_BYTES)
            if answer.get("op") == Op.INVOKE:
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
        return {"error": f"{type(exception).__name__}: {exception}"[:state.Output.text]}


"""Plain data across the sandbox boundary: numbers, strings, lists, tuples, dicts and numeric arrays.

Both sides use this module; nothing is ever unpickled. A value that is not plain data crosses as an
`Opaque` marker naming its type, so a lying object (say, one whose __eq__ is always True) never
reaches the trusted side.
"""

from __future__ import annotations

import base64
import json
import struct
import time
from typing import Any

import numpy as np

MAX_DEPTH = 32
ARRAY_KINDS = "biufc"


class Opaque:
    """Stands for a value that is not plain data; only its type name crossed."""

    def __init__(self, type_name: str) -> None:
        self.type_name = type_name

    def __repr__(self) -> str:
        return f"<{self.type_name} object>"


def encode(value: Any, depth: int = 0) -> Any:
    """A JSON-ready form of `value` (arrays as bytes, tuples marked), or an opaque marker."""
    if depth > MAX_DEPTH:
        return {"~opaque": "deeply nested data"}
    if value is None or type(value) in (bool, str):
        return value
    if type(value) is int:
        return value if abs(value) < 2**62 else {"~bigint": str(value)}
    if type(value) is float:
        return value if np.isfinite(value) else {"~float": repr(value)}
    if isinstance(value, np.generic) and value.dtype.kind in ARRAY_KINDS:
        return {"~scalar": value.dtype.str, "data": base64.b64encode(value.tobytes()).decode()}
    if isinstance(value, np.ndarray) and value.dtype.kind in ARRAY_KINDS:
        plain = np.ascontiguousarray(value).view(np.ndarray)
        return {"~array": plain.dtype.str, "shape": list(plain.shape),
                "data": base64.b64encode(plain.tobytes()).decode()}
    if type(value) in (list, tuple):
        items = [encode(item, depth + 1) for item in value]
        return items if type(value) is list else {"~tuple": items}
    if type(value) is dict and all(type(key) is str for key in value):
        return {"~dict": {key: encode(item, depth + 1) for key, item in value.items()}}
    return {"~opaque": type(value).__name__}


def decode(data: Any) -> Any:
    """The value that `encode` described (opaque, malformed and too deeply nested data become `Opaque`)."""
    try:
        return _decode(data, 0)
    except Exception:  # the data came from the sandbox: nothing in it may raise on this side
        return Opaque("malformed data")


def _decode(data: Any, depth: int) -> Any:
    if depth > MAX_DEPTH:
        return Opaque("deeply nested data")
    if isinstance(data, list):
        return [_decode(item, depth + 1) for item in data]
    if not isinstance(data, dict):
        return data
    if "~array" in data:
        dtype = _dtype(data["~array"])
        shape = data["shape"]
        raw = base64.b64decode(data["data"])
        if not _fits(shape, len(raw) // max(dtype.itemsize, 1)) or len(raw) % max(dtype.itemsize, 1):
            return Opaque("malformed array")
        return np.frombuffer(raw, dtype=dtype).reshape(tuple(shape)).copy()
    if "~scalar" in data:
        dtype = _dtype(data["~scalar"])
        raw = base64.b64decode(data["data"])
        return np.frombuffer(raw, dtype=dtype)[0] if len(raw) == dtype.itemsize else Opaque("malformed")
    if "~tuple" in data:
        return tuple(_decode(item, depth + 1) for item in data["~tuple"])
    if "~dict" in data:
        return {str(key): _decode(item, depth + 1) for key, item in data["~dict"].items()}
    if "~float" in data:
        return float(data["~float"]) if data["~float"] in ("nan", "inf", "-inf") else Opaque("float")
    if "~bigint" in data:
        return int(data["~bigint"]) if str(data["~bigint"]).lstrip("-").isdigit() else Opaque("int")
    return Opaque(str(data.get("~opaque", "unknown"))[:80])


def _fits(shape: Any, elements: int) -> bool:
    """Whether `shape` (as received) is a shape of exactly `elements` elements: checked axis by axis,
    so that a shape of huge numbers costs nothing to refuse."""
    if not isinstance(shape, list) or len(shape) > MAX_DEPTH:
        return False
    if any(type(n) is not int or n < 0 for n in shape):
        return False
    if 0 in shape:
        return elements == 0
    product = 1
    for n in shape:
        product *= n
        if product > elements:
            return False
    return product == elements


def _dtype(text: Any) -> np.dtype:
    dtype = np.dtype(str(text))
    if dtype.kind not in ARRAY_KINDS:
        raise ValueError(f"not a numeric dtype: {text}")
    return dtype


def send(sock: Any, message: dict) -> None:
    """Send one length-prefixed JSON message."""
    body = json.dumps(message, separators=(",", ":")).encode()
    sock.sendall(struct.pack("!I", len(body)) + body)


def receive(sock: Any, limit: int, deadline: float | None = None) -> dict:
    """Receive one message; one over `limit` bytes, a malformed one (say, nested deeper than the JSON
    parser goes) or a closed socket raises ConnectionError, one not complete by the `deadline`
    (time.monotonic()) TimeoutError, and nothing else but the socket's OSError."""
    size = struct.unpack("!I", _exactly(sock, 4, deadline))[0]
    if size > limit:
        raise ConnectionError(f"a message of {size} bytes is over the limit of {limit}")
    body = _exactly(sock, size, deadline)
    try:
        message = json.loads(body)
    except (ValueError, RecursionError, MemoryError):
        raise ConnectionError("malformed message") from None
    if not isinstance(message, dict):
        raise ConnectionError("malformed message")
    return message


class Closed(ConnectionError):
    """The other side closed the connection (its process ended)."""


def _exactly(sock: Any, count: int, deadline: float | None = None) -> bytes:
    chunks, remaining = [], count
    while remaining:
        if deadline is not None:  # the whole message by then, however slowly it trickles in
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("the message did not arrive in time")
            sock.settimeout(left)
        chunk = sock.recv(min(remaining, 1 << 20))
        if not chunk:
            raise Closed("the other side closed the connection")
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)

"""Writing files the way every grader command does: whole or not at all."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

from grader.errors import GraderError


def write_atomically(path: Path, data: bytes) -> None:
    """Write `data` to `path` through a temporary file beside it, then replace the old file.

    An interrupted run never leaves half a file, and a read-only file an earlier tool left (nbgrader
    makes graded notebooks 0444) is replaced, not opened for writing. A folder that cannot be written
    is one line naming the file.
    """
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as error:
        raise GraderError(f"{path}: cannot be written ({error.strerror or error}); choose a folder you can "
                          "write to, or make this one writable.") from None
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except OSError as error:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise GraderError(f"{path}: cannot be written ({error.strerror or error}); check the folder's "
                          "permissions and free space.") from None
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


def write_text_atomically(path: Path, text: str) -> None:
    """`write_atomically` for UTF-8 text."""
    write_atomically(path, text.encode("utf-8"))

"""nbgrader's per-notebook set-up, done once per grading process instead of once per notebook.

Every nbgrader step that uses the gradebook (OverwriteCells, OverwriteKernelspec, SaveAutoGrades,
AssignLatePenalties) opens a `Gradebook` of its own for each notebook, and so a new SQLAlchemy
engine: its cache of compiled SQL starts empty, and every query of every notebook is compiled again
(about 7 ms each), and the Gradebook first checks that each of the gradebook's tables exists (about
1 ms). CheckCellMetadata validates each cell's metadata with `jsonschema.validate`,
which first checks the schema itself against JSON Schema's meta-schema, on every call.

While grading, `reused_setup()` keeps one engine per database URL and process (so compiled SQL is
reused; nbgrader still opens, uses and closes its Gradebook as before), checks an engine's tables
once (the first Gradebook creates what is missing, as before) and checks each schema once.
The same queries run and the same errors are raised: nothing nbgrader writes or decides changes.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import SimpleNamespace
from typing import Any

import jsonschema
import nbgrader.api
import nbgrader.nbgraderformat.common
from sqlalchemy import create_engine, inspect
from sqlalchemy.engine import Engine

_ENGINES: dict[tuple, Engine] = {}
_TABLES_CHECKED: set[int] = set()  # id() of engines in _ENGINES whose tables exist (engines are never freed)
_VALIDATORS: dict[str, Any] = {}
_LOCK = threading.Lock()
_users = 0


def _engine(url: Any, **options: Any) -> Engine:
    """One engine per database URL and options in this process (nbgrader disposes of its
    connections when it closes a Gradebook; the engine, and its compiled SQL, stay)."""
    key = (str(url), tuple(sorted(options.items())))
    with _LOCK:
        if key not in _ENGINES:
            _ENGINES[key] = create_engine(url, **options)
        return _ENGINES[key]


def _validate(instance: Any, schema: dict, *args: Any, **kwargs: Any) -> None:
    """jsonschema.validate, with each schema checked against its meta-schema once."""
    if args or kwargs:
        jsonschema.validate(instance, schema, *args, **kwargs)
        return
    key = json.dumps(schema, sort_keys=True)
    validator = _VALIDATORS.get(key)
    if validator is None:
        cls = jsonschema.validators.validator_for(schema)
        cls.check_schema(schema)
        validator = _VALIDATORS.setdefault(key, cls(schema))
    error = jsonschema.exceptions.best_match(validator.iter_errors(instance))
    if error is not None:
        raise error


def _inspect(subject: Any) -> Any:
    """sqlalchemy.inspect as nbgrader's Gradebook uses it (are there tables?), once per engine."""
    if id(subject) in _TABLES_CHECKED:
        return SimpleNamespace(get_table_names=lambda: list(nbgrader.api.Base.metadata.tables))
    return inspect(subject)


def _create_all(bind: Any = None, **options: Any) -> None:
    """The gradebook's tables, created where missing (Base.metadata.create_all), once per engine."""
    if id(bind) in _TABLES_CHECKED:
        return
    _METADATA_CREATE_ALL(bind=bind, **options)
    if any(bind is engine for engine in _ENGINES.values()):
        _TABLES_CHECKED.add(id(bind))


_METADATA_CREATE_ALL = nbgrader.api.Base.metadata.create_all


# What nbgrader's metadata validation sees as its `jsonschema` module while grading.
_PASSED_ON = ("ValidationError", "SchemaError", "validators", "exceptions")
_JSONSCHEMA = SimpleNamespace(validate=_validate, **{name: getattr(jsonschema, name) for name in _PASSED_ON})


@contextmanager
def reused_setup() -> Iterator[None]:
    """While in this block (in any thread of this process), nbgrader reuses engines and checked schemas."""
    global _users
    with _LOCK:
        _users += 1
        if _users == 1:
            nbgrader.api.create_engine = _engine
            nbgrader.api.inspect = _inspect
            nbgrader.api.Base.metadata.create_all = _create_all
            nbgrader.nbgraderformat.common.jsonschema = _JSONSCHEMA
    try:
        yield
    finally:
        with _LOCK:
            _users -= 1
            if _users == 0:
                nbgrader.api.create_engine = create_engine
                nbgrader.api.inspect = inspect
                del nbgrader.api.Base.metadata.create_all  # MetaData's own method again
                nbgrader.nbgraderformat.common.jsonschema = jsonschema

"""One SQLAlchemy engine per gradebook for the whole of a grading process.

nbgrader opens a new :class:`nbgrader.api.Gradebook` for nearly every step of every
notebook (creating the student and the submission, each preprocessor that reads or
writes grades, the gradebook check after each submission: some 16 per notebook), and
each one used to build a new engine. A new engine starts with an empty statement cache,
so every ORM query was compiled to SQL again: compiling was about a third of the
gradebook's CPU in a grading run. :func:`share` makes ``nbgrader.api`` reuse one engine
per database URL in this process, so each query is compiled once per run.

Each new ``Gradebook`` also makes sure the database has nbgrader's tables: SQLAlchemy's
``create_all`` asks for each of the fifteen whether it exists (about a sixth of the
gradebook's SQL in a grading run). After :func:`share`, one query lists the tables
first, and ``create_all`` runs only when one is missing
(:func:`_create_missing_tables`): a new or incomplete database gets its tables as
before.

Within one nbgrader command (:func:`remembering`, which :mod:`nbgrader_app` wraps
around each), what a gradebook has already shown is not asked again: that the database
has all its tables (nbgrader asks for the list of tables on every new ``Gradebook``,
and :func:`_create_missing_tables` once more), and that the course's row exists
(nbgrader's ``check_course``, a query and a commit on every new ``Gradebook``). Both
are facts that only grow while one command runs; the next command asks again, so a
gradebook deleted or replaced between commands is seen as it is. The master notebooks
(:func:`remembered_master`) are remembered the same way: only ``generate_assignment``
writes them, and it is a command of its own.

Nothing else changes: every ``Gradebook`` still gets its own session and transactions,
and its ``close()`` still disposes of the engine's connections (SQLAlchemy then opens
new ones on the next use, on the same file), so the database is read and written
exactly as before, by the same single process.
"""

from __future__ import annotations

import contextlib
import functools
import threading
from collections.abc import Callable, Iterator
from typing import Any

_engines: dict[tuple, Any] = {}
_lock = threading.Lock()


class _Seen:
    """What the gradebooks of one nbgrader command have shown: database URL -> its
    table names (once it had all of nbgrader's), (URL, course id) pairs whose course
    row exists, and the master notebooks read (:func:`remembered_master`)."""

    def __init__(self) -> None:
        self.tables: dict[str, list[str]] = {}
        self.courses: set[tuple[str, str]] = set()
        self.masters: dict[tuple, Any] = {}


_seen: _Seen | None = None  # inside a remembering() block only


@contextlib.contextmanager
def remembering() -> Iterator[None]:
    """Within the block, a gradebook that has shown all its tables, or its course row,
    is not asked for them again (see the module docstring). Blocks nest; each starts
    with nothing remembered."""
    global _seen
    outer, _seen = _seen, _Seen()
    try:
        yield
    finally:
        _seen = outer


def remembered_master(key: tuple, read: Callable[[], Any]) -> Any:
    """``read()``: a snapshot of a master notebook
    (:func:`autograder.grader.master_cells.read_master`), or inside a
    :func:`remembering` block the one read for ``key`` earlier in the block.

    Parameters
    ----------
    key : tuple
        What identifies the snapshot: the database URL, the notebook, the assignment
        and what was read of it.
    read : callable
        Reads the snapshot; it must be immutable (it is shared by every later caller
        in the block).
    """
    seen = _seen
    if seen is None:
        return read()
    if key not in seen.masters:
        seen.masters[key] = read()
    return seen.masters[key]


class _KnownTables:
    """What ``sqlalchemy.inspect(engine)`` answers nbgrader for a remembered database."""

    def __init__(self, names: list[str]) -> None:
        self._names = names

    def get_table_names(self) -> list[str]:
        return list(self._names)


def _url_of(bind) -> str | None:
    """The database URL of an engine or connection, password included (two databases
    that differ only by their password are two databases)."""
    url = getattr(bind, "url", None) or getattr(getattr(bind, "engine", None), "url", None)
    return None if url is None else url.render_as_string(hide_password=False)


def _table_names(bind, wanted) -> list[str]:
    """The database's table names: asked of it, or inside a :func:`remembering` block
    what it answered once it had every table in ``wanted``."""
    import sqlalchemy

    seen, url = _seen, _url_of(bind)
    if seen is not None and url in seen.tables:
        return seen.tables[url]
    names = sqlalchemy.inspect(bind).get_table_names()
    if seen is not None and url is not None and set(wanted) <= set(names):
        seen.tables[url] = names
    return names


def _inspect_remembering(subject):
    """``sqlalchemy.inspect`` for ``nbgrader.api`` (which asks it only for the table
    names): inside a :func:`remembering` block, a database once seen with all of
    nbgrader's tables is not asked again."""
    import nbgrader.api
    import sqlalchemy

    if _seen is None or _url_of(subject) is None:
        return sqlalchemy.inspect(subject)
    return _KnownTables(_table_names(subject, nbgrader.api.Base.metadata.tables))


def _check_course_once(check_course):
    """``Gradebook.check_course``, skipped inside a :func:`remembering` block once the
    course's row was found or made (it returns ``None`` then: nbgrader's
    ``Gradebook.__init__``, its only caller, ignores the result)."""

    @functools.wraps(check_course)
    def check_course_once(self, course_id: str = "default_course", **kwargs):
        seen = _seen
        key = (_url_of(self.engine), course_id)
        if seen is not None and not kwargs and key in seen.courses:
            return None
        course = check_course(self, course_id, **kwargs)
        if seen is not None:
            seen.courses.add(key)
        return course

    check_course_once.original = check_course
    return check_course_once


def shared_engine(url, **options):
    """The engine of ``url`` with ``options``: built on the first call, the same object
    afterwards (``sqlalchemy.create_engine``'s signature)."""
    import sqlalchemy

    key = (str(url), tuple(sorted((k, repr(v)) for k, v in options.items())))
    with _lock:
        engine = _engines.get(key)
        if engine is None:
            engine = _engines[key] = sqlalchemy.create_engine(url, **options)
        return engine


def _create_missing_tables(create_all):
    """``nbgrader.api.Base.metadata.create_all``, asking first, in one query, which
    tables the database has: when it has all of them, nothing more is asked."""

    @functools.wraps(create_all)
    def create_all_when_missing(bind=None, *args, **kwargs):
        if bind is not None and not kwargs.get("tables"):
            wanted = create_all.__self__.tables
            if set(wanted) <= set(_table_names(bind, wanted)):
                return
        create_all(bind, *args, **kwargs)

    create_all_when_missing.original = create_all
    return create_all_when_missing


def share() -> None:
    """From now on, nbgrader's gradebooks in this process share their engines, and
    a gradebook with all its tables is not asked for each one, and inside a
    :func:`remembering` block not asked again what it has shown."""
    import nbgrader.api

    nbgrader.api.create_engine = shared_engine
    nbgrader.api.inspect = _inspect_remembering
    gradebook = nbgrader.api.Gradebook
    if not hasattr(gradebook.check_course, "original"):
        gradebook.check_course = _check_course_once(gradebook.check_course)
    metadata = nbgrader.api.Base.metadata
    if not hasattr(metadata.create_all, "original"):
        metadata.create_all = _create_missing_tables(metadata.create_all)

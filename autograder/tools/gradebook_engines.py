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

Nothing else changes: every ``Gradebook`` still gets its own session and transactions,
and its ``close()`` still disposes of the engine's connections (SQLAlchemy then opens
new ones on the next use, on the same file), so the database is read and written
exactly as before, by the same single process.
"""

from __future__ import annotations

import functools
import threading
from typing import Any

_engines: dict[tuple, Any] = {}
_lock = threading.Lock()


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
        import sqlalchemy

        if bind is not None and not kwargs.get("tables"):
            wanted = set(create_all.__self__.tables)
            if wanted <= set(sqlalchemy.inspect(bind).get_table_names()):
                return
        create_all(bind, *args, **kwargs)

    create_all_when_missing.original = create_all
    return create_all_when_missing


def share() -> None:
    """From now on, nbgrader's gradebooks in this process share their engines, and
    a gradebook with all its tables is not asked for each one."""
    import nbgrader.api

    nbgrader.api.create_engine = shared_engine
    metadata = nbgrader.api.Base.metadata
    if not hasattr(metadata.create_all, "original"):
        metadata.create_all = _create_missing_tables(metadata.create_all)

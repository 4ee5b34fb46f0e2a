"""Run an nbgrader command inside this process, as nbgrader's own test-suite does.

A fresh ``python -m nbgrader`` costs 2 to 5 s of CPU before its first notebook
(importing nbgrader, nbconvert, jsonschema and the course's question modules), and a
grading run used to start nine or more of them (``autograde`` and
``generate_feedback`` per assignment, ``export``). Here they share this process's
imports. Each command still gets exactly what the command line gives it: its
arguments, the course's ``nbgrader_config.py`` found from the course directory as the
working directory, and the environment ``env`` (the course secret's variables
included), all restored afterwards. Its log lines (nbgrader's
``[AutogradeApp | INFO] ...`` format) and whatever it writes to stderr are returned
as lines, in order.

There is still one writer of the gradebook: the commands run one after another in
the coordinator, never at once. Their gradebooks share one SQLAlchemy engine per
database (:mod:`autograder.tools.gradebook_engines`), so a query is compiled once,
and within one command a gradebook is not asked again for its tables and its course.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import sys
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass


@dataclass
class NbgraderRun:
    """What one command did: its exit code (as the process would have exited) and its
    log and stderr lines."""

    code: int
    lines: list[str]


class _Lines(io.TextIOBase):
    """A text stream that hands each complete line to ``on_line`` and keeps it."""

    def __init__(self, on_line: Callable[[str], None] | None) -> None:
        self.lines: list[str] = []
        self._partial = ""
        self._on_line = on_line

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        self._partial += text
        *done, self._partial = self._partial.split("\n")
        for line in done:
            self._emit(line)
        return len(text)

    def _emit(self, line: str) -> None:
        self.lines.append(line)
        if self._on_line is not None:
            self._on_line(line)

    def close_partial(self) -> None:
        if self._partial:
            self._emit(self._partial)
            self._partial = ""


def _print_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """Python's own way of showing a warning: onto (this command's) stderr."""
    sys.stderr.write(warnings.formatwarning(message, category, filename, lineno, line))


@contextlib.contextmanager
def _as_the_command_line(course: str, env: Mapping[str, str]) -> Iterator[None]:
    """The working directory, environment, ``sys.path`` and warning filters (Python's
    defaults: a warning is printed, never raised) of ``nbgrader`` started in ``course``
    with ``env``; the process's own are back afterwards."""
    saved_env, saved_cwd, saved_path = dict(os.environ), os.getcwd(), list(sys.path)
    os.environ.clear()
    os.environ.update(env)
    os.chdir(course)
    try:
        with warnings.catch_warnings():
            warnings.resetwarnings()
            warnings.showwarning = _print_warning
            for quiet in (DeprecationWarning, PendingDeprecationWarning, ImportWarning,
                          ResourceWarning):
                warnings.simplefilter("ignore", quiet)
            yield
    finally:
        os.chdir(saved_cwd)
        os.environ.clear()
        os.environ.update(saved_env)
        sys.path[:] = saved_path


def run(course: str, args: Sequence[str], *, env: Mapping[str, str],
        on_line: Callable[[str], None] | None = None) -> NbgraderRun:
    """``nbgrader <args>`` in ``course``, in this process; ``on_line`` sees each log
    line as it is written (for a progress bar)."""
    from jupyter_core.application import NoStart
    from nbgrader.apps import NbGraderApp
    from traitlets.config.application import Application

    from autograder.tools import gradebook_engines

    gradebook_engines.share()
    stream = _Lines(on_line)
    code = 0
    with (_as_the_command_line(course, env), contextlib.redirect_stderr(stream),
          gradebook_engines.remembering()):
        app = NbGraderApp.instance()
        try:
            app.initialize(list(args))
            for sub in (app, app.subapp):
                if sub is not None:  # nbgrader's log lines, not traitlets' colours
                    for handler in list(sub.log.handlers):
                        sub.log.removeHandler(handler)
            app.init_logging(logging.StreamHandler, [stream], color=False, subapps=True)
            app.start()
        except NoStart:  # the subcommand ran; nbgrader's main ends that way
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        except Exception as exc:  # what would have been a traceback and exit 1
            stream.write(f"[NbGraderApp | ERROR] {type(exc).__name__}: {exc}\n")
            code = 1
        finally:
            app.reset()
            Application.clear_instance()
    stream.close_partial()
    return NbgraderRun(code, stream.lines)

"""The course-content side of grading, as DESIGN.md describes it: without nbgrader.

:class:`Course` is what both ends of a grading run need from the course package (its
questions, variants, plain-data module and secret). It imports neither nbgrader nor
nbformat, so a worker that only executes plans (:func:`autograder.grader.plan.execute_plan`,
a Dask worker for instance) does not pay for them: importing nbgrader costs a second or
more of CPU in every process that does.
"""

from __future__ import annotations

import hashlib
import hmac
import importlib
import importlib.util
import os

import numpy as np

from cnnlab.grading.variants import read_secret

from . import sandbox


def case_seed(secret: str | bytes | None, assignment: str, student: str) -> int:
    """Seed of a student's hidden cases: HMAC-SHA256(secret, "<assignment>:<student>:cases")."""
    key = secret.encode() if isinstance(secret, str) else (secret or b"")
    digest = hmac.new(key, f"{assignment}:{student}:cases".encode(), hashlib.sha256).digest()
    return int.from_bytes(digest, "big")


def _file_version(path: str) -> tuple[int, int, int]:
    st = os.stat(path)
    return st.st_ino, st.st_size, st.st_mtime_ns


class Course:
    """The course-content side, as DESIGN.md describes it (``cnnlab.grading`` by default)."""

    def __init__(self, module: str = "cnnlab.grading", plain_path: str = "",
                 course_root: str | None = None) -> None:
        self.module = importlib.import_module(module)
        adder = getattr(self.module, "add_course_source", None)
        if course_root and adder is not None:  # assignments the course added (authoring.md)
            adder(os.path.join(course_root, "source"))
        if hasattr(self.module, "variant_for"):
            self.variants = self.module
        else:
            self.variants = importlib.import_module(module + ".variants")
        self.plain_path = plain_path or getattr(self.module, "PLAIN_PATH", "") or ""
        if not self.plain_path:
            spec = importlib.util.find_spec(module + ".plain")
            if spec is None or not spec.origin:
                raise ImportError(f"{module}.plain not found: no plain-data module")
            self.plain_path = spec.origin
        self.plain = sandbox.load_plain(self.plain_path)

    @classmethod
    def shared(cls, module: str = "cnnlab.grading", plain_path: str = "",
               course_root: str | None = None) -> Course:
        """The :class:`Course` of these arguments, made once per process and made again
        when the plain-data module's file changes (the one thing it reads from a file;
        the course module is Python's, imported once).

        A grading process asks for it once per notebook it plans or grades; making it
        loads the plain-data module, some milliseconds each time."""
        key = (module, plain_path, course_root)
        kept = _SHARED.get(key)
        if kept is not None and kept[0] == _file_version(kept[1].plain_path):
            return kept[1]
        course = cls(module, plain_path, course_root)
        _SHARED[key] = (_file_version(course.plain_path), course)
        return course

    def secret(self, course_root: str | None) -> str | None:
        """The course secret, read by the course's ``read_secret`` if it has one, else
        by :func:`cnnlab.grading.variants.read_secret` (``$CNNLAB_COURSE_SECRET``,
        ``$CNNLAB_COURSE_SECRET_FILE``, ``<course root>/course_secret``; stripped)."""
        default = os.path.join(course_root, "course_secret") if course_root else None
        return getattr(self.variants, "read_secret", read_secret)(default)

    def question(self, assignment: str, gid: str):
        """The question a test cell grades: by grade_id, or ``<assignment>.<grade_id>``."""
        for key in (gid, f"{assignment}.{gid}"):
            try:
                return self.module.question(key)
            except (KeyError, LookupError, ValueError):
                continue
        return None

    def variant(self, assignment: str, student: str | None, secret) -> dict:
        return dict(self.variants.variant_for(assignment, student, secret))

    def rng(self, secret, assignment: str, student: str) -> np.random.Generator:
        seed = getattr(self.variants, "hidden_case_seed", None)
        value = seed(assignment, student, secret) if seed else case_seed(secret, assignment,
                                                                          student)
        return np.random.default_rng(value)


_SHARED: dict[tuple, tuple[tuple[int, int, int], Course]] = {}

"""The coordinator's side of a grading run: which submissions, their keys, their plans.

``python -m autograder.tools grade`` plans every notebook here, in the one process
that holds the course secret and the gradebook. It sanitizes the notebook with the
course's own ``Autograde.sanitize_preprocessors`` (as nbgrader will) and asks the
course's :class:`~autograder.grader.preprocessor.SandboxedGrading` for its plan: the
same plan nbgrader's process computes later, so the key of a worker's result matches.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import stat
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass

from autograder.tools import course as C


class PlanError(RuntimeError):
    """A submission that cannot be planned; the message is one line."""


@dataclass(frozen=True, order=True)
class SubmissionRef:
    """One student's submission of one assignment, in ``<course>/submitted/``."""

    student: str
    assignment: str

    def __str__(self) -> str:
        return f"{self.student}/{self.assignment}"

    def folder(self, course: str) -> str:
        return os.path.join(course, "submitted", self.student, self.assignment)


def find_submissions(course: str, assignments: Sequence[str],
                     students: Iterable[str] | None = None) -> list[SubmissionRef]:
    """The submissions of ``assignments`` (of ``students``, default all) under
    ``submitted/``, sorted."""
    root = os.path.join(course, "submitted")
    only = set(students) if students else None
    found = []
    for student in sorted(os.listdir(root)) if os.path.isdir(root) else []:
        if only is not None and student not in only:
            continue
        for assignment in assignments:
            if os.path.isdir(os.path.join(root, student, assignment)):
                found.append(SubmissionRef(student, assignment))
    return found


def _hash_tree(digest, folder: str) -> None:
    """Names, kinds and contents of a folder's entries; never follows a link or opens
    anything but a regular file (a FIFO would block)."""
    from autograder.grader import intake

    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames.sort()
        for name in sorted(filenames + [d for d in dirnames
                                        if os.path.islink(os.path.join(dirpath, d))]):
            path = os.path.join(dirpath, name)
            st = os.lstat(path)
            digest.update(f"{os.path.relpath(path, folder)}\0{st.st_mode:o}\0".encode())
            if stat.S_ISLNK(st.st_mode):
                digest.update(os.readlink(path).encode())
            elif stat.S_ISREG(st.st_mode):
                data = intake.open_data(path, 1 << 30)
                digest.update(hashlib.sha256(data).digest() if data is not None
                              else f"{st.st_size}:{st.st_mtime_ns}:{st.st_nlink}".encode())


SECRET_VARIABLES = ("CNNLAB_COURSE_SECRET", "CNNLAB_COURSE_SECRET_FILE")


@contextlib.contextmanager
def _secret_from(env: Mapping[str, str] | None) -> Iterator[None]:
    """Read the course secret as nbgrader's process will: from ``env``'s variables."""
    if env is None:
        yield
        return
    saved = {k: os.environ.get(k) for k in SECRET_VARIABLES}
    try:
        for k in SECRET_VARIABLES:
            if env.get(k):
                os.environ[k] = env[k]
            else:
                os.environ.pop(k, None)
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


class Planner:
    """Plans the notebooks of submissions with the course's own configuration.

    ``env`` is the environment nbgrader's process gets (the secret's variables are
    read from it); default this process's.
    """

    def __init__(self, course: str, env: Mapping[str, str] | None = None) -> None:
        from nbgrader.api import Gradebook
        from traitlets.config.loader import PyFileConfigLoader
        from traitlets.utils.importstring import import_item

        from autograder.grader.plan import code_fingerprint, secret_fingerprint
        from autograder.grader.preprocessor import Course, SandboxedGrading

        self.course = os.path.abspath(course)
        self.config = PyFileConfigLoader("nbgrader_config.py", path=self.course).load_config()
        self.db_url = C.db_url(self.course)
        names = self.config.Autograde.sanitize_preprocessors
        self.sanitizers = [(import_item(n) if isinstance(n, str) else n)(config=self.config)
                           for n in names]
        self.grader = SandboxedGrading(config=self.config)
        self.env = env
        grading = Course(self.grader.course_module, self.grader.plain_path, self.course)
        with _secret_from(env):
            self.secret = grading.secret(self.course)
        self._gradebook = Gradebook
        self._notebooks: dict[str, list[str]] = {}
        self.salt = secret_fingerprint(self.secret) + code_fingerprint(
            [os.path.dirname(grading.module.__file__), grading.plain_path,
             os.path.join(C.AUTOGRADER, "grader")])
        with open(os.path.join(self.course, "nbgrader_config.py"), "rb") as fh:
            self.salt += hashlib.sha256(fh.read()).hexdigest()[:16]

    def notebooks(self, assignment: str) -> list[str]:
        """The assignment's notebooks in the gradebook (empty: not in the gradebook)."""
        from nbgrader.api import MissingEntry

        if not os.path.exists(os.path.join(self.course, "gradebook.db")):
            return []
        if assignment not in self._notebooks:
            with self._gradebook(self.db_url) as gb:
                try:
                    self._notebooks[assignment] = sorted(
                        nb.name for nb in gb.find_assignment(assignment).notebooks)
                except MissingEntry:
                    self._notebooks[assignment] = []
        return self._notebooks[assignment]

    def input_key(self, ref: SubmissionRef) -> str:
        """Hash of the submission's files, its assignment's master and the grading
        code, secret and configuration: equal keys, equal grades."""
        digest = hashlib.sha256(self.salt.encode() + str(ref).encode())
        _hash_tree(digest, ref.folder(self.course))
        digest.update(b"\0source\0")
        _hash_tree(digest, os.path.join(self.course, "source", ref.assignment))
        return digest.hexdigest()

    def plan(self, ref: SubmissionRef) -> list:
        """The plans of the submission's notebooks (one per gradebook notebook present)."""
        import nbformat

        from autograder.grader import intake

        names = self.notebooks(ref.assignment)
        if not names:
            raise PlanError(f"{ref}: assignment {ref.assignment!r} is not in the gradebook")
        folder = ref.folder(self.course)
        if intake.check_submission(folder):
            return []  # nbgrader's intake hook refuses it and grades its notice notebook
        source = os.path.join(self.course, "source", ref.assignment)
        plans = []
        for name in names:
            path = os.path.join(folder, name + ".ipynb")
            if not os.path.isfile(path):
                continue  # nbgrader scores a missing notebook 0 itself
            try:
                data = intake.open_data(path, intake.IntakeLimits().notebook_bytes)
                if data is None:
                    raise ValueError("not a regular file within the size limit")
                nb = nbformat.reads(data.decode("utf-8"), as_version=4)
            except Exception as exc:
                raise PlanError(f"{ref}: {name}.ipynb is not a readable notebook "
                                f"({type(exc).__name__}: {str(exc).splitlines()[0][:200]})"
                                ) from None
            resources = {"nbgrader": {"student": ref.student, "assignment": ref.assignment,
                                      "notebook": name, "db_url": self.db_url},
                         "metadata": {"path": folder}}
            try:
                for pre in self.sanitizers:
                    nb, resources = pre(nb, resources)
                with _secret_from(self.env):
                    plans.append(self.grader.plan(nb, resources, files_dirs=[folder, source]))
            except Exception as exc:
                first = (str(exc).strip().splitlines() or [""])[0][:300]
                raise PlanError(f"{ref}: {name}.ipynb could not be prepared for grading "
                                f"({type(exc).__name__}: {first})") from None
        return plans

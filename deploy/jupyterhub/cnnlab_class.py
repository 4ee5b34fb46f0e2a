"""The class a cnnlab JupyterHub serves: who is in it and where its files live.

Read by ``jupyterhub_config.py`` (the hub), ``setup_class.py`` (the Unix users, the
exchange and the grader's course) and ``../nbgrader/nbgrader_config.py`` (every user's
nbgrader), so each setting is written once. Every setting can be changed with an
environment variable; the defaults suit one class on one machine.

=====================  ===================================  ==============================
variable               default                              what
=====================  ===================================  ==============================
CNNLAB_CLASS           deploy/jupyterhub/class.csv          ``id,role`` rows: instructor,
                                                            grader (one) or student
CNNLAB_COURSE_ID       cnnlab                               nbgrader's course id
CNNLAB_EXCHANGE        /srv/nbgrader/exchange               nbgrader's exchange root
CNNLAB_HOME_BASE       /home                                where useradd puts homes
CNNLAB_GRADER_COURSE   <grader's home>/cnnlab-course        the course directory
CNNLAB_VENV_BIN        bin/ of the Python running this      jupyterhub-singleuser, nbgrader
=====================  ===================================  ==============================
"""

from __future__ import annotations

import csv
import os
import sys
from dataclasses import dataclass
from pathlib import Path

DEPLOY = Path(__file__).resolve().parents[1]
REPO = DEPLOY.parent
ROLES = ("instructor", "grader", "student")


@dataclass(frozen=True)
class ClassSettings:
    """One class on one hub."""

    course_id: str
    exchange: Path
    home_base: Path
    venv_bin: Path
    instructors: tuple[str, ...]
    grader: str
    students: tuple[str, ...]
    grader_course: Path
    class_file: Path

    @property
    def users(self) -> tuple[str, ...]:
        return (*self.instructors, self.grader, *self.students)

    def home(self, user: str) -> Path:
        return self.home_base / user

    def role(self, user: str) -> str:
        if user in self.instructors:
            return "instructor"
        if user == self.grader:
            return "grader"
        if user in self.students:
            return "student"
        raise KeyError(f"{user!r} is not in this class")

    def jupyter_config_path(self, user: str) -> str:
        """``JUPYTER_CONFIG_PATH`` of ``user``'s server: the course's nbgrader settings,
        and for students also the folder that turns off the instructor extensions."""
        folders = [DEPLOY / "nbgrader"]
        if self.role(user) == "student":
            folders.insert(0, DEPLOY / "jupyter-students")
        return os.pathsep.join(str(f) for f in folders)

    def environment(self) -> dict[str, str]:
        """What every user's server needs to find this class again."""
        return {"CNNLAB_COURSE_ID": self.course_id, "CNNLAB_EXCHANGE": str(self.exchange),
                "CNNLAB_HOME_BASE": str(self.home_base), "CNNLAB_VENV_BIN": str(self.venv_bin),
                "CNNLAB_CLASS": str(self.class_file), "CNNLAB_GRADER_COURSE":
                str(self.grader_course)}


def read_class(path: str | os.PathLike[str]) -> dict[str, list[str]]:
    """``{"instructor": [...], "grader": [...], "student": [...]}`` from an ``id,role`` CSV."""
    people: dict[str, list[str]] = {role: [] for role in ROLES}
    with open(path, newline="", encoding="utf-8") as fh:
        for line, row in enumerate(csv.DictReader(fh), start=2):
            user, role = (row.get("id") or "").strip(), (row.get("role") or "").strip()
            if role not in people or not user:
                raise ValueError(f"{path}, line {line}: expected a user id and a role "
                                 f"({', '.join(ROLES)}), found {user!r}, {role!r}")
            people[role].append(user)
    if len(people["grader"]) != 1:
        raise ValueError(f"{path}: the class needs exactly one grader account, found "
                         f"{len(people['grader'])}")
    return people


def settings(environ: dict[str, str] | None = None) -> ClassSettings:
    """The class of this environment (see the module docstring for the variables)."""
    env = os.environ if environ is None else environ
    class_file = Path(env.get("CNNLAB_CLASS") or DEPLOY / "jupyterhub" / "class.csv")
    people = read_class(class_file)
    home_base = Path(env.get("CNNLAB_HOME_BASE") or "/home")
    grader = people["grader"][0]
    return ClassSettings(
        course_id=env.get("CNNLAB_COURSE_ID") or "cnnlab",
        exchange=Path(env.get("CNNLAB_EXCHANGE") or "/srv/nbgrader/exchange"),
        home_base=home_base,
        venv_bin=Path(env.get("CNNLAB_VENV_BIN") or os.path.dirname(sys.executable)),
        instructors=tuple(people["instructor"]),
        grader=grader,
        students=tuple(people["student"]),
        grader_course=Path(env.get("CNNLAB_GRADER_COURSE") or home_base / grader
                           / "cnnlab-course"),
        class_file=class_file,
    )

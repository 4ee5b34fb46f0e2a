"""Create a cnnlab class on this machine: Unix users, nbgrader's exchange, the grader's course.

Run as root, with the course's Python (so the grader's course uses this checkout)::

    sudo .venv/bin/python deploy/jupyterhub/setup_class.py

It reads the class from ``cnnlab_class.py`` (``class.csv``, ``CNNLAB_*`` variables) and,
leaving alone whatever already exists:

1. creates each user with ``useradd`` (home mode 0700: nobody reads another's work).
   Passwords are yours to set (``passwd``) or come from PAM (LDAP, SSSD, ...);
2. creates the exchange root, world-writable as nbgrader requires (nbgrader makes each
   course's inbound folder write-only for students and their feedback unlistable);
3. creates the grader account's course directory (``source/`` from this checkout's
   ``autograder/source``, an ``nbgrader_config.py`` that loads the course's grading
   configuration) and its secret ``course_secret`` (mode 0600, the grader's own: the
   hidden tests depend on it; back it up), and points the grader's
   ``~/.jupyter/nbgrader_config.py`` at the course, so the Formgrader finds it.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cnnlab_class import REPO, ClassSettings, settings

sys.path.insert(0, str(REPO))


def _exists(user: str) -> bool:
    try:
        pwd.getpwnam(user)
    except KeyError:
        return False
    return True


def create_users(cls: ClassSettings) -> list[str]:
    """``useradd`` for each member of the class who is not a Unix user yet."""
    made = []
    cls.home_base.mkdir(parents=True, exist_ok=True)
    for user in cls.users:
        if _exists(user):
            continue
        subprocess.run(["useradd", "--create-home", "--base-dir", str(cls.home_base),
                        "--shell", "/bin/bash", "--user-group", "-K", "HOME_MODE=0700", user],
                       check=True)
        os.chmod(cls.home(user), 0o700)
        made.append(user)
    return made


def create_exchange(cls: ClassSettings) -> None:
    cls.exchange.mkdir(parents=True, exist_ok=True)
    os.chmod(cls.exchange, 0o777)


def _chown_tree(path: Path, user: str) -> None:
    entry = pwd.getpwnam(user)
    for folder, dirs, files in os.walk(path):
        for name in [folder, *(os.path.join(folder, n) for n in dirs + files)]:
            os.chown(name, entry.pw_uid, entry.pw_gid)


def create_grader_course(cls: ClassSettings) -> Path:
    """The course directory, its secret and the grader's nbgrader configuration."""
    from autograder.tools import course as C
    from autograder.tools.pipeline import init_secret

    course = cls.grader_course
    if not (course / "nbgrader_config.py").exists():
        sources = {a: os.path.join(C.AUTOGRADER, "source", a)
                   for a in C.assignments_in(os.path.join(C.AUTOGRADER, "source"))}
        C.make_course(str(course), sources)
    secret = course / "course_secret"
    if not secret.exists():
        init_secret(str(secret))
    jupyter_dir = cls.home(cls.grader) / ".jupyter"
    jupyter_dir.mkdir(exist_ok=True)
    (jupyter_dir / "nbgrader_config.py").write_text(
        '"""The grader account\'s nbgrader: the cnnlab course (setup_class.py)."""\n'
        "c = get_config()  # noqa: F821\n"
        f"load_subconfig({str(course / 'nbgrader_config.py')!r})  # noqa: F821\n",
        encoding="utf-8")
    _chown_tree(course, cls.grader)
    _chown_tree(jupyter_dir, cls.grader)
    os.chmod(secret, 0o600)
    return course


def main() -> int:
    if os.geteuid() != 0:
        print("setup_class.py creates Unix users: run it as root", file=sys.stderr)
        return 1
    if shutil.which("useradd") is None:
        print("useradd not found (Debian: apt-get install passwd)", file=sys.stderr)
        return 1
    cls = settings()
    made = create_users(cls)
    create_exchange(cls)
    course = create_grader_course(cls)
    print(f"users created: {', '.join(made) or 'none (all existed)'}")
    print(f"exchange: {cls.exchange}")
    print(f"course {cls.course_id}: {course} (owner {cls.grader}, secret course_secret)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Symbolic links in the submission folder pointing into the course: the master
notebook (hidden tests and solutions), the gradebook, the course directory itself, the
course secret and the grading process's environment (``/proc/self/environ`` resolves
to whichever process follows the link). Copied as the files they point to, they came
back in this student's feedback folder.

Gets nothing: the intake check (``grader/intake.py``, nbgrader's pre-convert hook) sees
the links with ``lstat`` before nbgrader copies anything, moves the folder aside and
grades the blank release notebook with a notice saying which link was refused.
"""

import os

CATEGORY = "submission files"
MARKS = ("refused",)


def PLANT(folder, attack):
    os.symlink(attack["source_notebook"], os.path.join(folder, "notes.txt"))
    os.symlink(attack["gradebook"], os.path.join(folder, "data.db"))
    os.symlink(attack["course_root"], os.path.join(folder, "course"))
    os.symlink(attack["secret_file"], os.path.join(folder, "key.txt"))
    os.symlink("/proc/self/environ", os.path.join(folder, "environ.txt"))
    os.symlink("../../../source", os.path.join(folder, "relative"))

"""The submitted notebook is a symbolic link to the master notebook (which holds the
solutions): followed, a blank submission would be graded as the instructor's own.

Gets nothing: a notebook that is a link is refused like any other link, before
nbgrader opens it.
"""

import os

CATEGORY = "submission files"
MARKS = ("refused",)


def PLANT(folder, attack):
    name = os.path.basename(attack["source_notebook"])
    os.remove(os.path.join(folder, name))
    os.symlink(attack["source_notebook"], os.path.join(folder, name))

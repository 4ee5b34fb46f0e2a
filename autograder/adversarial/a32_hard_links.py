"""Hard links instead of symbolic ones: the notebook is a second name of the master
notebook, and ``key.txt`` a second name of the course secret. ``lstat`` shows a hard
link as a regular file, so a check for symbolic links alone lets it through.

Gets nothing: a regular file with more than one name (``st_nlink > 1``) is refused.
"""

import os

CATEGORY = "submission files"
MARKS = ("refused",)


def PLANT(folder, attack):
    name = os.path.basename(attack["source_notebook"])
    os.remove(os.path.join(folder, name))
    os.link(attack["source_notebook"], os.path.join(folder, name))
    os.link(attack["secret_file"], os.path.join(folder, "key.txt"))

"""A FIFO and a link to ``/dev/stdin`` in the submission folder: whoever opens them
for reading waits forever, and this used to hang the whole ``grade`` command.

Gets nothing and hangs nothing: neither is ever opened (``lstat`` only, then
``O_NOFOLLOW | O_NONBLOCK`` for what is read); the submission is refused.
"""

import os

CATEGORY = "submission files"
MARKS = ("refused",)


def PLANT(folder, attack):
    os.mkfifo(os.path.join(folder, "pipe.txt"))
    os.symlink("/dev/stdin", os.path.join(folder, "input.txt"))

"""A sparse file of 4 GiB apparent size (nothing on disk), a thousand tiny files and
folders nested forty deep: each copy of the submission (autograded/, the sandbox,
feedback/) would cost 4 GiB and thousands of inodes.

Gets nothing: the apparent size, blocks on disk, file count and depth are checked
before anything is copied; the submission is refused.
"""

import os

CATEGORY = "submission files"
MARKS = ("refused",)


def PLANT(folder, attack):
    with open(os.path.join(folder, "big.bin"), "wb") as fh:
        fh.truncate(4 * 2**30)
    many = os.path.join(folder, "many")
    os.makedirs(many)
    for i in range(1000):
        open(os.path.join(many, f"{i}.txt"), "w").close()
    os.makedirs(os.path.join(folder, *["d"] * 40))

"""A notebook whose metadata is nested a hundred thousand levels deep: a recursive
JSON parser (nbgrader's reader) runs out of stack, and the submission used to end as
"error processing assignment" with no word to anyone.

Gets nothing: the intake check measures the nesting without parsing recursively and
refuses the submission with a notice.
"""

import os

CATEGORY = "submission files"
MARKS = ("refused",)


def PLANT(folder, attack):
    path = os.path.join(folder, os.path.basename(attack["source_notebook"]))
    with open(path, encoding="utf-8") as fh:
        head = fh.read().rstrip().rstrip("}")
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(head.rstrip() + ', "x_cnnlab_deep": ' + "[" * 100000 + "]" * 100000 + "}")

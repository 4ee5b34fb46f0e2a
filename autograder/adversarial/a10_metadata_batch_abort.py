"""Corrupt nbgrader metadata to stop the whole batch.

Sets an old ``schema_version`` on a test cell (nbgrader aborts the *entire* autograde
run on it), duplicates a test cell, makes one cell's metadata a string and adds a
grade cell without points or id. Earns nothing and stops nothing: cnnlab's
``RestoreCellMetadata`` rewrites all nbgrader metadata from the gradebook before
nbgrader validates it; duplicates and unknown cells become plain cells.
"""

CATEGORY = "cell deletion and editing"


def MUTATE(nb):
    import copy

    import nbformat

    tests = [c for c in nb.cells if c.get("metadata", {}).get("nbgrader", {}).get("grade")
             and not c.metadata.nbgrader.get("solution")]
    tests[0].metadata.nbgrader["schema_version"] = 1
    duplicate = copy.deepcopy(tests[-1])
    duplicate["id"] = "duplicate-of-a-test-cell"
    nb.cells.insert(0, duplicate)
    nb.cells[1].metadata["nbgrader"] = "garbage"
    broken = nbformat.v4.new_code_cell("x = 1")
    broken.metadata["nbgrader"] = {"grade": True, "solution": False, "locked": False}
    nb.cells.append(broken)

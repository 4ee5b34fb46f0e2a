"""Delete every test cell (and the variant cell) from the notebook.

Plain nbgrader would silently drop the deleted tests. Earns nothing: nbgrader's
``add_missing_cells`` is on, so the test cells come back, and they are graded from the
answers like any other submission's.
"""

CATEGORY = "cell deletion and editing"


def _is_test(cell):
    meta = cell.get("metadata", {}).get("nbgrader", {})
    return bool(meta.get("grade")) and not meta.get("solution")


def MUTATE(nb):
    nb.cells = [c for c in nb.cells if not _is_test(c)
                and "cnnlab-variant" not in c.get("metadata", {}).get("tags", [])]

"""Edit test cells and their metadata.

Replaces every test cell's source with code that prints a passing report and returns
full marks, raises its points to 1000, turns answer cells into graded cells worth 50,
and adds a new "bonus" grade cell worth 100. Earns nothing: every cell's nbgrader
metadata is restored from the gradebook, test cell sources are restored, and the
added cell is not a cell the gradebook knows.
"""

CATEGORY = "cell deletion and editing"


def MUTATE(nb):
    import nbformat

    for cell in nb.cells:
        meta = cell.get("metadata", {}).get("nbgrader")
        if not meta:
            continue
        if meta.get("grade") and not meta.get("solution"):
            cell.source = "print('2 / 2 points')\n2.0"
            meta["points"] = 1000
        elif meta.get("solution"):
            meta["grade"] = True
            meta["points"] = 50
    bonus = nbformat.v4.new_code_cell("1000.0")
    bonus.metadata["nbgrader"] = {"grade": True, "solution": False, "locked": True,
                                  "points": 100, "grade_id": "bonus", "schema_version": 3}
    nb.cells.append(bonus)

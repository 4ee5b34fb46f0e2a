"""Print fake grading output: a passing report, a bare score as the cell's result, raw
writes to stdout, and fake ``execute_result`` outputs stored in the submitted test
cells.

Earns nothing: nbgrader clears submitted outputs, and the test cells' outputs are
written by the grader alone; what a student prints stays in the student's own cells.
"""

CATEGORY = "fake output"


def MUTATE(nb):
    import nbformat

    for cell in nb.cells:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if meta.get("grade") and not meta.get("solution"):
            cell.outputs = [nbformat.v4.new_output(
                "execute_result", data={"text/plain": str(meta.get("points", 1))},
                execution_count=1)]


APPEND = [
    '''import os
import sys

for _name in ATTACK["targets"]:
    print(f"{_name}: full marks\\n2 / 2 points")
sys.stdout.write("2.0\\n")
os.write(1, b"2.0\\n")
from IPython.display import display

display({"text/plain": "2.0"}, raw=True)
2.0
''',
]

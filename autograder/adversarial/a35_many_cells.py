"""A small notebook with twenty thousand empty cells: its feedback was an 85 MiB
folder and generating it took a 1.2 GiB process.

Gets nothing: the intake check counts a notebook's cells before nbgrader reads it;
the submission is refused with a notice, so its feedback is the size of a blank one.
"""

CATEGORY = "submission files"
MARKS = ("refused",)


def MUTATE(nb):
    import nbformat

    # numbered ids: 20,000 random 8-digit ids collide about once in twenty notebooks
    nb.cells += [nbformat.v4.new_markdown_cell("", id=f"empty-{i}") for i in range(20000)]

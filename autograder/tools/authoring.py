"""Authoring: start an assignment from the template, add a question, write the points.

``python -m autograder.tools new-assignment ps5_custom`` creates
``autograder/source/ps5_custom/`` with the master notebook and
``ps5_custom_questions.py``, the file that declares its questions with the builder
(:mod:`cnnlab.grading.build`). ``add-question ps5_custom <name> --target <function>``
adds a question to both. ``sync-points`` (and ``make course``) writes each question's
points, declared once in the questions file, into the test cells and the table at the
top of the notebook. docs/authoring.md walks through it.

The questions file is released with the notebook (nbgrader releases everything in
``source/<assignment>/``), so a student's own checks work on a JupyterHub server where
only the released files and the installed cnnlab exist; hidden *draws* stay secret
because they are seeded from the course secret, which never leaves the instructor.
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat

__all__ = [
    "POINTS_TAG",
    "add_question",
    "new_assignment",
    "points_markdown",
    "sync_points",
    "written_answers",
]

POINTS_TAG = "cnnlab-points"
_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
_MARK = "# --- questions (add-question appends here) ---"

MODULE_TEMPLATE = '''"""{assignment}: its questions, one declaration each (docs/authoring.md).

Each question's cases, reference (cnnlab's own computation), misconceptions (a sentence
next to the wrong computation that produces it) and points are declared here, once;
``make course`` / ``python -m autograder.tools sync-points`` writes the points into
the notebook. This file is released with the notebook.
"""

from cnnlab import shapes
from cnnlab.grading.build import Mistake, function_question
from cnnlab.grading.variants import VariantSpec, register_variant

ASSIGNMENT = "{assignment}"
register_variant(VariantSpec(ASSIGNMENT, {{}}, lambda draw: {{}}))  # everyone: same numbers

OUTPUT_SIZE = function_question(
    f"{{ASSIGNMENT}}-output_size",
    "output_size",
    points=2,
    reference=lambda n, k, s: shapes.conv_output_size(n, k, stride=s),
    visible=[(7, 3, 1), (7, 3, 2), (32, 5, 1)],
    hidden=lambda rng: [
        (int(rng.integers(8, 64)), int(rng.choice([1, 3, 5])), int(rng.integers(1, 4)))
        for _ in range(8)
    ],
    mistakes=[
        Mistake(
            "the count is one short: the window's first position needs the +1.",
            lambda n, k, s: (n - k) // s,
        ),
        Mistake(
            "the stride was ignored: the window moves s pixels per step.",
            lambda n, k, s: n - k + 1,
        ),
    ],
    describe=lambda n, k, s: "stride > 1" if s > 1 else "stride 1",
    title="output_size(n, k, s)",
)

{mark}

#: The questions, in notebook order (the registry reads this).
QUESTIONS = (OUTPUT_SIZE,)
'''

QUESTION_TEMPLATE = """
{const} = function_question(
    f"{{ASSIGNMENT}}-{name}",
    "{target}",
    points={points:g},
    # TODO: the correct answer, computed by cnnlab (shapes, params, receptive, naive, ...)
    reference=lambda *args: NotImplemented,
    # TODO: the arguments of the cases the student's own check runs
    visible=[],
    # the arguments drawn at grading time, from the course secret's generator
    hidden=None,
    mistakes=[
        # Mistake("the sentence the student reads.", lambda *args: the_wrong_answer),
    ],
    describe=None,  # a hidden case's features, never its inputs
    title="{target}",
)
"""


def _source_cell(kind: str, source: str, cell_id: str, nbgrader: dict | None = None):
    cell = (nbformat.v4.new_code_cell if kind == "code" else nbformat.v4.new_markdown_cell)(source)
    cell.id = cell_id
    if nbgrader is not None:
        cell.metadata["nbgrader"] = {"schema_version": 3, **nbgrader}
    return cell


def _question_cells(assignment: str, name: str, target: str, points: float, solution: str):
    key = f"{assignment}-{name}"
    test = (
        "from cnnlab.grading import check\n\n"
        f'check("{key}", {target})\n'
        "### BEGIN HIDDEN TESTS\n"
        f'check("{key}", {target}, hidden=True)\n'
        "### END HIDDEN TESTS"
    )
    return [
        _source_cell("markdown", f"## `{target}`\n\nTODO: what to write, and why.", f"md-{name}"),
        _source_cell(
            "code",
            solution,
            f"answer-{name}",
            {"grade": False, "grade_id": f"answer-{name}", "locked": False, "solution": True},
        ),
        _source_cell(
            "code",
            test,
            key,
            {"grade": True, "grade_id": key, "locked": True, "points": points, "solution": False},
        ),
    ]


def _check_name(kind: str, name: str) -> None:
    if not _NAME.match(name):
        raise ValueError(
            f"{kind} {name!r}: use letters, digits and _ (starting with a letter); nbgrader "
            "allows no other characters in a grade id and '-' separates the assignment"
        )


def new_assignment(source_root: str | Path, assignment: str) -> Path:
    """Create ``source_root/<assignment>/`` from the template; return the folder."""
    _check_name("assignment", assignment)
    folder = Path(source_root) / assignment
    if folder.exists():
        raise FileExistsError(f"{folder} exists already: pick another name or edit it")
    folder.mkdir(parents=True)
    (folder / f"{assignment}_questions.py").write_text(
        MODULE_TEMPLATE.format(assignment=assignment, mark=_MARK), encoding="utf-8"
    )
    solution = (
        "def output_size(n, k, s=1):\n"
        "    ### BEGIN SOLUTION\n"
        "    return (n - k) // s + 1\n"
        "    ### END SOLUTION"
    )
    cells = [
        _source_cell(
            "markdown",
            f"# {assignment}\n\nTODO: what this problem set is about.",
            "title",
        ),
        _source_cell("markdown", "", POINTS_TAG),
        *_question_cells(assignment, "output_size", "output_size", 2, solution),
        _source_cell(
            "markdown",
            "## Written answer (2 points, marked by hand)\n\nTODO: the question.\n\n"
            "=== BEGIN MARK SCHEME ===\n\n**Rubric for the TA (2 points).**\n\n- TODO\n\n"
            "=== END MARK SCHEME ===",
            "written-answer",
            {
                "grade": True,
                "grade_id": "written-answer",
                "locked": True,
                "points": 2,
                "solution": False,
                "task": True,
            },
        ),
        _source_cell("markdown", "*Your answer here.*", "answer-written-answer"),
    ]
    cells[1].metadata["tags"] = [POINTS_TAG]
    nb = nbformat.v4.new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {
        "display_name": "Python 3",
        "language": "python",
        "name": "python3",
    }
    nbformat.write(nb, str(folder / f"{assignment}.ipynb"))
    sync_points(folder.parent, assignment)
    return folder


def _declare(text: str, declaration: str, const: str, where: str) -> str:
    """``text`` with ``declaration`` placed before the ``QUESTIONS`` tuple (or the
    add-question mark) and ``const`` appended to that tuple, one name per line when the
    tuple is written over several lines."""
    found = re.search(r"^QUESTIONS = \(([^()]*)\)", text, re.M)
    if found is None:
        raise ValueError(f"{where}: no QUESTIONS = (...) tuple of question names to extend")
    names = [n.strip() for n in found.group(1).split(",") if n.strip()]
    one_line = f"QUESTIONS = ({', '.join([*names, const])})"
    if "\n" in found.group(0) or len(one_line) > 99:
        tuple_text = "QUESTIONS = (\n" + "".join(f"    {n},\n" for n in [*names, const]) + ")"
    else:
        tuple_text = one_line
    text = text[: found.start()] + tuple_text + text[found.end() :]
    anchor = text.index(_MARK) if _MARK in text else found.start()
    return text[:anchor] + declaration + "\n\n\n" + text[anchor:]


def add_question(
    source_root: str | Path, assignment: str, name: str, *, target: str, points: float
) -> None:
    """Declare question ``name`` (a function ``target``) in the questions file and add
    its cells (prompt, answer, test) to the notebook, before the written answers."""
    _check_name("question", name)
    _check_name("target", target)
    folder = Path(source_root) / assignment
    module = folder / f"{assignment}_questions.py"
    text = module.read_text(encoding="utf-8")
    const = name.upper()
    if re.search(rf"^{const} = ", text, re.M):
        raise ValueError(f"{module.name} already declares {const}")
    declaration = QUESTION_TEMPLATE.format(
        const=const, name=name, target=target, points=points
    ).strip()
    module.write_text(_declare(text, declaration, const, module.name), encoding="utf-8")
    path = folder / f"{assignment}.ipynb"
    nb = nbformat.read(str(path), as_version=4)
    solution = (
        f"def {target}(*args):\n"
        "    ### BEGIN SOLUTION\n"
        "    raise NotImplementedError('TODO: the model solution')\n"
        "    ### END SOLUTION"
    )
    written = next(
        (i for i, c in enumerate(nb.cells) if c.metadata.get("nbgrader", {}).get("task")),
        len(nb.cells),
    )
    nb.cells[written:written] = _question_cells(assignment, name, target, points, solution)
    nbformat.write(nb, str(path))


def written_answers(nb) -> list[tuple[str, float]]:
    """``(grade_id, points)`` of the written answers of a notebook, marked by hand.

    A written answer is an nbgrader *task* cell (the question, and the TA's rubric
    between ``BEGIN MARK SCHEME`` and ``END MARK SCHEME``, which release removes and
    the Formgrader shows) followed by a plain cell the student writes in.
    """
    found = []
    for cell in nb.cells:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if meta.get("grade") and meta.get("task") and cell.cell_type == "markdown":
            found.append((meta["grade_id"], float(meta["points"])))
    return found


def points_markdown(assignment: str, nb) -> str:
    """The points table at the top of an assignment.

    Autograded questions come from the question registry; written answers, graded by
    hand, from their cells' nbgrader metadata (where a TA's rubric sits too).
    """
    from cnnlab.grading import questions_for

    questions = questions_for(assignment)
    written = written_answers(nb)
    total = sum(q.points for q in questions) + sum(points for _, points in written)
    intro = (
        f"**Points.** This problem set is worth **{total:g} points**. Each test cell "
        "grades one question and prints how its score adds up"
    )
    intro += "; written answers are marked by hand." if written else "."
    rows = [intro, "", "| question | what is graded | points |", "| --- | --- | ---: |"]
    rows += [f"| `{q.key.partition('-')[2]}` | {q.title} | {q.points:g} |" for q in questions]
    rows += [f"| `{gid}` | written answer, marked by hand | {pts:g} |" for gid, pts in written]
    rows.append(f"| | **total** | **{total:g}** |")
    return "\n".join(rows)


def sync_points(source_root: str | Path, assignment: str, *, write: bool = True) -> list[str]:
    """Write the registry's points into the master notebook (test cells, points table).

    The points of a question are declared once, with the question; this copies them
    into the test cells' nbgrader metadata and into the table under the title. With
    ``write=False`` nothing changes and the differences are returned as problems.
    """
    from cnnlab.grading import add_course_source, question
    from cnnlab.grading.questions import unload_assignment

    add_course_source(source_root)
    unload_assignment(assignment)  # the questions file may have just changed
    path = Path(source_root) / assignment / f"{assignment}.ipynb"
    nb = nbformat.read(str(path), as_version=4)
    problems = []
    for cell in nb.cells:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if meta.get("grade") and cell.cell_type == "code":
            points = question(meta["grade_id"]).points
            if meta.get("points") != points:
                problems.append(f"{path.name}: {meta['grade_id']} has {meta.get('points')} points")
                meta["points"] = int(points) if points.is_integer() else points  # 5, not 5.0
    table = points_markdown(assignment, nb)
    tagged = [c for c in nb.cells if POINTS_TAG in c.get("metadata", {}).get("tags", [])]
    if not tagged:
        problems.append(f"{path.name}: no points table")
        title = next(i for i, c in enumerate(nb.cells) if c.cell_type == "markdown")
        cell = nbformat.v4.new_markdown_cell(table)
        cell.metadata["tags"] = [POINTS_TAG]
        cell.id = POINTS_TAG
        nb.cells.insert(title + 1, cell)
    elif tagged[0].source != table:
        problems.append(f"{path.name}: the points table is stale")
        tagged[0].source = table
    if write and problems:
        nbformat.write(nb, str(path))
    return problems

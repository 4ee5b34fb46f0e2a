"""The sanitize step's lookups of a notebook's master cells, read in one go.

nbgrader's ``OverwriteCells`` puts back each submitted cell's type, lock, checksum and
points from the gradebook's master ("source") notebook, and ``OverwriteKernelspec``
its kernelspec. Each opens its own :class:`nbgrader.api.Gradebook` (creating the
tables if missing, checking the course: a commit) and ``OverwriteCells`` asks one
query per cell, two for a graded one: some 50 statements per notebook, and the step
runs twice per notebook (in the planner and in nbgrader's sanitize step).

:func:`read_master` reads the master notebook once (the notebook, its source cells,
its graded and solution cells: five SELECTs, no commit; the kernelspec alone: one)
into plain values, and the two preprocessors here are nbgrader's with their gradebook
replaced by that snapshot: nbgrader's own ``preprocess_cell`` and
``missing_cell_transform`` run unchanged on it. Missing test and task cells are put
back in the master's place, after whatever master cell precedes them (nbgrader's
``add_missing_grade_cells`` fails when that is a read-only cell, and its
``add_missing_task_cells`` appends at the end). The relationships are read with
nbgrader's own mapping, so the cells come in the order nbgrader would see them.

The snapshot is kept for the rest of one nbgrader command, and of the planning of a
grading run
(:func:`autograder.tools.gradebook_engines.remembered_master`): the master changes only
with ``generate_assignment``, which is a command of its own. Outside such a block it is
read again for each notebook.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from nbgrader.preprocessors import OverwriteCells, OverwriteKernelspec

from autograder.grader.preprocessor import grade_id


@dataclass(frozen=True)
class MasterSourceCell:
    """A master cell's fields ``OverwriteCells`` reads (nbgrader's ``SourceCell``)."""

    name: str
    cell_type: str
    locked: bool
    source: str | None
    checksum: str | None


@dataclass(frozen=True)
class MasterCell:
    """A master solution cell: its name."""

    name: str


@dataclass(frozen=True)
class MasterGradedCell(MasterCell):
    """A master grade or task cell: its name and points."""

    max_score: float


@dataclass(frozen=True)
class MasterNotebook:
    """One master notebook as nbgrader's ``Gradebook.find_notebook`` would give it.

    ``exists`` False: the gradebook has no such notebook (every lookup then fails as
    nbgrader's does, with :class:`nbgrader.api.MissingEntry`).
    """

    name: str
    assignment: str
    exists: bool
    kernelspec: str | None = None
    source_cells: tuple[MasterSourceCell, ...] = ()
    grade_cells: tuple[MasterGradedCell, ...] = ()
    solution_cells: tuple[MasterCell, ...] = ()
    task_cells: tuple[MasterGradedCell, ...] = ()

    # the lookups of nbgrader.api.Gradebook that OverwriteCells makes, same errors

    def find_notebook(self, name: str, assignment: str) -> MasterNotebook:
        from nbgrader.api import MissingEntry

        self._same(name, assignment)
        if not self.exists:
            raise MissingEntry(f"No such notebook: {assignment}/{name}")
        return self

    def find_source_cell(self, name: str, notebook: str, assignment: str) -> MasterSourceCell:
        from nbgrader.api import MissingEntry

        self._same(notebook, assignment)
        for cell in self.source_cells:
            if cell.name == name:
                return cell
        raise MissingEntry(f"No such source cell: {assignment}/{notebook}/{name}")

    def find_graded_cell(self, name: str, notebook: str, assignment: str) -> MasterGradedCell:
        from nbgrader.api import MissingEntry

        self._same(notebook, assignment)
        for cell in self.grade_cells + self.task_cells:  # nbgrader's order: grade, task
            if cell.name == name:
                return cell
        raise MissingEntry(f"No such grade cell: {assignment}/{notebook}/{name}")

    def _same(self, notebook: str, assignment: str) -> None:
        if (notebook, assignment) != (self.name, self.assignment):
            raise ValueError(f"snapshot of {self.assignment}/{self.name}, "
                             f"asked for {assignment}/{notebook}")


def read_master(db_url: str, notebook: str, assignment: str, *,
                cells: bool = True) -> MasterNotebook:
    """The master notebook ``assignment/notebook`` of the gradebook at ``db_url``
    (``cells`` False: only whether it exists and its kernelspec, one SELECT), read once
    per nbgrader command (see the module docstring)."""
    from autograder.tools.gradebook_engines import remembered_master

    return remembered_master((db_url, notebook, assignment, cells),
                             lambda: _read_master(db_url, notebook, assignment, cells=cells))


def _read_master(db_url: str, notebook: str, assignment: str, *,
                 cells: bool) -> MasterNotebook:
    from nbgrader.api import Assignment, GradeCell, Notebook, SolutionCell, TaskCell
    from sqlalchemy.orm import Session

    from autograder.tools.gradebook_engines import shared_engine

    engine = shared_engine(db_url, echo=False, future=True)  # nbgrader's own options
    try:
        with Session(engine, future=True) as session:
            found = (session.query(Notebook)
                     .join(Assignment, Assignment.id == Notebook.assignment_id)
                     .filter(Notebook.name == notebook, Assignment.name == assignment)
                     .one_or_none())
            if found is None:
                return MasterNotebook(notebook, assignment, exists=False)
            if not cells:
                return MasterNotebook(notebook, assignment, exists=True,
                                      kernelspec=found.kernelspec)
            # load the graded cells' points first: the cells below are then complete
            for kind in (GradeCell, TaskCell):
                session.query(kind).filter(kind.notebook_id == found.id).all()
            cells = found._base_cells  # nbgrader's relationship, so nbgrader's order

            def graded(kind) -> tuple[MasterGradedCell, ...]:
                return tuple(MasterGradedCell(c.name, c.max_score) for c in cells
                             if isinstance(c, kind))

            return MasterNotebook(
                notebook, assignment, exists=True, kernelspec=found.kernelspec,
                source_cells=tuple(MasterSourceCell(c.name, c.cell_type, c.locked,
                                                    c.source, c.checksum)
                                   for c in found.source_cells),
                grade_cells=graded(GradeCell),
                solution_cells=tuple(MasterCell(c.name) for c in cells
                                     if isinstance(c, SolutionCell)),
                task_cells=graded(TaskCell))
    finally:
        engine.dispose()  # as nbgrader's Gradebook.close does


class OverwriteCellsFromMaster(OverwriteCells):
    """nbgrader's ``OverwriteCells``, its gradebook lookups served by one read of the
    master notebook (:func:`read_master`), and missing test and task cells put back
    where the master has them (:meth:`add_missing_master_cells`)."""

    def preprocess(self, nb, resources):
        # OverwriteCells.preprocess, with the snapshot in place of a Gradebook
        self.notebook_id = resources["nbgrader"]["notebook"]
        self.assignment_id = resources["nbgrader"]["assignment"]
        self.db_url = resources["nbgrader"]["db_url"]
        self.gradebook = read_master(self.db_url, self.notebook_id, self.assignment_id)
        nb, resources = super(OverwriteCells, self).preprocess(nb, resources)
        if self.add_missing_cells:
            nb, resources = self.add_missing_master_cells(nb, resources)
        return nb, resources

    def add_missing_master_cells(self, nb, resources):
        """Put the master's grade (test) and task cells missing from ``nb`` back.

        Replaces nbgrader's ``add_missing_grade_cells`` and ``add_missing_task_cells``.
        The first puts a missing cell after the master cell before it, looked up among
        the submission's grade and solution cells only: it raises ``KeyError`` when
        that cell is any other master cell, such as a locked read-only one. The second
        puts every missing task cell at the end of the notebook.

        Here each missing cell, in the master's order, goes right after the nearest
        master cell before it that the notebook holds (of any kind: read-only,
        solution, grade, task, or one put back just before), or first if there is none.
        The cell itself is nbgrader's (``missing_cell_transform``): the master's
        source under nbgrader's notice, its metadata and points, no outputs; a cell
        that is both a grade and a task cell (a written answer) keeps both flags, as
        nbgrader's metadata check requires of a markdown grade cell. A cell is
        missing as nbgrader decides it: a grade cell when no grade or solution cell of
        the notebook has its grade_id, a task cell when no cell with nbgrader metadata
        has it.

        Parameters
        ----------
        nb : nbformat.NotebookNode
            The submitted notebook, changed in place.
        resources : dict
            nbconvert's resources, returned unchanged.

        Returns
        -------
        nb : nbformat.NotebookNode
            The notebook with the missing cells put back.
        resources : dict
            ``resources``.
        """
        from nbgrader import utils

        master = self.gradebook.find_notebook(self.notebook_id, self.assignment_id)
        grade_points = {c.name: c.max_score for c in master.grade_cells}
        task_points = {c.name: c.max_score for c in master.task_cells}
        solutions = {c.name for c in master.solution_cells}
        present_grades = {c.metadata.nbgrader["grade_id"] for c in nb.cells
                          if utils.is_grade(c) or utils.is_solution(c)}
        present_tasks = {grade_id(c) for c in nb.cells}
        order = [c.name for c in master.source_cells]

        for position, source_cell in enumerate(master.source_cells):
            name = source_cell.name
            if name in grade_points and name not in present_grades:
                self.log.warning(f"Missing grade cell {name} encountered, adding to notebook")
                cell = self.missing_cell_transform(source_cell, grade_points[name],
                                                   is_solution=name in solutions)
                # a written answer is a grade and a task cell: without its task flag
                # nbgrader's check refuses it (a markdown grade cell must be a solution)
                if name in task_points:
                    cell["metadata"]["nbgrader"]["task"] = True
            elif name in task_points and name not in present_tasks:
                self.log.warning(f"Missing task cell {name} encountered, adding to notebook")
                cell = self.missing_cell_transform(source_cell, task_points[name],
                                                   is_task=True)
            else:
                continue
            nb.cells.insert(_after_nearest(nb.cells, order[:position]), cell)
            present_grades.add(name)
            present_tasks.add(name)
        return nb, resources


def _after_nearest(cells, earlier: list[str]) -> int:
    """The index just after the cell of ``cells`` whose grade_id comes last in
    ``earlier`` (master cell names in the master's order); 0 if none of them is there."""
    where = {grade_id(cell): index for index, cell in enumerate(cells)}
    for name in reversed(earlier):
        if name in where:
            return where[name] + 1
    return 0


class OverwriteKernelspecFromMaster(OverwriteKernelspec):
    """nbgrader's ``OverwriteKernelspec`` reading the kernelspec without opening a
    ``Gradebook`` (:func:`read_master`)."""

    def preprocess(self, nb, resources):
        notebook_id = resources["nbgrader"]["notebook"]
        assignment_id = resources["nbgrader"]["assignment"]
        master = read_master(resources["nbgrader"]["db_url"], notebook_id, assignment_id,
                             cells=False)
        kernelspec = master.find_notebook(notebook_id, assignment_id).kernelspec
        if kernelspec is not None:
            kernelspec = json.loads(kernelspec)
        self.log.debug(f"Source notebook kernelspec: {kernelspec}")
        self.log.debug(f"Submitted notebook kernelspec: {nb.metadata.get('kernelspec', None)}")
        if kernelspec:
            self.log.debug(f"Overwriting submitted notebook kernelspec: {kernelspec}")
            nb.metadata["kernelspec"] = kernelspec
        return nb, resources

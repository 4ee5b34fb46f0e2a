"""Grade a class: plan here, run the sandboxes on workers, write the gradebook once.

1. **Select.** Every submission of the assignments (or of ``students``) whose input key
   (:meth:`~autograder.tools.planning.Planner.input_key`) differs from the one it was
   last graded with; all of them with ``force``.
2. **Plan** each notebook in this process (the only one with the secret), assignment
   after assignment.
3. **Execute** the plans not already in the result store (all of them with
   ``force``) on Dask workers
   (:mod:`autograder.tools.workers`): each plan is sent as soon as it is made, so the
   workers start while the rest is planned; outcomes are stored as they arrive, from
   a thread of this process. With ``workers=0`` nothing is sent anywhere and nbgrader
   grades each notebook here.
4. **Write.** One ``nbgrader autograde --force`` per assignment and group of at most
   :data:`STUDENTS_PER_PASS` of its selected students (:func:`pass_sizes`: the run's
   last groups smaller), in the order they were sent,
   run in this process's main thread (:mod:`autograder.tools.nbgrader_app`), whose
   ``SandboxedGrading`` takes each notebook's outcome from the store: the gradebook has
   a single writer, and scores and feedback are those of a serial run. A group's pass
   starts as soon as all its outcomes are in, while the workers run the next groups'
   sandboxes (so this process's own work, about as much as a sandbox's, overlaps
   theirs, and what is left when the last sandbox ends is one group's pass, not an
   assignment's). Then the gradebook check; only then is that group's state updated.
   With ``workers=0``, one pass per assignment.
5. **Prune.** After a run without failures, the stored outcomes no current submission
   refers to are deleted (:func:`prune_results`).
"""

from __future__ import annotations

import os
import queue
import re
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from autograder.tools import course as C
from autograder.tools.planning import PlanError, Planner, SubmissionRef, find_submissions
from autograder.tools.state import GradingState

RESULTS = os.path.join(".cnnlab", "results")


@dataclass
class Row:
    """One submission's line of the end table."""

    ref: SubmissionRef
    status: str = "pending"    # graded, unchanged, failed
    score: float | None = None
    max_score: float | None = None
    seconds: float = 0.0
    reason: str = ""
    feedback_due: bool = False  # unchanged, but its feedback was never written


@dataclass
class BatchResult:
    rows: list[Row]
    failures: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)  # intake's lines (not plain data)
    log_path: str = ""
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def feedback_due(self) -> list[SubmissionRef]:
        """Graded by this run, or by an earlier one that stopped before its feedback."""
        return [r.ref for r in self.rows if r.status == "graded" or r.feedback_due]


class Progress:
    """A tqdm bar (done / total, rate, ETA, failures so far), or nothing when quiet."""

    def __init__(self, total: int, what: str, *, quiet: bool) -> None:
        self.failed = 0
        self.bar = None
        if not quiet and total:
            from tqdm import tqdm

            self.bar = tqdm(total=total, desc=what, unit="nb", dynamic_ncols=True,
                            file=sys.stderr)
            self.bar.set_postfix(failed=0)

    def step(self, *, failed: bool = False) -> None:
        self.failed += failed
        if self.bar is not None:
            self.bar.update(1)
            self.bar.set_postfix(failed=self.failed)

    def shrink(self, n: int) -> None:
        """``n`` fewer steps to go (notebooks that will not come)."""
        if self.bar is not None:
            self.bar.total -= n
            self.bar.refresh()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


class Log:
    """``<course>/.cnnlab/logs/grade-<time>.log``: this run's lines and nbgrader's log."""

    def __init__(self, course: str) -> None:
        folder = os.path.join(course, C.LOGS)
        os.makedirs(folder, exist_ok=True)
        self.path = os.path.join(folder, time.strftime("grade-%Y%m%d-%H%M%S.log"))
        self._fh = open(self.path, "a", encoding="utf-8")  # noqa: SIM115 - closed by close()

    def write(self, text: str) -> None:
        self._fh.write(text if text.endswith("\n") else text + "\n")
        self._fh.flush()

    def close(self) -> None:
        self._fh.close()


#: Most students in one gradebook pass (one ``nbgrader autograde``) when workers run
#: the sandboxes: the pass left to do after the last sandbox is at most this many
#: notebooks (some 0.16 s each), against a command's own start of about 0.3 s.
STUDENTS_PER_PASS = 25

#: The smallest of the run's last, tapered groups (:func:`pass_sizes`).
TAPER_LEAST = 3


def pass_sizes(students: int, most: int, *, tapered: bool) -> list[int]:
    """How many students each gradebook pass of one assignment writes, in order.

    At most ``most`` each, as even as that allows. ``tapered`` (the run's last
    assignment, when it needs more than one pass): its last passes halve in size,
    ``most // 2``, ``most // 4``, ... down to :data:`TAPER_LEAST`. The passes before the
    last one run while the workers still run the last sandboxes, so what is left when
    the last sandbox ends is a pass of a few students, not of ``most`` (some 0.13 s a
    notebook, on one core, while the others wait); each pass more costs nbgrader's
    start of a command, some 0.3 s.

    >>> pass_sizes(50, 25, tapered=False)
    [25, 25]
    >>> pass_sizes(50, 25, tapered=True)
    [15, 14, 12, 6, 3]
    >>> pass_sizes(20, 25, tapered=True)
    [20]
    """
    tail: list[int] = []
    if tapered and students > most:
        size = most // 2
        while size >= TAPER_LEAST and sum(tail) + size < students:
            tail.append(size)
            size //= 2
    rest = students - sum(tail)
    parts = -(-rest // max(1, most)) if rest else 0
    base, extra = divmod(rest, parts) if parts else (0, 0)
    return [base + (i < extra) for i in range(parts)] + tail


_PROCESSING = "There was an error processing assignment '"


def _nbgrader_failures(lines: Sequence[str]) -> dict[str, str]:
    """student -> the real cause, from nbgrader's log of one autograde call: the last
    error it logged for that student before 'There was an error processing ...'."""
    out: dict[str, str] = {}
    cause = ""
    for line in lines:
        m = C.NBGRADER_ERROR.search(line)
        if m is None:
            tail = line.strip()
            if C.TRACEBACK_END.match(tail):
                cause = tail  # the last line of a traceback
            continue
        text = m.group(1).strip()
        if _PROCESSING in text:
            found = re.findall(r"'([^']*)'", text)
            student = found[-1] if found else "?"
            out[student] = cause or text
            cause = ""
        elif text and not text.startswith(("Traceback", _PROCESSING[:-2])):
            cause = text
    return out


def _autograde(course: str, assignment: str, *, env: Mapping[str, str], store: str | None,
               exclude: Sequence[str], log: Log, progress: Progress) -> tuple[int, list[str]]:
    """One ``nbgrader autograde --force``, in this process (:mod:`nbgrader_app`): its log
    lines go into ``log`` as they come, one bar step per notebook; returns its exit code
    and its log lines."""
    from autograder.tools import nbgrader_app

    args = ["autograde", assignment, "--force"]
    if store:
        args.append(f"--SandboxedGrading.result_store={store}")
    if exclude:
        args.append("--CourseDirectory.student_id_exclude=" + ",".join(exclude))
    log.write(f"$ nbgrader {' '.join(args)}")

    def on_line(line: str) -> None:
        log.write(line)
        if "| INFO] Autograding " in line:
            progress.step()

    done = nbgrader_app.run(course, args, env=env, on_line=on_line)
    return done.code, done.lines


def grade_class(course: str, assignments: Sequence[str], *, env: Mapping[str, str],
                workers: int | None = None, scheduler: str | None = None,
                force: bool = False, students: Sequence[str] | None = None,
                quiet: bool = False,
                on_sandboxes_done: Callable[[int], None] | None = None) -> BatchResult:
    """Grade what is new or changed in ``course`` (see the module docstring).

    ``on_sandboxes_done(n)`` is called once the workers have returned every outcome,
    with the number ``n`` of submissions this run grades: from then on only the
    coordinator works (what is left of the gradebook passes), so the pipeline starts
    its feedback helpers there."""
    from autograder.grader import gradebook_guard, intake
    from autograder.grader.plan import ResultStore
    from autograder.tools import gradebook_engines
    from autograder.tools.workers import Sandboxes, local_workers

    gradebook_engines.share()  # planning, nbgrader and the checks: one engine
    course = os.path.abspath(course)
    log = Log(course)
    timing: dict[str, float] = {}
    failures: list[str] = []
    refused: list[str] = []
    try:
        t = time.monotonic()
        planner = Planner(course, env)
        state = GradingState(course)
        refs = find_submissions(course, assignments, students)
        rows = {r: Row(r) for r in refs}
        keys = {r: planner.input_key(r) for r in refs}
        todo = [r for r in refs if force or not state.unchanged(str(r), keys[r])]
        for r in refs:
            if r not in todo:
                entry = state.entries[str(r)]
                row = rows[r]
                row.status, row.score, row.max_score = "unchanged", entry.score, entry.max_score
                row.seconds = entry.seconds
                row.feedback_due = state.feedback_due(str(r))
        store_dir = os.path.join(course, RESULTS)
        store = ResultStore(store_dir)
        # assignment after assignment, so each one's gradebook pass can start while the
        # workers run the next ones' sandboxes
        order = sorted({r.assignment for r in todo})
        todo.sort(key=lambda r: (order.index(r.assignment), r.student))
        size = STUDENTS_PER_PASS if workers != 0 else max(1, len(todo))
        group_of: dict[SubmissionRef, tuple[str, int]] = {}  # its gradebook pass
        for a in order:
            theirs = [r for r in todo if r.assignment == a]
            sizes = pass_sizes(len(theirs), size, tapered=workers != 0 and a == order[-1])
            groups_in_turn = [g for g, count in enumerate(sizes) for _ in range(count)]
            for r, group in zip(theirs, groups_in_turn, strict=True):
                group_of[r] = (a, group)
        groups = sorted(set(group_of.values()), key=lambda g: (order.index(g[0]), g[1]))
        running = dict.fromkeys(groups, 0)  # plans still on the workers, by group
        last_arrival = [time.monotonic()]
        expected = {r: len(planner.notebooks(r.assignment)) for r in todo}
        sandboxes = Progress(sum(expected.values()) if workers != 0 else 0, "grading",
                             quiet=quiet)
        book = Progress(sum(expected.values()), "gradebook" if workers != 0 else "grading",
                        quiet=quiet)

        def on_result(plan, outcome, error) -> None:  # in the sandboxes' thread
            row = rows[SubmissionRef(plan.student, plan.assignment)]
            reason = error or (outcome.setup_error if outcome else "")
            if outcome is not None:
                row.seconds += outcome.seconds
            if reason:
                if row.status != "failed":
                    book.shrink(len(planner.notebooks(plan.assignment)))
                row.status, row.reason = "failed", reason
                failures.append(f"{row.ref}: {reason}")
                log.write(f"FAILED {row.ref}: {reason}")
            sandboxes.step(failed=bool(reason))
            last_arrival[0] = time.monotonic()

        events: queue.Queue = queue.Queue()
        workers_side = None if workers == 0 else Sandboxes(
            store, events, on_result=on_result, scheduler=scheduler,
            workers=local_workers(workers, sum(expected.values())))
        plans = []
        results: dict[SubmissionRef, list[str]] = {}  # the outcomes' keys, by submission
        unmatched: dict[tuple[str, str], int] = {}
        first_sent = None
        # the masters and the gradebook's tables, read once for the whole planning
        with gradebook_engines.remembering():
            for r in todo:
                try:
                    got = planner.plan(r)
                except PlanError as exc:
                    rows[r].status, rows[r].reason = "failed", str(exc)
                    failures.append(str(exc))
                    book.shrink(expected[r])
                    sandboxes.shrink(expected[r])  # no bar with workers=0: nothing to shrink
                    continue
                plans += got
                results[r] = [p.key() for p in got]
                for p in got:
                    for gid in p.unmatched:
                        unmatched[(p.assignment, gid)] = unmatched.get((p.assignment, gid), 0) + 1
                if workers_side is None:
                    continue
                # --force runs every sandbox again (a timeout on a busy machine is redone)
                new = [p for p in got if force or p.key() not in store]
                for p in new:  # sent now: the workers start while the rest is planned
                    running[group_of[r]] += 1
                    workers_side.send(p)
                    first_sent = first_sent or time.monotonic()
                sandboxes.shrink(expected[r] - len(new))
        for (assignment, gid), n in sorted(unmatched.items()):
            failures.append(f"{assignment}: test cell {gid!r} has no cnnlab question (scored 0 "
                            f"in {n} submissions; question keys are the test cells' grade ids)")
        timing["plan"] = time.monotonic() - t
        log.write(f"{len(refs)} submissions, {len(todo)} to grade, {len(plans)} notebooks")
        if workers_side is not None:
            workers_side.finish()
            log.write(f"{workers_side.sent} notebooks to run on workers "
                      f"({len(plans) - workers_side.sent} already computed)")
        by_group: dict[tuple[str, int], list[SubmissionRef]] = {}
        for r in todo:
            if rows[r].status == "pending":
                by_group.setdefault(group_of[r], []).append(r)
        everyone = {a: sorted({r.student for r in find_submissions(course, [a])})
                    for a in order}

        def gradebook_pass(group: tuple[str, int]) -> None:
            """One group's ``nbgrader autograde``, its check and its state."""
            began = time.monotonic()
            assignment = group[0]
            chosen = [r for r in by_group.get(group, ()) if rows[r].status == "pending"]
            if not chosen:
                return
            names = {r.student for r in chosen}
            code, lines = _autograde(
                course, assignment, env=env, store=store_dir if workers != 0 else None,
                exclude=[s for s in everyone[assignment] if s not in names], log=log,
                progress=book)
            broken = _nbgrader_failures(lines)
            turned_away = [ln for ln in lines if ln.startswith(intake.REFUSED)]
            refused.extend(turned_away)
            guard = [ln.split("GRADEBOOK GUARD: ", 1)[1] for ln in lines
                     if "GRADEBOOK GUARD: " in ln]
            failures.extend(f"gradebook check: {g}" for g in guard)
            if code != 0 and not broken:
                cause = next((m.group(1) for ln in lines
                              if (m := C.NBGRADER_ERROR.search(ln))), f"exit {code}")
                failed = f"{assignment}: nbgrader autograde failed: {cause}"
                if failed not in failures:  # once, not once per group
                    failures.append(failed)
                broken = dict.fromkeys(names, cause)
            problems = gradebook_guard.verify(C.db_url(course),
                                              gradebook_guard.default_ledger_dir(course),
                                              [assignment], names)
            bad = {p.student for p in problems}
            failures.extend(f"gradebook check: {p}" for p in problems)
            totals = _totals(course, assignment, names)
            for r in chosen:
                row = rows[r]
                if r.student in broken or r.student in bad:
                    row.status = "failed"
                    row.reason = broken.get(r.student, "the gradebook check failed")
                    if r.student in broken:
                        failures.append(f"{r}: {row.reason}")
                    state.forget(str(r))
                    continue
                row.status = "graded"
                row.score, row.max_score = totals.get(r.student, (0.0, 0.0))
                if any(f" {r}: " in ln for ln in turned_away):
                    # intake moved the submission aside and left a notice notebook
                    row.reason = "refused: not plain data (see the notice)"
                    keys[r] = planner.input_key(r)
                state.record(str(r), keys[r], row.score, row.max_score, row.seconds,
                             results.get(r, []))
            state.save()
            timing["gradebook"] = timing.get("gradebook", 0.0) + time.monotonic() - began

        timing["execute"] = timing["gradebook"] = 0.0
        passed: list[tuple[str, int]] = []
        try:
            if workers_side is not None and workers_side.sent:
                while True:
                    ready = [g for g in groups if not running[g] and g not in passed]
                    if ready and any(running.values()):
                        log.write(f"gradebook pass of {ready[0][0]} while "
                                  f"{sum(running.values())} notebooks are still on "
                                  f"workers ({len(by_group.get(ready[0], ()))} students, "
                                  f"group {ready[0][1] + 1})")
                        passed.append(ready[0])
                        gradebook_pass(ready[0])
                        continue
                    event = events.get()
                    if event is None:
                        break
                    if isinstance(event, BaseException):
                        raise event
                    running[group_of[SubmissionRef(event.student, event.assignment)]] -= 1
                # from the first plan sent to the last outcome (it overlaps planning)
                timing["execute"] = last_arrival[0] - first_sent
                log.write(f"the Dask cluster had {workers_side.cluster_workers} workers")
                sandboxes.close()
                if on_sandboxes_done is not None:
                    on_sandboxes_done(sum(len(rs) for rs in by_group.values()))
            for g in groups:
                if g not in passed:
                    gradebook_pass(g)
        finally:
            if workers_side is not None:
                workers_side.stop()
            sandboxes.close()
            book.close()
        for line in failures:
            log.write("FAILED: " + line)
        if not failures:
            pruned = prune_results(course, store, state)
            log.write(f"{pruned} stored results no current submission refers to were "
                      "deleted")
        return BatchResult(sorted(rows.values(), key=lambda r: r.ref), failures, refused,
                           log.path, timing)
    finally:
        log.close()


def prune_results(course: str, store, state: GradingState) -> int:
    """Delete the stored outcomes no current submission refers to (after a successful
    run; returns how many).

    Kept: the outcomes a submission's state entry records (what its grades are made
    of), and every outcome of a submission in ``submitted/`` that has no such record
    yet (not graded, or interrupted before the gradebook pass: the next run takes them
    from the store). Deleted: outcomes of earlier versions of a submission, of
    submissions no longer in ``submitted/``, and unreadable ones.
    """
    present = {str(r) for r in find_submissions(
        course, C.assignments_in(os.path.join(course, "source")))}
    recorded: set[str] = set()
    open_names = set()
    for name in present:
        entry = state.entries.get(name)
        if entry is None or entry.results is None:
            open_names.add(name)
        else:
            recorded.update(entry.results)

    def keep(key: str) -> bool:
        if key in recorded:
            return True
        about = store.about(key)
        return f"{about.get('student')}/{about.get('assignment')}" in open_names

    return store.prune(keep)


def _totals(course: str, assignment: str, students) -> dict[str, tuple[float, float]]:
    from nbgrader.api import Gradebook, MissingEntry

    out = {}
    with Gradebook(C.db_url(course)) as gb:
        for student in students:
            try:
                s = gb.find_submission(assignment, student)
            except MissingEntry:
                continue
            out[student] = (float(s.score), float(s.max_score))
    return out


def format_rows(rows: Sequence[Row]) -> str:
    """The end table: one line per submission (status, score, seconds, reason)."""
    width = max([10] + [len(str(r.ref)) for r in rows])
    lines = [f"{'submission'.ljust(width)}  {'status':9}  {'score':>11}  {'seconds':>7}",
             "-" * (width + 34)]
    for r in rows:
        score = f"{r.score:g}/{r.max_score:g}" if r.score is not None else "-"
        line = f"{str(r.ref).ljust(width)}  {r.status:9}  {score:>11}  {r.seconds:7.1f}"
        lines.append(line + (f"  {r.reason}" if r.reason else ""))
    return "\n".join(lines)

"""Feedback HTML of the graded submissions, shared between this process and helpers.

``nbgrader generate_feedback`` reads the gradebook and renders each notebook on its
own (nbgrader's gradebook reads, nbconvert's HTML template and bleach: about 0.05 s
of CPU a notebook), so a class's feedback splits into independent jobs: each
assignment's students in chunks of at most :data:`NOTEBOOKS_PER_JOB`, one
``generate_feedback`` per chunk, limited to it by
``--CourseDirectory.student_id_exclude`` (without helpers: one job per assignment).

The jobs wait in one queue. This process, which has nbgrader imported already, starts
on them at once; up to ``processes - 1`` helpers (fresh interpreters of this machine,
``spawn``) take jobs from the same queue as soon as their imports are done (3 to 6 s:
the feedback of some 100 notebooks). So a helper only ever adds to the work done, and
a class whose feedback is over before a helper is ready never waits for one: the
helpers still starting are stopped. The grading pipeline starts them (:class:`Helpers`)
when the workers have returned their last outcome, so that their imports use the core
the last gradebook pass leaves idle.

The helpers never write the gradebook (its single writer stays the coordinator, and
feedback starts after the gradebook pass), never get the course secret (feedback does
not use it; their environment is nbgrader's without the secret's variables) and
ignore Ctrl-C (this process stops them); on Linux they die with it. Each file is
written by exactly one job, so the feedback is the same, byte for byte, whoever runs
which job.
"""

from __future__ import annotations

import os
import queue
import signal
from collections.abc import Mapping, Sequence

from autograder.tools import course as C

#: Most notebooks in one ``generate_feedback`` job when helpers share the work: small
#: enough for this process and the helpers to end within a second of each other, large
#: enough that nbgrader's own start of a command (some 0.09 s: its configuration and
#: the gradebook's first queries, against 0.045 s a notebook) stays a tenth of a job.
NOTEBOOKS_PER_JOB = 20

#: Seconds between two looks at the helpers while this process waits for their jobs.
_POLL_SECONDS = 0.5

SECRET_VARIABLES = ("CNNLAB_COURSE_SECRET", "CNNLAB_COURSE_SECRET_FILE")


def without_secret(env: Mapping[str, str]) -> dict[str, str]:
    """``env`` without the course secret's variables."""
    return {k: v for k, v in env.items() if k not in SECRET_VARIABLES}


def only(course: str, assignment: str, students: Sequence[str]) -> list[str]:
    """nbgrader options that limit a command to ``students`` of ``assignment`` (among
    those with an autograded copy of it)."""
    folder = os.path.join(course, "autograded")
    chosen = set(students)
    others = sorted(s for s in os.listdir(folder)
                    if s not in chosen
                    and os.path.isdir(os.path.join(folder, s, assignment))) if os.path.isdir(
                        folder) else []
    return ["--CourseDirectory.student_id_exclude=" + ",".join(others)] if others else []


def chunks(students: Sequence[str], size: int) -> list[list[str]]:
    """``students`` (sorted) in contiguous chunks of at most ``size``, as few as that
    allows, whose sizes differ by at most one.

    >>> chunks(["a", "b", "c", "d", "e"], 3)
    [['a', 'b', 'c'], ['d', 'e']]
    >>> chunks(["a"], 3)
    [['a']]
    """
    ordered = sorted(students)
    parts = max(1, -(-len(ordered) // max(1, size)))
    base, extra = divmod(len(ordered), parts)
    out, start = [], 0
    for i in range(parts):
        end = start + base + (i < extra)
        out.append(ordered[start:end])
        start = end
    return [c for c in out if c]


def jobs_for(course: str, graded: Mapping[str, Sequence[str]],
             size: int) -> list[list[str]]:
    """The ``generate_feedback`` command lines of ``graded`` (assignment -> students),
    assignment after assignment, at most ``size`` students each."""
    return [["generate_feedback", a, "--force", *only(course, a, chunk)]
            for a, students in sorted(graded.items()) if students
            for chunk in chunks(students, size)]


def _die_with(parent: int) -> None:
    """Have the kernel kill this process when ``parent`` dies (Linux), so that a
    coordinator killed outright (``kill -9``, the OOM killer) leaves no helper waiting
    on its queue for ever; end now if it is gone already."""
    try:
        from autograder.grader.nsinit import PR_SET_PDEATHSIG, prctl

        prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except (AttributeError, OSError):  # not Linux: the coordinator's close() only
        return
    if os.getppid() != parent:
        os._exit(0)


def _helper(course: str, env: Mapping[str, str], todo, done, parent: int) -> None:
    """A helper process of ``parent``: jobs ``(index, args)`` from ``todo`` until
    ``None``; each one's :class:`~autograder.tools.nbgrader_app.NbgraderRun` (or the
    text of the exception it raised) onto ``done``."""
    _die_with(parent)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the coordinator stops helpers
    for name in SECRET_VARIABLES:
        os.environ.pop(name, None)
    from autograder.tools import nbgrader_app

    while (job := todo.get()) is not None:
        index, args = job
        try:
            done.put((index, nbgrader_app.run(course, args, env=env), None))
        except Exception as exc:  # reported by the coordinator, which raises it
            done.put((index, None, f"{type(exc).__name__}: {exc}"))


class Helpers:
    """Up to ``count`` helper processes for the feedback of ``course``: started by
    :meth:`start` (as early as the caller likes: while its gradebook pass still runs,
    say, so their imports are done when the feedback begins), given jobs by
    :func:`generate_feedback`, stopped by :meth:`close`."""

    def __init__(self, course: str, env: Mapping[str, str], count: int) -> None:
        self.course, self.env, self.count = course, without_secret(env), max(0, count)
        self.processes: list = []
        self.todo = self.done = None

    def start(self, jobs: int | None = None) -> None:
        """Start them (once; later calls do nothing): as many as ``jobs`` feedback jobs
        are worth beside this process (``jobs - 1``), at most ``count``."""
        if self.todo is not None:
            return
        import multiprocessing

        spawn = multiprocessing.get_context("spawn")
        self.todo, self.done = spawn.Queue(), spawn.Queue()
        wanted = self.count if jobs is None else min(self.count, jobs - 1)
        self.processes = [
            spawn.Process(target=_helper, args=(self.course, self.env, self.todo, self.done,
                                                os.getpid()),
                          name=f"cnnlab feedback helper {i + 1}", daemon=True)
            for i in range(wanted)]
        for process in self.processes:
            process.start()

    def ended(self) -> bool:
        """Whether every helper has ended; raises if one died (a helper ends on its own
        only after the queue's stop)."""
        for process in self.processes:
            if process.exitcode not in (None, 0):
                raise C.ToolError(f"{process.name} died (exit code {process.exitcode}) "
                                  "before its feedback jobs were done")
        return all(process.exitcode == 0 for process in self.processes)

    def close(self) -> None:
        """Stop them: idle by now, or still importing."""
        for process in self.processes:
            if process.is_alive():
                process.terminate()
            process.join()
        self.processes = []


def generate_feedback(course: str, graded: Mapping[str, Sequence[str]], *,
                      env: Mapping[str, str], processes: int = 1,
                      take_part: bool = True, helpers: Helpers | None = None) -> None:
    """``nbgrader generate_feedback --force`` for the students ``graded[assignment]`` of
    each assignment, in this process and up to ``processes - 1`` helpers (see the
    module docstring), or ``helpers`` started earlier (the caller closes those); with
    ``take_part=False`` only the helpers run jobs.

    Raises
    ------
    ToolError
        A job failed (its cause, from nbgrader's log), or a helper died.
    """
    from autograder.tools import nbgrader_app

    jobs = jobs_for(course, graded, NOTEBOOKS_PER_JOB)
    own = helpers is None
    if own:
        helpers = Helpers(course, env, min(processes - 1, len(jobs) - take_part))
    helpers.start(len(jobs) + (not take_part))
    try:
        if not helpers.processes:  # one job per assignment: nbgrader started least often
            for args in jobs_for(course, graded, max(map(len, graded.values()), default=1)):
                _check(course, args, nbgrader_app.run(course, args, env=env))
            return
        for index, args in enumerate(jobs):
            helpers.todo.put((index, args))
        for _ in range(len(helpers.processes) + take_part):
            helpers.todo.put(None)  # after every job, one stop for each taker of jobs
        left = len(jobs)
        while take_part and (job := helpers.todo.get()) is not None:
            index, args = job
            _check(course, args, nbgrader_app.run(course, args, env=env))
            left -= 1
        ended_before = False  # every helper had ended at the previous empty look
        while left:
            try:
                index, run, error = helpers.done.get(timeout=_POLL_SECONDS)
            except queue.Empty:
                ended = helpers.ended()
                if ended and ended_before:  # what they handed back has been read
                    raise C.ToolError(f"the feedback helpers ended with {left} feedback "
                                      "jobs not done") from None
                ended_before = ended
                continue
            if error is not None:
                raise C.ToolError(f"a feedback job of {jobs[index][1]} failed in a helper "
                                  f"process: {error}")
            _check(course, jobs[index], run)
            left -= 1
    finally:
        if own:
            helpers.close()


def _check(course: str, args: Sequence[str], done) -> None:
    if done.code != 0:
        raise C.nbgrader_failed(course, args, done.code, done.lines)

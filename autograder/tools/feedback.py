"""Feedback HTML of the graded submissions, on several local processes at once.

``nbgrader generate_feedback`` reads the gradebook and renders each notebook on its
own (nbgrader's gradebook reads, nbconvert's HTML template and bleach: about 0.09 s
of CPU a notebook), so a class's feedback splits into independent jobs: each assignment's
students in contiguous chunks, one ``generate_feedback`` per chunk, limited to it by
``--CourseDirectory.student_id_exclude``. Each assignment's first chunk runs here, the
others on up to ``processes - 1`` fresh interpreters of this machine (``spawn``), each
running nbgrader in its own process (:mod:`autograder.tools.nbgrader_app`); with one
process, or too few notebooks to pay for the start-up of another interpreter (2 to 3 s
of imports, the feedback of some 30 notebooks), every chunk runs here, one after
another.

The other feedback processes never write the gradebook (its single writer stays the
coordinator, and feedback starts after the gradebook pass) and never get the course
secret: feedback does not use it, and their environment is nbgrader's without the
secret's variables. Each file is written by exactly one job, so the feedback is the
same, byte for byte, whatever the number of processes.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

from autograder.tools import course as C

#: Fewest notebooks a feedback process is started for: below that, its interpreter's
#: start-up costs more than it saves.
MIN_NOTEBOOKS_PER_PROCESS = 40

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


def split(students: Sequence[str], parts: int) -> list[list[str]]:
    """``students`` (sorted) in at most ``parts`` contiguous chunks whose sizes differ
    by at most one.

    >>> split(["a", "b", "c", "d", "e"], 2)
    [['a', 'b', 'c'], ['d', 'e']]
    >>> split(["a"], 3)
    [['a']]
    """
    ordered = sorted(students)
    parts = max(1, min(parts, len(ordered)))
    size, extra = divmod(len(ordered), parts)
    chunks, start = [], 0
    for i in range(parts):
        end = start + size + (i < extra)
        chunks.append(ordered[start:end])
        start = end
    return [c for c in chunks if c]


def processes_for(notebooks: int, processes: int) -> int:
    """How many feedback processes ``notebooks`` are worth, at most ``processes``; 1
    means in this process.

    >>> processes_for(200, 2), processes_for(60, 2), processes_for(200, 1)
    (2, 1, 1)
    """
    return max(1, min(processes, notebooks // MIN_NOTEBOOKS_PER_PROCESS))


def _job(course: str, args: Sequence[str], env: Mapping[str, str]):
    """One ``nbgrader`` command in a feedback process."""
    from autograder.tools import nbgrader_app

    return nbgrader_app.run(course, list(args), env=env)


def _forget_secret() -> None:
    """A feedback process's start: the secret's variables out of its environment."""
    for name in SECRET_VARIABLES:
        os.environ.pop(name, None)


def generate_feedback(course: str, graded: Mapping[str, Sequence[str]], *,
                      env: Mapping[str, str], processes: int = 1) -> None:
    """``nbgrader generate_feedback --force`` for the students ``graded[assignment]`` of
    each assignment, on up to ``processes`` local processes (this one included: it has
    nbgrader imported already); a failure is a
    :class:`~autograder.tools.course.ToolError` naming its cause."""
    from autograder.tools import nbgrader_app

    graded = {a: sorted(s) for a, s in graded.items() if s}
    n = processes_for(sum(len(s) for s in graded.values()), processes)
    jobs = [(i, ["generate_feedback", a, "--force", *only(course, a, chunk)])
            for a, students in sorted(graded.items())
            for i, chunk in enumerate(split(students, n))]
    here = [args for i, args in jobs if i == 0]  # each assignment's first chunk
    if n == 1:
        for args in here:
            _check(course, args, nbgrader_app.run(course, args, env=env))
        return
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    quiet_env = without_secret(env)
    with ProcessPoolExecutor(max_workers=n - 1,
                             mp_context=multiprocessing.get_context("spawn"),
                             initializer=_forget_secret) as pool:
        elsewhere = [(args, pool.submit(_job, course, args, quiet_env))
                     for i, args in jobs if i != 0]
        for args in here:  # while the other interpreters start
            _check(course, args, nbgrader_app.run(course, args, env=env))
        for args, future in elsewhere:
            _check(course, args, future.result())


def _check(course: str, args: Sequence[str], done) -> None:
    if done.code != 0:
        raise C.nbgrader_failed(course, args, done.code, done.lines)

"""Run grading plans on Dask workers: an embedded local cluster, or a running one.

Each task is :func:`autograder.grader.plan.execute_plan` on one notebook's plan (the
student's cells, the questions and their cases, no secret); it returns the outcome as
plain data, which the coordinator stores by plan key the moment it arrives. A task
whose worker dies is run again on another worker by the scheduler, so a lost worker
costs time, not results. Finished results stay in the store when the run is
interrupted; the next run does not send them again.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Callable, Iterator, Sequence

from autograder.grader.plan import GradingOutcome, GradingPlan, ResultStore, execute_plan


def default_workers() -> int:
    """All the cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


@contextlib.contextmanager
def dask_client(workers: int | None = None, scheduler: str | None = None) -> Iterator:
    """A Dask client: of the cluster at ``scheduler`` (``tcp://host:port``), else of an
    embedded ``LocalCluster`` with ``workers`` single-threaded worker processes."""
    from dask.distributed import Client, LocalCluster

    if scheduler:
        try:
            client = Client(scheduler, timeout="20s")
        except (OSError, TimeoutError) as exc:
            raise ConnectionError(f"no Dask scheduler answers at {scheduler} ({exc}); start "
                                  "one with `dask scheduler` (docs/instructors.md)") from None
        with client:
            yield client
        return
    cluster = LocalCluster(n_workers=workers or default_workers(), threads_per_worker=1,
                           # Dask's scheduler always serves HTTP; port 0 takes a free
                           # one, so a second cluster on the machine (another course,
                           # a test) never clashes with the default 8787.
                           processes=True, dashboard_address="127.0.0.1:0",
                           silence_logs=logging.ERROR)
    with cluster, Client(cluster) as client:
        yield client


def run_plans(client, plans: Sequence[GradingPlan], store: ResultStore, *,
              on_result: Callable[[GradingPlan, GradingOutcome | None, str | None], None]
              ) -> None:
    """Execute ``plans`` on the client's workers; store each outcome as it arrives and
    call ``on_result(plan, outcome, error)`` (error: why the task itself failed)."""
    from dask.distributed import as_completed

    by_key = {p.key(): p for p in plans}
    futures = {}
    for key, plan in by_key.items():
        # the plan key is the task key: the same notebook is never graded twice at once
        futures[client.submit(execute_plan, plan, key=f"cnnlab-grade-{key}", pure=False,
                              retries=2)] = key
    try:
        for future in as_completed(list(futures)):
            plan = by_key[futures[future]]
            if future.status == "error":
                exc = future.exception()
                on_result(plan, None, f"{type(exc).__name__}: {exc}".splitlines()[0][:300])
                continue
            outcome = future.result()
            if not outcome.setup_error:
                store.put(plan.key(), outcome, about={"assignment": plan.assignment,
                                                      "student": plan.student,
                                                      "notebook": plan.notebook})
            on_result(plan, outcome, None)
            future.release()
    finally:
        client.cancel(list(futures))

"""Run grading plans on Dask workers: an embedded local cluster, or a running one.

Each task is :func:`autograder.grader.plan.execute_plan` on one notebook's plan (the
student's cells, the questions and their cases, no secret); it returns the outcome as
plain data, which the coordinator stores by plan key the moment it arrives
(:class:`Sandboxes`). Plans are sent as the coordinator makes them, so the workers
start on the first notebooks while the rest are planned. A task whose worker dies is
run again on another worker by the scheduler, so a lost worker costs time, not
results. Finished results stay in the store when the run is interrupted; the next run
does not send them again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import queue
import signal
import threading
from collections.abc import Callable, Iterator

from autograder.grader.plan import GradingOutcome, GradingPlan, ResultStore, execute_plan

#: Seconds, all told, that :func:`probe_scheduler` waits for an address to say it is a
#: Dask scheduler: connecting, Dask's handshake and the ``identity`` reply.
SCHEDULER_PROBE_TIMEOUT = 20.0
_START_ONE = "start one with `dask scheduler` (docs/instructors.md)"


def default_workers() -> int:
    """All the cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


#: Most worker processes of the embedded cluster per core. Each runs one sandbox at a
#: time, and a sandbox keeps a core busy (its waits are short), so workers beyond the
#: cores only add processes and memory (a Dask worker is some 150 MB, and each of its
#: sandboxes may use up to ``SandboxedGrading.memory_limit``); a few per core are
#: allowed for the odd submission that waits.
WORKERS_PER_CORE = 4


def check_local_workers(workers: int | None) -> None:
    """Refuse a number of embedded workers this machine cannot use.

    Raises
    ------
    ValueError
        ``workers`` is negative, or more than :data:`WORKERS_PER_CORE` per core.
    """
    if workers is None:
        return
    if workers < 0:
        raise ValueError("--workers must be 0 or more")
    cores = default_workers()
    if workers > WORKERS_PER_CORE * cores:
        raise ValueError(
            f"--workers {workers}: this machine gives {cores} cores, so at most "
            f"{WORKERS_PER_CORE * cores} workers ({WORKERS_PER_CORE} a core; each runs one "
            "sandbox at a time, more only add processes and memory); to grade on more "
            "cores, start Dask workers on other machines and pass --scheduler "
            "(docs/instructors.md)")


def local_workers(workers: int | None, notebooks: int) -> int:
    """Worker processes to start for ``notebooks`` notebooks: ``workers`` (default all
    cores), never more than there are notebooks (a process with nothing to run costs
    its start-up, seconds of CPU), at least one."""
    return max(1, min(workers or default_workers(), notebooks))


#: Dask settings of the embedded cluster (its scheduler, nannies and workers). A batch
#: of grading tasks needs neither Dask's statistical profiler (a stack sample every
#: 10 ms in each worker, for the dashboard's profile page), nor its event-loop check
#: every 20 ms in each process, nor a system monitor twice a second: idle, a 2-worker
#: cluster used 2.0 s of CPU in 30 s with Dask's defaults and 0.64 s with these.
#: docs/instructors.md gives them for a cluster of your own.
EMBEDDED_CLUSTER_CONFIG = {
    "distributed.worker.profile.enabled": False,
    "distributed.admin.tick.interval": "200ms",
    "distributed.admin.system-monitor.interval": "2s",
}


@contextlib.contextmanager
def dask_client(workers: int | None = None, scheduler: str | None = None) -> Iterator:
    """A Dask client: of the cluster at ``scheduler`` (``tcp://host:port``), else of an
    embedded ``LocalCluster`` with ``workers`` single-threaded worker processes and
    :data:`EMBEDDED_CLUSTER_CONFIG`.

    Raises
    ------
    ConnectionError
        No Dask scheduler answers at ``scheduler`` (see :func:`probe_scheduler`).
    """
    import dask
    from dask.distributed import Client, LocalCluster

    if scheduler:
        probe_scheduler(scheduler)  # a clear ConnectionError, not a hang or a traceback
        try:
            client = Client(scheduler, timeout="20s")
        except (OSError, TimeoutError) as exc:
            raise ConnectionError(f"no Dask scheduler answers at {scheduler} ({_brief(exc)}); "
                                  f"{_START_ONE}") from None
        with client:
            yield client
        return
    with dask.config.set(EMBEDDED_CLUSTER_CONFIG):  # the workers get it as they start
        cluster = LocalCluster(n_workers=workers or default_workers(), threads_per_worker=1,
                               # Dask's scheduler always serves HTTP; port 0 takes a free
                               # one, so a second cluster on the machine (another course,
                               # a test) never clashes with the default 8787.
                               processes=True, dashboard_address="127.0.0.1:0",
                               silence_logs=logging.ERROR,
                               preload=[__name__])  # dask_setup below, in each worker
        with cluster, Client(cluster) as client:
            yield client


def dask_setup(worker) -> None:
    """Dask's preload hook, run in each worker process of the embedded cluster as it
    starts: Ctrl-C in the instructor's terminal reaches every process of the run, and
    only the coordinator acts on it (it closes the cluster, which stops its workers).
    Without this each worker printed a ``KeyboardInterrupt`` traceback. The sandboxes
    are not concerned: each runs in a session of its own."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _brief(exc: BaseException) -> str:
    """``exc`` in one short line: its type, and its message's first line."""
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0][:200]}" if text else type(exc).__name__


async def _identity(address: str, timeout: float, stage: list[str]) -> object:
    """The reply of ``address`` to Dask's ``identity`` op; ``stage[0]`` says how far
    it got."""
    from distributed.comm import connect
    from distributed.security import Security

    # Leave some of the time for the handshake and the reply: when the deadline
    # passes, the connection was made and nothing answered.
    comm = await connect(address, timeout=0.75 * timeout, deserialize=False,
                         **Security().get_connection_args("client"))
    try:
        stage[0] = "identity"
        await comm.write({"op": "identity", "reply": True})
        return await comm.read()
    finally:
        comm.abort()


def probe_scheduler(address: str, timeout: float | None = None) -> dict:
    """Check that a Dask scheduler answers at ``address``, within a hard deadline.

    Dask's own comm layer connects to ``address`` and makes its handshake, then asks
    the ``identity`` op, all under one deadline; the reply must be a scheduler's (its
    ``type`` is ``"Scheduler"``). A ``Client`` made without this check hangs for ever
    on a server that accepts and never answers (an HTTP server, say), and fails with
    a ``MemoryError`` on one that answers bytes Dask reads as a frame length. The
    reply is not deserialised beyond msgpack, so nothing the peer sends is unpickled.

    Parameters
    ----------
    address : str
        The scheduler's address, ``tcp://HOST:PORT`` (or another scheme Dask knows).
    timeout : float, optional
        Seconds for the whole check; :data:`SCHEDULER_PROBE_TIMEOUT` by default.

    Returns
    -------
    dict
        The scheduler's identity (``type``, ``id``, ``address``, ``workers``, ...).

    Raises
    ------
    ConnectionError
        Anything else: nothing listens, nothing answers in time, the answer is not
        Dask's or not a scheduler's. Its message is one line naming ``address``.
    """
    timeout = SCHEDULER_PROBE_TIMEOUT if timeout is None else timeout
    try:
        from distributed.comm import parse_address
        from distributed.comm.registry import get_backend

        get_backend(parse_address(address)[0])
    except Exception as exc:
        raise ConnectionError(f"{address} is not an address Dask can connect to "
                              f"({_brief(exc)}); {_START_ONE}") from None

    stage = ["connect"]
    answer: dict = {}

    async def ask() -> None:
        answer["reply"] = await asyncio.wait_for(_identity(address, timeout, stage), timeout)

    def run() -> None:
        try:
            asyncio.run(ask())
        except BaseException as exc:  # anything at all: reported below
            answer["error"] = exc

    # A thread of its own: its own event loop (the caller may run one), and a hard
    # deadline even if the loop cannot stop (a name lookup that never returns).
    thread = threading.Thread(target=run, name="cnnlab-scheduler-probe", daemon=True)
    thread.start()
    thread.join(timeout + 5.0)
    error = answer.get("error")
    no_reply = f"no reply in {timeout:g} s"
    if thread.is_alive() or isinstance(error, (asyncio.TimeoutError, TimeoutError)):
        if stage[0] == "connect" and thread.is_alive():
            why = f"no Dask scheduler answers at {address} ({no_reply})"
        else:
            why = f"{address} answers, but not as a Dask scheduler ({no_reply})"
    elif isinstance(error, OSError) and stage[0] == "connect":
        why = f"no Dask scheduler answers at {address} ({_brief(error)})"
    elif error is not None:
        why = f"{address} answers, but not as a Dask scheduler ({_brief(error)})"
    else:
        reply = answer.get("reply")
        kind = reply.get("type") if isinstance(reply, dict) else None
        if kind == "Scheduler":
            return reply
        what = (f"it is a Dask {kind}" if isinstance(kind, str) and kind
                else f"its identity reply is {type(reply).__name__} {str(reply)[:80]!r}")
        why = f"{address} answers, but not as a Dask scheduler ({what})"
    raise ConnectionError(f"{why}; {_START_ONE}")


class Sandboxes:
    """The workers' side of a run, fed plan by plan while the coordinator plans.

    A thread of this process owns the Dask client. It starts the cluster (or connects
    to ``scheduler``) when the first plan is sent, so a run with nothing to execute
    starts none, and the cluster's start-up overlaps the planning of the rest. Each
    plan is submitted as it is sent; each outcome is stored as it arrives, then
    ``on_result(plan, outcome, error)`` sees it (error: why the task itself failed) and
    the plan goes into ``events``. After :meth:`finish` and the last outcome, ``None``
    goes into ``events`` (or the exception that stopped the thread).
    """

    _FINISHED = object()
    _STOP = object()

    def __init__(self, store: ResultStore, events: queue.Queue, *,
                 on_result: Callable[[GradingPlan, GradingOutcome | None, str | None], None],
                 workers: int | None = None, scheduler: str | None = None) -> None:
        self.store, self.events, self.on_result = store, events, on_result
        self.workers, self.scheduler = workers, scheduler
        self.sent = 0
        self.cluster_workers: int | None = None  # the cluster's, once it is up
        self._inbox: queue.Queue = queue.Queue()  # plans, finished futures, signals
        self._thread: threading.Thread | None = None

    def send(self, plan: GradingPlan) -> None:
        """Run ``plan`` on a worker (the first call starts the cluster)."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="cnnlab-sandboxes",
                                            daemon=True)
            self._thread.start()
        self.sent += 1
        self._inbox.put(plan)

    def finish(self) -> None:
        """No more plans: the thread ends after the last outcome."""
        if self._thread is not None:
            self._inbox.put(self._FINISHED)

    def stop(self, timeout: float = 60.0) -> None:
        """Cancel what has not finished and close the cluster (an interrupted run)."""
        if self._thread is not None and self._thread.is_alive():
            self._inbox.put(self._STOP)
            self._thread.join(timeout)

    def _run(self) -> None:
        try:
            with dask_client(self.workers, self.scheduler) as client:
                self.cluster_workers = len(client.scheduler_info().get("workers", {}))
                self._serve(client)
        except BaseException as exc:  # handed to the coordinator's thread
            self.events.put(exc)
        else:
            self.events.put(None)

    def _serve(self, client) -> None:
        running: dict = {}  # future -> plan
        feeding = True
        try:
            while feeding or running:
                item = self._inbox.get()
                if item is self._STOP:
                    return
                if item is self._FINISHED:
                    feeding = False
                elif isinstance(item, GradingPlan):
                    # the plan key is the task key: one notebook is never graded twice
                    # at once; a task whose worker dies is run again elsewhere
                    future = client.submit(execute_plan, item, key=f"cnnlab-grade-{item.key()}",
                                           pure=False, retries=2)
                    running[future] = item
                    future.add_done_callback(self._inbox.put)
                elif item in running:
                    self._arrived(running.pop(item), item)
        finally:
            client.cancel(list(running))

    def _arrived(self, plan: GradingPlan, future) -> None:
        if future.status != "finished":  # an error after its retries, or cancelled
            try:
                exc = future.exception()
            except BaseException as cancelled:  # CancelledError: its name is the reason
                exc = cancelled
            self.on_result(plan, None, f"{type(exc).__name__}: {exc}".splitlines()[0][:300])
        else:
            outcome = future.result()
            if not outcome.setup_error:
                self.store.put(plan.key(), outcome, about={"assignment": plan.assignment,
                                                           "student": plan.student,
                                                           "notebook": plan.notebook})
            self.on_result(plan, outcome, None)
            future.release()
        self.events.put(plan)

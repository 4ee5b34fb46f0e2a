"""Time the grading of a synthetic class: ``make bench-grading``.

The class: ``--students`` ids (default 50) x the course's four assignments (200
submissions by default), each submission one of the assignment's sample answers
(``autograder/samples``, in turn) written into that student's own personalized
notebook, under a new id. The samples that loop forever
are left out: they cost exactly their time limits (see the issue's figures), which
says nothing about the grader's speed.

Runs, each on a fresh copy of the class, as an instructor would
(``python -m autograder.tools grade``, feedback and exports included):

1. ``--workers 1``: one worker process;
2. ``--workers <cores>``: the embedded cluster on every core;
   runs 1 and 2 make a round, ``--rounds`` times (default 3), in turns: 1 then 2,
   2 then 1, 1 then 2, ..., so that a shared machine whose speed drifts during the
   benchmark (by a sixth between two runs, seen here) favours neither; the speed-up
   is the median of the rounds' ratios;
3. ``--scheduler``: a ``dask scheduler`` and two ``dask worker`` processes started
   here as separate programs;
4. the same command again with nothing new;
5. the machine's own ceiling: the first ``--bare`` students' plans, made here, run by
   one bare process after another, then split over ``<cores>`` bare processes at once
   (no coordinator, no Dask, no nbgrader): the speed-up the sandboxed work itself gets
   from this machine's cores;
6. plain nbgrader (its ``Execute`` preprocessor, one kernel per notebook, no sandbox)
   on the first ``--reference`` students' submissions: the reference point.

CPU time is that of the whole process tree of each run (``wait4``), so it includes
nbgrader, the Dask workers and every sandbox. Each sandboxed run also reports its own
CPU (the worker measures its sandbox's process tree) and its start-up time. Results
are printed and written into ``benchmarks/RESULTS.md`` as the section between the
``grading-benchmark`` markers (replaced on each run).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import pickle
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, REPO)

from autograder.tools import course as C  # noqa: E402
from autograder.tools.batch import RESULTS  # noqa: E402

BEGIN, END = "<!-- grading-benchmark:begin -->", "<!-- grading-benchmark:end -->"
TARGET_SPEEDUP, TARGET_CPU, TARGET_RERUN = 1.8, 1.0, 10.0


@dataclasses.dataclass
class Run:
    name: str
    wall: float
    cpu: float
    submissions: int
    phases: dict
    outcomes: list = dataclasses.field(default_factory=list)
    exit_code: int = 0
    coordinator_cpu: float | None = None  # the grade command's own process


def build_class(course: str, students: int) -> dict[str, int]:
    """The synthetic class in ``course``: returns submissions per assignment."""
    source = os.path.join(C.AUTOGRADER, "source")
    assignments = C.assignments_in(source)
    C.make_course(course, {a: os.path.join(source, a) for a in assignments})
    with open(C.DEMO_SECRET) as fh:
        secret = fh.read().strip()
    with open(os.path.join(course, "course_secret"), "w") as fh:
        fh.write(secret)
    env = C.nbgrader_env()
    C.run_nbgrader(course, "generate_assignment", "*", "--force", env=env)
    api = C.course_api()
    counts = {}
    for a in assignments:
        samples = [s for s in C.load_samples(C.SAMPLES, a) if "loop" not in s.student]
        for i in range(students):
            sub = dataclasses.replace(samples[i % len(samples)], student=f"s{i:03d}")
            C.write_submission(course, a, sub, variant=api.variant(a, sub.student, secret))
        counts[a] = students
    return counts


def _timed(args: list[str], *, cwd: str, env: dict) -> tuple[float, float, int, str]:
    """Wall and CPU seconds (whole process tree), exit code and stdout of a command."""
    with tempfile.TemporaryFile(mode="w+") as out:
        start = time.monotonic()
        proc = subprocess.Popen(args, cwd=cwd, env=env, stdout=out,
                                stderr=subprocess.DEVNULL)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        wall = time.monotonic() - start
        out.seek(0)
        return wall, usage.ru_utime + usage.ru_stime, proc.returncode, out.read()


def _phases(stdout: str) -> dict:
    match = re.search(r"Seconds: (.*)", stdout)
    if not match:
        return {}
    return {k: float(v) for k, v in re.findall(r"(\w[\w.]*) ([\d.]+)", match.group(1))}


def _coordinator_cpu(stdout: str) -> float | None:
    """The grade command's own CPU seconds, as its report states them."""
    match = re.search(r"CPU of this process: ([\d.]+) s", stdout)
    return float(match.group(1)) if match else None


def _outcomes(course: str) -> list[dict]:
    out = []
    for dirpath, _, files in os.walk(os.path.join(course, RESULTS)):
        for name in files:
            with open(os.path.join(dirpath, name)) as fh:
                out.append(json.load(fh))
    return out


def grade(template: str, work: str, name: str, extra: list[str], env: dict,
          n: int, *, fresh: bool = True) -> Run:
    course = os.path.join(work, name)
    if fresh:
        shutil.rmtree(course, ignore_errors=True)
        shutil.copytree(template, course, symlinks=True)
        with open(os.path.join(course, "nbgrader_config.py")) as fh:
            config = fh.read().replace(template, course)
        with open(os.path.join(course, "nbgrader_config.py"), "w") as fh:
            fh.write(config)
    wall, cpu, code, stdout = _timed(
        [sys.executable, "-m", "autograder.tools", "grade", "--course", course, *extra],
        cwd=course, env=env)
    print(f"{name}: {wall:.1f} s wall, {cpu:.1f} s CPU, exit {code}", flush=True)
    return Run(name, wall, cpu, n, _phases(stdout), _outcomes(course), code,
               _coordinator_cpu(stdout))


def with_dask_workers(template: str, work: str, env: dict, n: int) -> Run:
    dask = os.path.join(os.path.dirname(sys.executable), "dask")
    sched_file = os.path.join(work, "scheduler.json")
    if os.path.exists(sched_file):
        os.remove(sched_file)
    log = open(os.path.join(work, "dask.log"), "w")  # noqa: SIM115 - closed below
    procs = [subprocess.Popen([dask, "scheduler", "--host", "127.0.0.1", "--port", "0",
                               "--no-dashboard", "--scheduler-file", sched_file],
                              env=env, stdout=log, stderr=subprocess.STDOUT)]
    while not os.path.exists(sched_file):
        time.sleep(0.2)
    time.sleep(0.5)
    with open(sched_file) as fh:
        address = json.load(fh)["address"]
    procs += [subprocess.Popen([dask, "worker", address, "--nthreads", "1", "--no-dashboard",
                                "--host", "127.0.0.1"], env=env, stdout=log,
                               stderr=subprocess.STDOUT) for _ in range(2)]
    time.sleep(3)
    run = grade(template, work, "dask-2-workers", ["--scheduler", address], env, n)
    cpu = 0.0
    for proc in reversed(procs):
        proc.send_signal(signal.SIGTERM)
        _, _, usage = os.wait4(proc.pid, 0)
        cpu += usage.ru_utime + usage.ru_stime
    log.close()
    run.cpu += cpu  # the workers' (and their sandboxes') CPU
    return run


def reference(template: str, work: str, env: dict, students: int) -> Run:
    """Plain nbgrader: Execute preprocessor, no sandbox, the same notebooks."""
    course = os.path.join(work, "plain-nbgrader")
    shutil.rmtree(course, ignore_errors=True)
    os.makedirs(course)
    shutil.copytree(os.path.join(template, "source"), os.path.join(course, "source"))
    for i in range(students):
        sid = f"s{i:03d}"
        shutil.copytree(os.path.join(template, "submitted", sid),
                        os.path.join(course, "submitted", sid))
    with open(os.path.join(course, "nbgrader_config.py"), "w") as fh:
        fh.write(f"c = get_config()  # noqa: F821\nc.CourseDirectory.root = {course!r}\n")
    C.run_nbgrader(course, "generate_assignment", "*", "--force", env=env)
    wall, cpu, code, _ = _timed([sys.executable, "-m", "nbgrader", "autograde", "*",
                                 "--force"], cwd=course, env=env)
    n = students * len(C.assignments_in(os.path.join(course, "source")))
    print(f"plain nbgrader: {wall:.1f} s wall, {cpu:.1f} s CPU for {n}", flush=True)
    return Run("plain nbgrader (Execute, no sandbox)", wall, cpu, n, {}, [], code)


def in_turn(index: int, first, second) -> tuple:
    """``(first(), second())``, called in that order in even rounds and the other way
    round in odd ones: a machine getting faster or slower favours neither."""
    if index % 2:
        b = second()
        return first(), b
    a = first()
    return a, second()


def bare_sandboxes(template: str, work: str, env: dict, students: int, cores: int,
                   rounds: int) -> tuple[list[tuple[float, float]], int]:
    """The first ``students``' plans (made here, as the coordinator makes them) run by
    one worker process, then by ``cores`` at once, ``rounds`` times:
    ([(wall of one, wall of ``cores``), ...], plans). No coordinator, no Dask, no
    nbgrader: what parallelism the sandboxed work itself gets from the machine."""
    from autograder.tools.planning import Planner, find_submissions

    planner = Planner(template, env)
    assignments = C.assignments_in(os.path.join(template, "source"))
    chosen = [f"s{i:03d}" for i in range(students)]
    plans = [p for ref in find_submissions(template, assignments, chosen)
             for p in planner.plan(ref)]
    path = os.path.join(work, "bare-plans.pickle")
    with open(path, "wb") as fh:
        pickle.dump(plans, fh)

    def run(processes: int) -> float:
        start = time.monotonic()
        code = subprocess.run([sys.executable, __file__, "--execute-plans", path,
                               str(processes)], env=env).returncode
        if code:
            raise RuntimeError(f"bare sandboxes on {processes} processes failed: exit {code}")
        return time.monotonic() - start

    walls = []
    for i in range(max(1, rounds)):
        walls.append(in_turn(i, lambda: run(1), lambda: run(cores)))
        print(f"bare sandboxes: {len(plans)} plans, 1 process {walls[-1][0]:.1f} s, "
              f"{cores} processes {walls[-1][1]:.1f} s", flush=True)
    return walls, len(plans)


def execute_on_processes(path: str, processes: str) -> int:
    """``--execute-plans PATH K``: the plans at ``PATH`` run by ``K`` worker processes,
    each taking the next plan when it is free (as Dask's workers do), so unequal plans
    (ps4's cost several times ps1's) share out evenly."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    from autograder.grader.plan import execute_plan

    with open(path, "rb") as fh:
        plans = pickle.load(fh)
    with ProcessPoolExecutor(int(processes),
                             mp_context=multiprocessing.get_context("spawn")) as pool:
        failed = any(o.setup_error for o in pool.map(execute_plan, plans, chunksize=1))
    return 1 if failed else 0


def _median(values) -> float:
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else float("nan")


def _extra_cpu(rounds: list[tuple[Run, Run]]) -> str:
    """What the all-cores runs spent on top of the 1-worker runs (medians of the
    rounds), split into the coordinator's process and all the others."""
    pairs = [(a, b) for a, b in rounds
             if a.coordinator_cpu is not None and b.coordinator_cpu is not None]
    if not pairs:
        return ""
    total = _median(b.cpu - a.cpu for a, b in pairs)
    own = _median(b.coordinator_cpu - a.coordinator_cpu for a, b in pairs)
    others = _median((b.cpu - b.coordinator_cpu) - (a.cpu - a.coordinator_cpu)
                     for a, b in pairs)
    return (f" the all-cores run used {total:+.1f} s of CPU more than the 1-worker run: "
            f"{own:+.1f} s in the coordinator's process, {others:+.1f} s in the others "
            "(workers, sandboxes, feedback helpers)")


def _what_the_target_needs(one: Run, many: Run, cores: int) -> str:
    """The CPU budget of an all-cores run at the target speed-up over ``one``, against
    what ``many`` spent: its sandboxes' own CPU, its coordinator's, the rest."""
    wall = one.wall / TARGET_SPEEDUP
    sandboxes = sum(o.get("cpu_seconds") or 0.0 for o in many.outcomes)
    own = many.coordinator_cpu or 0.0
    return (f"{TARGET_SPEEDUP}x over this 1-worker run means the all-cores run done in "
            f"{wall:.1f} s, so at most {cores * wall:.0f} s of CPU with all {cores} cores "
            f"busy the whole time; it used {many.cpu:.0f} s: {sandboxes:.0f} s in the "
            f"sandboxes themselves, {own:.0f} s in the coordinator (planning, the "
            f"gradebook, feedback: {own / many.submissions:.2f} s a submission, one "
            f"process that every extra core leaves as it is), "
            f"{many.cpu - sandboxes - own:.0f} s in the rest (Dask's worker processes, "
            "starting the sandboxes, feedback helpers)")


def report(rounds: list[tuple[Run, Run]], runs: dict[str, Run], rerun: Run,
           bare: tuple[list[tuple[float, float]], int], cores: int, load: tuple,
           class_size: int, students: int, minutes: float) -> list[str]:
    """``rounds``: the (1 worker, all cores) pairs, each run back to back; ``bare``:
    :func:`bare_sandboxes`'s walls and plans."""
    one, many = rounds[0]
    dask, ref = runs["dask-2-workers"], runs["reference"]
    lines = [BEGIN, "## Grading a class (`make bench-grading`)", ""]
    lines += [f"Machine: {platform.machine()}, {os.cpu_count()} logical CPUs "
              f"({cores} usable), Linux {platform.release()}, Python "
              f"{platform.python_version()}. Load average at the start "
              f"{load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f} (1/5/15 min; the machine is "
              "shared, so wall-clock figures carry the neighbours' load). Run "
              f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}.", ""]
    lines += [f"Class: {students} students x 4 assignments = {class_size} submissions "
              "(the samples except the looping ones, each in its student's own "
              "notebook). Every run is `python -m autograder.tools grade` on a fresh copy, "
              "feedback and exports included; CPU is the whole process tree's.", ""]
    lines += ["| run | wall (s) | wall / submission (s) | CPU (s) | CPU / submission (s) "
              "| of which the coordinator (s) | cores busy | exit |",
              "|---|---:|---:|---:|---:|---:|---:|---:|"]
    named = [dataclasses.replace(run, name=f"{run.name} (round {i + 1})")
             for i, pair in enumerate(rounds) for run in pair]
    for run in (*named, dask, ref):
        own = "" if run.coordinator_cpu is None else f"{run.coordinator_cpu:.1f}"
        lines.append(f"| {run.name} | {run.wall:.1f} | {run.wall / run.submissions:.2f} | "
                     f"{run.cpu:.1f} | {run.cpu / run.submissions:.2f} | {own} | "
                     f"{run.cpu / run.wall:.2f} | {run.exit_code} |")
    lines.append(f"| re-run, nothing new | {rerun.wall:.1f} | | {rerun.cpu:.1f} | | | | "
                 f"{rerun.exit_code} |")
    lines.append("")
    lines += ["Per assignment (1 worker; each sandboxed run's own figures, medians):", "",
              "| assignment | submissions | sandbox wall (s) | sandbox CPU (s) "
              "| start-up (s) |", "|---|---:|---:|---:|---:|"]
    by_a: dict[str, list[dict]] = {}
    for o in one.outcomes:
        by_a.setdefault(o.get("assignment", "?"), []).append(o)
    for a, outs in sorted(by_a.items()):
        lines.append(f"| {a} | {len(outs)} | {_median(o['seconds'] for o in outs):.2f} | "
                     f"{_median(o.get('cpu_seconds') for o in outs):.2f} | "
                     f"{_median(o.get('startup_seconds') for o in outs):.2f} |")
    sandbox_cpu = [o.get("cpu_seconds") for o in one.outcomes]
    overhead = (one.cpu - sum(v for v in sandbox_cpu if v)) / one.submissions
    per_sub = [v + overhead for v in sandbox_cpu if v is not None]
    med = _median(per_sub)
    ratios = [a.wall / b.wall for a, b in rounds]
    speedup = statistics.median(ratios)
    # the most ``cores`` could give over one worker with the CPU these runs used: all
    # of it spread evenly, nothing waiting
    ceiling = statistics.median(a.wall / (b.cpu / cores) for a, b in rounds)
    # the machine's speed drifts (by a sixth between two runs, on a shared VM): the
    # Dask run (right after the last round) is compared with that round's 1-worker run
    dask_speedup = rounds[-1][0].wall / dask.wall
    bare_walls, bare_plans = bare
    bare_ratios = [a / b for a, b in bare_walls]
    ph = one.phases
    extra = _extra_cpu(rounds)
    lines += ["", "Where a submission's time goes (1 worker, per submission):", ""]
    lines += [f"- sandbox start-up (interpreter, imports, namespaces, until the first "
              f"cell): median {_median(o.get('startup_seconds') for o in one.outcomes):.2f}"
              " s wall;",
              f"- the whole sandboxed run (start-up + the student's code + the questions): "
              f"median {_median(o['seconds'] for o in one.outcomes):.2f} s wall, "
              f"{_median(sandbox_cpu):.2f} s CPU;",
              f"- planning in the coordinator: {ph.get('plan', 0) / one.submissions:.3f} s;",
              f"- nbgrader writing the gradebook (one `autograde` per group of students in "
              f"the coordinator's process, results taken from the store, while the "
              f"workers run the later groups' sandboxes): "
              f"{ph.get('gradebook', 0) / one.submissions:.2f} s wall;",
              f"- feedback and exports: {ph.get('feedback', 0) / one.submissions:.2f} s "
              f"(all cores: {many.phases.get('feedback', 0) / many.submissions:.2f} s);",
              f"- everything outside the sandboxes (worker processes, nbgrader, planning, "
              f"feedback), spread over the submissions: {overhead:.2f} s CPU.", ""]
    projection = many.wall / many.submissions * 2000 / 3600
    lines += ["Targets:", "",
              f"- speed-up on every core over 1 worker: {speedup:.2f}x (rounds: "
              f"{', '.join(f'{r:.2f}x' for r in ratios)}; target >= {TARGET_SPEEDUP}x on "
              f"2 cores: {'met' if speedup >= TARGET_SPEEDUP else 'not met'}); "
              f"2 Dask worker processes: {dask_speedup:.2f}x (over the last round's 1-worker "
              "run, the nearest in time of them). The ceiling for this CPU "
              f"(1 worker's wall over the all-cores run's CPU spread evenly on {cores} "
              f"cores, nothing waiting) is {ceiling:.2f}x; the coordinator's own work "
              "(planning, nbgrader's gradebook pass, feedback) runs beside the one "
              f"worker, so the 1-worker run kept {one.cpu / one.wall:.2f} cores busy on "
              f"average{(';' + extra) if extra else ''}. "
              f"{_what_the_target_needs(one, many, cores)};",
              f"- the sandboxed work alone on this machine ({bare_plans} plans, run by one "
              f"bare process, then shared by {cores} at once; no coordinator, Dask or "
              f"nbgrader): {statistics.median(bare_ratios):.2f}x (rounds: "
              f"{', '.join(f'{a:.1f} s / {b:.1f} s' for a, b in bare_walls)}): the most "
              f"{cores} cores give this work here, whatever runs it;",
              f"- median CPU per submission (its sandbox + its share of the rest): "
              f"{med:.2f} s (target <= {TARGET_CPU} s: "
              f"{'met' if med <= TARGET_CPU else 'not met'}); plain nbgrader: "
              f"{ref.cpu / ref.submissions:.2f} s;",
              f"- re-run with nothing new: {rerun.wall:.1f} s (target < {TARGET_RERUN} s: "
              f"{'met' if rerun.wall < TARGET_RERUN else 'not met'}).", "",
              f"Projection to 500 students x 4 assignments on this machine, every core: "
              f"{projection:.2f} h ({many.wall / many.submissions:.2f} s per submission); "
              "on k such machines as Dask workers, about that divided by k (the "
              "gradebook pass stays on one machine: "
              f"{ph.get('gradebook', 0) / one.submissions * 2000 / 60:.0f} min for 2000).",
              "", f"The whole benchmark (building the class, every run above) took "
              f"{minutes:.1f} min; load average at the end "
              f"{os.getloadavg()[0]:.2f}.", "", END]
    return lines


def write_results(lines: list[str], path: str) -> None:
    text = "# Benchmark results\n"
    if os.path.exists(path):
        with open(path) as fh:
            text = fh.read()
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        text = head + "\n".join(lines) + rest.split(END, 1)[1]
    else:
        text = text.rstrip("\n") + "\n\n" + "\n".join(lines) + "\n"
    with open(path, "w") as fh:
        fh.write(text)


def main() -> int:
    from autograder.tools.workers import default_workers

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--students", type=int, default=50)
    parser.add_argument("--reference", type=int, default=5,
                        help="students graded by plain nbgrader (default 5)")
    parser.add_argument("--rounds", type=int, default=3,
                        help="1-worker / all-cores pairs, each in turn first (default 3)")
    parser.add_argument("--bare", type=int, default=20,
                        help="students whose plans bare processes run (default 20)")
    parser.add_argument("--work", default=os.path.join(C.AUTOGRADER, ".scratch", "bench"))
    parser.add_argument("--out", default=os.path.join(HERE, "RESULTS.md"))
    parser.add_argument("--execute-plans", nargs=2, metavar=("PATH", "K"),
                        help=argparse.SUPPRESS)  # the bare sandboxes' process pool
    args = parser.parse_args()
    if args.execute_plans:
        return execute_on_processes(*args.execute_plans)
    load = os.getloadavg()
    started = time.monotonic()
    cores = default_workers()
    shutil.rmtree(args.work, ignore_errors=True)
    template = os.path.join(args.work, "template")
    counts = build_class(template, args.students)
    n = sum(counts.values())
    print(f"class: {n} submissions; load {load}", flush=True)
    env = C.nbgrader_env()
    env["PYTHONPATH"] = REPO
    env.pop("CNNLAB_COURSE_SECRET", None)
    env.pop("CNNLAB_COURSE_SECRET_FILE", None)
    rounds = []
    for i in range(max(1, args.rounds)):
        pair = in_turn(i, lambda: grade(template, args.work, "1-worker", ["--workers", "1"],
                                        env, n),
                       lambda: grade(template, args.work, "all-cores",
                                     ["--workers", str(cores)], env, n))
        rounds.append(pair)
    runs = {"dask-2-workers": with_dask_workers(template, args.work, env, n)}
    rerun = grade(template, args.work, "dask-2-workers", [], env, n, fresh=False)
    rerun.name = "re-run, nothing new"
    runs["reference"] = reference(template, args.work, env, args.reference)
    bare = bare_sandboxes(template, args.work, env, args.bare, cores, args.rounds)
    lines = report(rounds, runs, rerun, bare, cores, load, n, args.students,
                   (time.monotonic() - started) / 60)
    print("\n".join(lines))
    write_results(lines, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""A class graded on Dask workers gets exactly what one serial nbgrader run gives.

One small class (the fixture assignment's samples, and copies of them under new ids)
is graded three times in separate course directories: serially by nbgrader's own
process (``--workers 0``), on an embedded local cluster of two workers, and through
a real ``dask scheduler`` with two ``dask worker`` processes, one of which is killed
mid-batch. Scores, the autograded notebooks, the feedback and the gradebook check
must agree. Then the incremental runs: nothing new, one changed submission,
``--student``, ``--force``, and a run killed half way.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
FIXTURE = os.path.join(HERE, "fixtures", "grading_course")

from autograder.tools import course as C  # noqa: E402
from autograder.tools.batch import RESULTS  # noqa: E402

pytestmark = [pytest.mark.grading, pytest.mark.slow]
ASSIGNMENT = "fixture_ps"
SECRET = "parallel-secret"
COPIES = {"correct": ["correct2", "correct3"], "raises": ["raises2"], "loops": ["loops2"]}
SETTINGS = {"SandboxedGrading.case_timeout": 1.0, "SandboxedGrading.question_timeout": 2.0}


def make_class(course: str, settings: dict | None = None) -> list[str]:
    """The fixture course with its samples and copies of them: returns the students."""
    C.make_course(course, {ASSIGNMENT: os.path.join(FIXTURE, "source", ASSIGNMENT)},
                  course_module="fixture_questions", extra_sys_path=[FIXTURE],
                  settings=settings or SETTINGS)
    with open(os.path.join(course, "course_secret"), "w") as fh:
        fh.write(SECRET + "\n")
    env = C.nbgrader_env()
    C.run_nbgrader(course, "generate_assignment", ASSIGNMENT, "--force", env=env)
    built = C.build_samples(course, os.path.join(FIXTURE, "samples"), [ASSIGNMENT],
                            secret=SECRET, course_module="fixture_questions")
    submitted = os.path.join(course, "submitted")
    for original, copies in COPIES.items():
        for new in copies:
            shutil.copytree(os.path.join(submitted, original),
                            os.path.join(submitted, new))
    return sorted(built[ASSIGNMENT] + [n for ns in COPIES.values() for n in ns])


def env_for_workers() -> dict[str, str]:
    env = C.nbgrader_env()
    env["PYTHONPATH"] = os.pathsep.join([REPO, FIXTURE, env.get("PYTHONPATH", "")])
    env.pop("CNNLAB_COURSE_SECRET", None)
    env.pop("CNNLAB_COURSE_SECRET_FILE", None)
    return env


def grade_cli(course: str, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run([sys.executable, "-m", "autograder.tools", "grade", "--course",
                           course, *args], env=env_for_workers(), cwd=course,
                          capture_output=True, text=True, timeout=600)
    if check:
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc


def autograded(course: str) -> dict[str, dict]:
    """Every autograded notebook, without nbformat's random cell ids."""
    out = {}
    root = os.path.join(course, "autograded")
    for student in sorted(os.listdir(root)):
        path = os.path.join(root, student, ASSIGNMENT, ASSIGNMENT + ".ipynb")
        with open(path) as fh:
            nb = json.load(fh)
        for cell in nb["cells"]:
            cell.pop("id", None)
        out[student] = nb
    return out


def feedback(course: str) -> dict[str, str]:
    out = {}
    for path in C.feedback_files(course):
        with open(path) as fh:
            out[os.path.relpath(path, course)] = fh.read()
    return out


def log_of(stdout: str) -> str:
    """The run's log file, named at the end of its output."""
    with open(stdout.split("Log (with nbgrader's): ")[1].split()[0]) as fh:
        return fh.read()


def rows(stdout: str) -> dict[str, str]:
    """submission -> status, from the end table of ``grade``."""
    out = {}
    for line in stdout.splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[0].endswith("/" + ASSIGNMENT):
            out[parts[0].split("/")[0]] = parts[1]
    return out


@pytest.fixture(scope="module")
def serial(tmp_path_factory):
    course = str(tmp_path_factory.mktemp("serial") / "course")
    students = make_class(course)
    proc = grade_cli(course, "--workers", "0")
    return course, students, proc


@pytest.fixture(scope="module")
def local(tmp_path_factory):
    course = str(tmp_path_factory.mktemp("local") / "course")
    make_class(course)
    return course, grade_cli(course, "--workers", "2")


def test_serial_run_grades_every_submission(serial):
    course, students, proc = serial
    assert set(rows(proc.stdout)) == set(students)
    assert set(rows(proc.stdout).values()) == {"graded"}
    scores = C.scores(course, [ASSIGNMENT])
    assert scores[("correct", ASSIGNMENT, "fixture_ps-double")] == 2.0
    assert scores[("correct2", ASSIGNMENT, "fixture_ps-double")] == 2.0
    assert scores[("blank", ASSIGNMENT, "fixture_ps-double")] == 0.0


def test_local_cluster_gives_the_serial_result(serial, local):
    course, proc = local
    assert "Gradebook check: every stored score" in proc.stdout
    assert C.scores(course, [ASSIGNMENT]) == C.scores(serial[0], [ASSIGNMENT])
    assert autograded(course) == autograded(serial[0])
    assert feedback(course) == feedback(serial[0])
    # every notebook was graded by a worker: nbgrader's process found each result
    log = log_of(proc.stdout)
    assert "no result computed in advance" not in log
    assert log.count("| INFO] Autograding ") == len(serial[1])


def test_nothing_new_grades_nothing(local):
    course, _ = local
    proc = grade_cli(course, "--workers", "2")
    assert set(rows(proc.stdout).values()) == {"unchanged"}
    assert "grading" not in proc.stderr  # no progress bar: nothing was sent to workers


def test_a_changed_submission_is_graded_again_alone(serial, local):
    course, _ = local
    src = os.path.join(course, "submitted", "blank", ASSIGNMENT, ASSIGNMENT + ".ipynb")
    good = os.path.join(course, "submitted", "correct", ASSIGNMENT, ASSIGNMENT + ".ipynb")
    shutil.copyfile(good, src)
    proc = grade_cli(course, "--workers", "1")
    status = rows(proc.stdout)
    assert status.pop("blank") == "graded"
    assert set(status.values()) == {"unchanged"}
    assert C.scores(course, [ASSIGNMENT])[("blank", ASSIGNMENT, "fixture_ps-double")] == 2.0


def test_student_and_force(local):
    course, _ = local
    proc = grade_cli(course, "--workers", "1", "--student", "raises", "--force")
    assert rows(proc.stdout) == {"raises": "graded"}
    proc = grade_cli(course, "--workers", "1", "--force")
    assert set(rows(proc.stdout).values()) == {"graded"}


def _start(args: list[str], env, log) -> subprocess.Popen:
    return subprocess.Popen(args, env=env, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)


def _stored(course: str) -> int:
    folder = os.path.join(course, RESULTS)
    return sum(len([f for f in files if f.endswith(".json")])
               for _, _, files in os.walk(folder))


def _start_held_run(course: str, marker, what: str) -> subprocess.Popen:
    """``grade --workers 1`` in its own process group, held by ``pause_hook`` after the
    gradebook pass's 2nd submission: returns once ``marker`` says it is held there."""
    env = {**env_for_workers(), "CNNLAB_TEST_PAUSE_AFTER": "2",
           "CNNLAB_TEST_PAUSE_FILE": str(marker)}
    run = subprocess.Popen([sys.executable, "-m", "autograder.tools", "grade", "--course",
                            course, "--workers", "1"], env=env, cwd=course,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                           start_new_session=True)
    try:
        _wait_for(lambda: marker.exists() or run.poll() is not None, 300, what)
        assert run.poll() is None, "the run ended before the gradebook pass was held"
    except BaseException:
        _stop(run)
        raise
    return run


def _wait_for(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


def test_gradebook_passes_of_a_few_students_each_give_the_serial_result(serial, tmp_path,
                                                                       monkeypatch):
    """Groups of 4 students, each written by its own ``nbgrader autograde`` as soon as
    its sandboxes are done (here, in-process, on two embedded workers)."""
    from autograder.tools import batch, pipeline

    course, students, _ = serial
    copy = _copy_course(course, str(tmp_path / "course"))
    monkeypatch.setattr(batch, "STUDENTS_PER_PASS", 4)
    monkeypatch.syspath_prepend(FIXTURE)
    monkeypatch.delenv("CNNLAB_COURSE_SECRET", raising=False)
    monkeypatch.delenv("CNNLAB_COURSE_SECRET_FILE", raising=False)
    result = pipeline.grade(copy, None, None, quiet=True, workers=2, force=True)
    assert result.ok, result.failures
    with open(result.batch.log_path) as fh:
        log = fh.read()
    groups = len(batch.pass_sizes(len(students), 4, tapered=True))  # the run's last groups
    assert log.count(f"$ nbgrader autograde {ASSIGNMENT} --force") == groups > 1
    assert C.scores(copy, [ASSIGNMENT]) == C.scores(course, [ASSIGNMENT])
    assert autograded(copy) == autograded(course)
    assert feedback(copy) == {k: v.replace(course, copy) for k, v in feedback(course).items()}


def test_a_dask_cluster_with_a_worker_killed_mid_batch(serial, tmp_path):
    """A real ``dask scheduler`` and two ``dask worker`` processes on 127.0.0.1."""
    dask = os.path.join(os.path.dirname(sys.executable), "dask")
    if not os.path.exists(dask):
        pytest.skip("the dask command is not installed")
    course = str(tmp_path / "course")
    make_class(course)
    env = env_for_workers()
    sched_file = str(tmp_path / "scheduler.json")
    log = open(tmp_path / "cluster.log", "w")  # noqa: SIM115 - closed below
    procs = [_start([dask, "scheduler", "--host", "127.0.0.1", "--port", "0",
                     "--no-dashboard", "--scheduler-file", sched_file], env, log)]
    try:
        _wait_for(lambda: os.path.exists(sched_file), 60, "the scheduler")
        with open(sched_file) as fh:
            address = json.load(fh)["address"]
        for _ in range(2):
            procs.append(_start([dask, "worker", address, "--nthreads", "1",
                                 "--no-dashboard", "--host", "127.0.0.1"], env, log))
        grading = subprocess.Popen(
            [sys.executable, "-m", "autograder.tools", "grade", "--course", course,
             "--scheduler", address], env=env, cwd=course, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True)
        _wait_for(lambda: _stored(course) >= 1 or grading.poll() is not None, 300,
                  "the first result")
        assert grading.poll() is None, grading.communicate()
        _stop(procs[1])  # one worker dies with work in hand; the other takes it over
        out, err = grading.communicate(timeout=600)
        assert grading.returncode == 0, out[-3000:] + err[-3000:]
    finally:
        for proc in reversed(procs):
            _stop(proc)
        log.close()
    assert set(rows(out).values()) == {"graded"}
    assert C.scores(course, [ASSIGNMENT]) == C.scores(serial[0], [ASSIGNMENT])
    assert autograded(course) == autograded(serial[0])


def test_a_killed_run_resumes_without_redoing_finished_work(serial, tmp_path):
    course = str(tmp_path / "course")
    make_class(course)
    run = subprocess.Popen([sys.executable, "-m", "autograder.tools", "grade", "--course",
                            course, "--workers", "1"], env=env_for_workers(), cwd=course,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                           start_new_session=True)
    try:
        _wait_for(lambda: _stored(course) >= 2 or run.poll() is not None, 300,
                  "two results")
        assert run.poll() is None, "the run ended before it could be killed"
    finally:
        _stop(run)
    kept = _stored(course)
    proc = grade_cli(course, "--workers", "1")
    assert set(rows(proc.stdout).values()) == {"graded"}
    log = log_of(proc.stdout)
    assert f"{kept} already computed" in log
    assert C.scores(course, [ASSIGNMENT]) == C.scores(serial[0], [ASSIGNMENT])
    assert autograded(course) == autograded(serial[0])


def test_ctrl_c_stops_a_run_with_one_message_and_the_next_run_goes_on(serial, tmp_path):
    """SIGINT to the run's whole process group, as Ctrl-C in a terminal sends it, while
    two embedded workers run sandboxes: the coordinator says it was interrupted (exit
    130), no worker prints a traceback, no process of the run is left, and the next run
    takes the finished results from the store."""
    course = str(tmp_path / "course")
    make_class(course)
    run = subprocess.Popen([sys.executable, "-m", "autograder.tools", "grade", "--course",
                            course, "--workers", "2"], env=env_for_workers(), cwd=course,
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                           start_new_session=True)
    try:
        _wait_for(lambda: _stored(course) >= 2 or run.poll() is not None, 300,
                  "two results")
        assert run.poll() is None, "the run ended before Ctrl-C"
        os.killpg(run.pid, signal.SIGINT)
        _, err = run.communicate(timeout=120)
    finally:
        _stop(run)
    assert run.returncode == 130, err[-3000:]
    assert "interrupted: finished results are kept" in err
    assert "Traceback" not in err, err[-3000:]
    assert "KeyboardInterrupt" not in err, err[-3000:]

    def left() -> str:  # the run's processes still there (pgrep lists the group's)
        return subprocess.run(["pgrep", "-a", "-g", str(run.pid)], capture_output=True,
                              text=True).stdout.strip()

    try:
        _wait_for(lambda: not left(), 10, "the run's processes to end")
    except AssertionError:
        raise AssertionError(f"processes of the run outlived it: {left()}") from None
    kept = _stored(course)
    proc = grade_cli(course, "--workers", "1")
    assert f"{kept} already computed" in log_of(proc.stdout)
    assert C.scores(course, [ASSIGNMENT]) == C.scores(serial[0], [ASSIGNMENT])


def test_a_run_killed_while_nbgrader_writes_the_gradebook_resumes(serial, tmp_path):
    """SIGKILL of the whole run (coordinator and its processes) after nbgrader has
    written two submissions of the gradebook pass and before it wrote the others: held
    there by ``pause_hook`` until the test kills it."""
    import sqlite3

    from nbgrader.api import Gradebook

    course = str(tmp_path / "course")
    students = make_class(course, {**SETTINGS, "Autograde.post_convert_hook":
                                   "pause_hook.post_convert_hook"})
    grade_cli(course, "--workers", "1", "--student", "correct")  # graded and recorded
    _stop(_start_held_run(course, tmp_path / "paused", "the gradebook pass"))
    # none of the interrupted pass's submissions is recorded as graded; the database
    # itself is whole (sqlite's journal undoes an unfinished transaction)
    with open(os.path.join(course, ".cnnlab", "grading-state.json")) as fh:
        assert set(json.load(fh)["submissions"]) == {f"correct/{ASSIGNMENT}"}
    with sqlite3.connect(os.path.join(course, "gradebook.db")) as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    kept = _stored(course)
    assert kept == len(students)  # every sandbox result arrived before the pass began

    proc = grade_cli(course, "--workers", "1")
    status = rows(proc.stdout)
    assert status.pop("correct") == "unchanged"
    assert set(status.values()) == {"graded"}
    log = log_of(proc.stdout)
    assert f"0 notebooks to run on workers ({len(students) - 1} already computed)" in log
    assert log.count("| INFO] Autograding ") == len(students) - 1
    assert C.scores(course, [ASSIGNMENT]) == C.scores(serial[0], [ASSIGNMENT])
    assert autograded(course) == autograded(serial[0])
    with Gradebook(C.db_url(course)) as gb:  # every submission has all its grades
        cells = {c.name for nb in gb.find_assignment(ASSIGNMENT).notebooks
                 for c in nb.grade_cells}
        for student in students:
            grades = [g for snb in gb.find_submission(ASSIGNMENT, student).notebooks
                      for g in snb.grades]
            assert {g.name for g in grades} == cells, student
            assert all(g.auto_score is not None for g in grades), student


def test_canvas_export_has_one_row_per_student(serial, tmp_path):
    import csv

    from autograder.tools.export import CANVAS_COLUMNS, POINTS_ROW

    course, students, _ = serial
    path = str(tmp_path / "canvas.csv")
    subprocess.run([sys.executable, "-m", "autograder.tools", "export", "--course", course,
                    "--to", path, "--per-question"], env=env_for_workers(), check=True,
                   capture_output=True)
    with open(path, newline="") as fh:
        table = list(csv.reader(fh))
    header, points, body = table[0], table[1], table[2:]
    assert tuple(header[:5]) == CANVAS_COLUMNS
    assert header[5:] == [ASSIGNMENT, f"{ASSIGNMENT}: fixture_ps-answer",
                          f"{ASSIGNMENT}: fixture_ps-double"]
    assert points[0] == POINTS_ROW
    assert points[5:] == ["3", "1", "2"]
    assert sorted(r[2] for r in body) == students
    scores = C.scores(course, [ASSIGNMENT])
    _, table_totals = C.totals(course, [ASSIGNMENT])
    for row in body:
        sid = row[2]
        assert float(row[5]) == table_totals[(sid, ASSIGNMENT)][0]
        assert float(row[7]) == scores[(sid, ASSIGNMENT, "fixture_ps-double")]


def _copy_course(course: str, dest: str) -> str:
    shutil.copytree(course, dest, symlinks=True)
    config = os.path.join(dest, "nbgrader_config.py")
    with open(config) as fh:
        text = fh.read().replace(repr(course), repr(dest))
    with open(config, "w") as fh:
        fh.write(text)
    return dest


@pytest.mark.parametrize("how", ["on the helper only", "shared", "helper started before"])
def test_feedback_shared_with_a_helper_is_the_serial_feedback(serial, tmp_path, monkeypatch,
                                                              how):
    from autograder.tools import feedback as F

    course, students, _ = serial
    copy = _copy_course(course, str(tmp_path / "course"))
    shutil.rmtree(os.path.join(copy, "feedback"))
    monkeypatch.setattr(F, "NOTEBOOKS_PER_JOB", 1)
    assert len(F.jobs_for(copy, {ASSIGNMENT: students}, 1)) == len(students) > 1
    env = env_for_workers()
    helpers = F.Helpers(copy, env, 1)
    if how == "helper started before":  # as the pipeline does, when the workers are done
        helpers.start(len(students))
        _wait_for(lambda: helpers.processes[0].is_alive(), 60, "the helper")
    try:
        # take_part=False: every job on the helper; True: whoever is free first
        F.generate_feedback(copy, {ASSIGNMENT: students}, env=env, processes=2,
                            take_part=how != "on the helper only",
                            helpers=helpers if how == "helper started before" else None)
    finally:
        helpers.close()
    assert feedback(copy) == {k: v.replace(course, copy) for k, v in feedback(course).items()}
    assert sorted(feedback(copy)) == sorted(feedback(course))


def test_feedback_ends_when_a_helper_took_every_job_but_the_coordinators_first(
        serial, tmp_path, monkeypatch):
    """The coordinator is slow on its first job; a ready helper takes all the others
    and its stop meanwhile. The coordinator then finds a stop of its own, not an empty
    queue to wait on for ever."""
    import threading

    from autograder.tools import feedback as F
    from autograder.tools import nbgrader_app

    course, students, _ = serial
    copy = _copy_course(course, str(tmp_path / "course"))
    shutil.rmtree(os.path.join(copy, "feedback"))
    monkeypatch.setattr(F, "NOTEBOOKS_PER_JOB", 1)
    run, calls = nbgrader_app.run, []

    def slow_first(*args, **kwargs):
        calls.append(args)
        if len(calls) == 1:
            time.sleep(8)  # the helper, ready, takes every other job meanwhile
        return run(*args, **kwargs)

    monkeypatch.setattr(nbgrader_app, "run", slow_first)
    env = env_for_workers()
    helpers = F.Helpers(copy, env, 1)
    helpers.start(len(students))
    _wait_for(lambda: helpers.processes[0].is_alive(), 60, "the helper")
    time.sleep(5)  # its imports done
    errors: list[BaseException] = []

    def feedback_now() -> None:
        try:
            F.generate_feedback(copy, {ASSIGNMENT: students}, env=env, helpers=helpers)
        except BaseException as exc:  # asserted below
            errors.append(exc)

    worker = threading.Thread(target=feedback_now, daemon=True)
    worker.start()
    worker.join(timeout=180)
    helpers.close()
    assert not worker.is_alive(), "generate_feedback waited for ever"
    assert not errors, errors
    assert len(calls) < len(students)  # the helper did some of the jobs
    assert feedback(copy) == {k: v.replace(course, copy) for k, v in feedback(course).items()}


def test_feedback_jobs_are_chunks_of_at_most_the_job_size():
    from autograder.tools import feedback as F

    names = [f"s{i:02d}" for i in range(23)]
    assert [len(c) for c in F.chunks(names, 10)] == [8, 8, 7]
    assert [s for c in F.chunks(list(reversed(names)), 10) for s in c] == names
    assert F.chunks(names[:4], 10) == [names[:4]]


HELPERS_OF_A_KILLED_PROCESS = """
import os, sys, time
from autograder.tools import course as C, feedback as F
if __name__ == "__main__":
    helpers = F.Helpers(sys.argv[1], C.nbgrader_env(), 1)
    helpers.start()
    print(helpers.processes[0].pid, flush=True)
    time.sleep(600)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
def test_feedback_helpers_die_with_a_coordinator_killed_outright(tmp_path):
    script = tmp_path / "coordinator.py"
    script.write_text(HELPERS_OF_A_KILLED_PROCESS)
    coordinator = subprocess.Popen([sys.executable, str(script), str(tmp_path)],
                                   env={**env_for_workers(), "PYTHONPATH": REPO},
                                   stdout=subprocess.PIPE, text=True)
    try:
        helper = int(coordinator.stdout.readline())
        time.sleep(1.0)  # the helper is past its start
        os.kill(coordinator.pid, signal.SIGKILL)
        coordinator.wait(timeout=30)
        _wait_for(lambda: not _alive(helper), 30, "the helper to die with its coordinator")
    finally:
        coordinator.kill()
        coordinator.stdout.close()
        coordinator.wait()


def _alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie does not: its parent is gone, init reaps it)."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_a_failing_feedback_job_on_a_helper_names_its_cause(tmp_path):
    from autograder.tools import feedback as F

    course = str(tmp_path / "nothing")  # no nbgrader_config.py, no gradebook
    os.makedirs(course)
    with pytest.raises(C.ToolError, match="generate_feedback"):
        F.generate_feedback(course, {"ps_missing": ["a", "b"]}, env=env_for_workers(),
                            processes=2, take_part=False)


def test_a_feedback_process_gets_no_secret():
    from autograder.tools import feedback as F

    env = {"PATH": "/bin", "CNNLAB_COURSE_SECRET": "s", "CNNLAB_COURSE_SECRET_FILE": "/f"}
    assert F.without_secret(env) == {"PATH": "/bin"}


SECOND = "fixture_pt"  # the fixture assignment again, under another name
TWO_REGISTRY = """import copy

from fixture_questions import *  # noqa: F403
from fixture_questions import _QUESTIONS


def _again(q, assignment):
    q = copy.copy(q)
    q.key, q.assignment = q.key.replace("fixture_ps", assignment), assignment
    return q


QUESTIONS = {**_QUESTIONS, **{q.key: q for q in (_again(q, "fixture_pt")
                                                  for q in _QUESTIONS.values())}}


def question(key):
    return QUESTIONS[key]


def questions_for(assignment):
    return [q for q in QUESTIONS.values() if q.assignment == assignment]
"""


def _as_second(src: str, dest: str) -> None:
    with open(src) as fh:
        text = fh.read()
    with open(dest, "w") as fh:
        fh.write(text.replace(f'"{ASSIGNMENT}-', f'"{SECOND}-'))


def make_two_assignment_class(course: str, settings: dict | None = None) -> list[str]:
    """The fixture class, and every submission again as a second assignment whose
    questions are the first one's (a registry written next to the course)."""
    students = make_class(course, settings)
    registry = os.path.join(os.path.dirname(course), "registry")
    os.makedirs(registry, exist_ok=True)
    with open(os.path.join(registry, "fixture_two.py"), "w") as fh:
        fh.write(TWO_REGISTRY)
    C.write_config(course, course_module="fixture_two", extra_sys_path=[FIXTURE, registry],
                   settings=settings or SETTINGS)
    source = os.path.join(course, "source", SECOND)
    os.makedirs(source)
    _as_second(os.path.join(course, "source", ASSIGNMENT, ASSIGNMENT + ".ipynb"),
               os.path.join(source, SECOND + ".ipynb"))
    env = {**C.nbgrader_env(), "PYTHONPATH": os.pathsep.join([REPO, FIXTURE, registry])}
    C.run_nbgrader(course, "generate_assignment", SECOND, "--force", env=env)
    for student in students:
        folder = os.path.join(course, "submitted", student)
        os.makedirs(os.path.join(folder, SECOND))
        _as_second(os.path.join(folder, ASSIGNMENT, ASSIGNMENT + ".ipynb"),
                   os.path.join(folder, SECOND, SECOND + ".ipynb"))
    return students


def both_autograded(course: str) -> dict[str, dict]:
    out = {}
    for assignment in (ASSIGNMENT, SECOND):
        for student in sorted(os.listdir(os.path.join(course, "autograded"))):
            path = os.path.join(course, "autograded", student, assignment,
                                assignment + ".ipynb")
            with open(path) as fh:
                nb = json.load(fh)
            for cell in nb["cells"]:
                cell.pop("id", None)
            out[f"{student}/{assignment}"] = nb
    return out


def test_an_overlapped_gradebook_pass_killed_resumes_to_the_serial_result(tmp_path):
    """Two assignments on one worker: the first one's gradebook pass runs while the
    second one's sandboxes are still on the worker, and the whole run is killed in the
    middle of that pass. The gradebook stays whole, no submission of the pass is
    recorded, and the next run ends where a serial run does."""
    import sqlite3

    serial2 = str(tmp_path / "serial")
    students = make_two_assignment_class(serial2)
    grade_cli(serial2, "--workers", "0")

    course = str(tmp_path / "course")
    make_two_assignment_class(course, {**SETTINGS, "Autograde.post_convert_hook":
                                       "pause_hook.post_convert_hook"})
    run = _start_held_run(course, tmp_path / "paused", "the first gradebook pass")
    try:
        logs = os.path.join(course, ".cnnlab", "logs")
        with open(os.path.join(logs, os.listdir(logs)[0])) as fh:
            log = fh.read()
        assert f"gradebook pass of {ASSIGNMENT} while " in log
        assert f"gradebook pass of {ASSIGNMENT} while 0 " not in log
    finally:
        _stop(run)
    state = os.path.join(course, ".cnnlab", "grading-state.json")
    if os.path.exists(state):
        with open(state) as fh:
            assert not json.load(fh)["submissions"]
    with sqlite3.connect(os.path.join(course, "gradebook.db")) as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    kept = _stored(course)
    assert len(students) <= kept < 2 * len(students)

    proc = grade_cli(course, "--workers", "1")
    assert set(rows_of(proc.stdout).values()) == {"graded"}
    assert len(rows_of(proc.stdout)) == 2 * len(students)
    assert f"{2 * len(students) - kept} notebooks to run on workers ({kept} already " \
           "computed)" in log_of(proc.stdout)
    assert C.scores(course, [ASSIGNMENT, SECOND]) == C.scores(serial2, [ASSIGNMENT, SECOND])
    assert both_autograded(course) == both_autograded(serial2)
    assert feedback(course) == {k: v.replace(serial2, course)
                                for k, v in feedback(serial2).items()}


def rows_of(stdout: str) -> dict[str, str]:
    """submission -> status, for every assignment, from the end table of ``grade``."""
    out = {}
    for line in stdout.splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[0].endswith(("/" + ASSIGNMENT, "/" + SECOND)):
            out[parts[0]] = parts[1]
    return out

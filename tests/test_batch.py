"""Honest errors of ``grade``: each failure is one line naming its cause, costs only its
own submission, and makes the run fail."""

from __future__ import annotations

import os
import types

import nbformat
import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURE = os.path.join(HERE, "fixtures", "grading_course")

from autograder.grader import plan as P  # noqa: E402
from autograder.grader import sandbox  # noqa: E402
from autograder.tools import course as C  # noqa: E402
from autograder.tools import pipeline  # noqa: E402
from autograder.tools.batch import _nbgrader_failures, grade_class  # noqa: E402

ASSIGNMENT = "fixture_ps"
SECRET = "batch-secret"


PARTIAL = """from fixture_questions import *  # noqa: F403
import fixture_questions as _fq


def question(key):
    if key.endswith("answer"):
        raise KeyError(key)  # a question the released notebook still has a test cell for
    return _fq.question(key)
"""


def _course(tmp_path, *, drop_a_question: bool = False, generate: bool = True) -> str:
    course = str(tmp_path / "course")
    C.make_course(course, {ASSIGNMENT: os.path.join(FIXTURE, "source", ASSIGNMENT)},
                  course_module="fixture_questions", extra_sys_path=[FIXTURE],
                  settings={"SandboxedGrading.case_timeout": 1.0})
    with open(os.path.join(course, "course_secret"), "w") as fh:
        fh.write(SECRET)
    if generate:
        C.ensure_in_gradebook(course, [ASSIGNMENT])
    if drop_a_question:  # the registry changed after the release
        (tmp_path / "partial").mkdir()
        (tmp_path / "partial" / "fixture_partial.py").write_text(PARTIAL)
        C.write_config(course, course_module="fixture_partial",
                       extra_sys_path=[FIXTURE, str(tmp_path / "partial")],
                       settings={"SandboxedGrading.case_timeout": 1.0})
    return course


def _submit(course: str, student: str, text: str | None = None) -> None:
    folder = os.path.join(course, "submitted", student, ASSIGNMENT)
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, ASSIGNMENT + ".ipynb")
    if text is None:
        nb = nbformat.read(C.release_path(course, ASSIGNMENT), as_version=4)
        for cell in nb.cells:
            if cell.metadata.get("nbgrader", {}).get("grade_id") == "double_answer":
                cell.source = "def double(x):\n    return 2 * x"
        nbformat.write(nb, path)
    else:
        with open(path, "w") as fh:
            fh.write(text)


@pytest.fixture(autouse=True)
def _no_env_secret(monkeypatch):
    monkeypatch.delenv("CNNLAB_COURSE_SECRET", raising=False)
    monkeypatch.delenv("CNNLAB_COURSE_SECRET_FILE", raising=False)


def test_unknown_assignment(tmp_path):
    course = _course(tmp_path, generate=False)
    _submit(course, "alice", "{}")
    with pytest.raises(C.ToolError, match=r"unknown assignment 'ps9'.*the course has: "
                                          "fixture_ps"):
        pipeline.grade(course, ["ps9"], None, quiet=True)


def test_assignment_missing_from_the_gradebook(tmp_path):
    course = _course(tmp_path, generate=False)
    _submit(course, "alice", "{}")
    result = grade_class(course, [ASSIGNMENT], env=C.nbgrader_env(), workers=0, quiet=True)
    assert result.failures == [f"alice/{ASSIGNMENT}: assignment 'fixture_ps' is not in the "
                               "gradebook"]
    assert [r.status for r in result.rows] == ["failed"]


def test_the_first_run_puts_the_assignment_into_the_gradebook(tmp_path):
    course = _course(tmp_path, generate=False)
    os.makedirs(os.path.join(course, "release", ASSIGNMENT))
    with open(os.path.join(course, "release", ASSIGNMENT, "committed.txt"), "w") as fh:
        fh.write("a committed release is left alone")
    assert C.ensure_in_gradebook(course, [ASSIGNMENT]) == [ASSIGNMENT]
    assert ASSIGNMENT in C.gradebook_assignments(course)
    assert os.listdir(os.path.join(course, "release", ASSIGNMENT)) == ["committed.txt"]
    assert C.ensure_in_gradebook(course, [ASSIGNMENT]) == []


@pytest.mark.grading
@pytest.mark.slow
def test_course_problems_and_corrupt_notebooks_are_named_and_fail_the_run(tmp_path):
    course = _course(tmp_path, drop_a_question=True)
    _submit(course, "alice")
    _submit(course, "bob", "this is not a notebook {")
    result = pipeline.grade(course, None, None, workers=0, quiet=True)
    assert not result.ok
    assert (f"{ASSIGNMENT}: test cell 'fixture_ps-answer' has no cnnlab question "
            "(scored 0 in 1 submissions; question keys are the test cells' grade ids)"
            ) in result.failures
    # the intake turns the corrupt notebook away: bob gets 0 and a notice, alice her score
    assert [ln.split(": your")[0] for ln in result.refused] == [
        f"SUBMISSION REFUSED: bob/{ASSIGNMENT}"]
    assert "not valid JSON" in result.refused[0]
    status = {r.ref.student: (r.status, r.score) for r in result.batch.rows}
    assert status == {"alice": ("graded", 2.0), "bob": ("graded", 0.0)}
    assert result.table[("alice", ASSIGNMENT)] == (2.0, 3.0)


def test_a_sandbox_that_cannot_start_is_one_line(monkeypatch):
    def broken(*args, **kwargs):
        raise sandbox.SandboxSetupError("user namespace: Operation not permitted")

    monkeypatch.setattr(sandbox, "run_submission", broken)
    plan = P.GradingPlan("a", "s", "nb", "fixture_questions", "", ((0, "x = 1"),), (), (),
                         {}, (), sandbox.Limits(), "auto", ())
    course = types.SimpleNamespace(plain_path="plain.py", plain=None)
    outcome = P.execute_plan(plan, course=course)
    assert outcome.setup_error == ("the sandbox could not start: user namespace: "
                                   "Operation not permitted")


def test_a_worker_executing_plans_imports_no_nbgrader():
    """What a Dask worker loads to run plans and judge them: the course and the
    sandbox, not nbgrader or nbformat (a second or more of CPU in each worker)."""
    import subprocess
    import sys

    code = ("import sys; from autograder.grader import plan; "
            "plan._course('cnnlab.grading', ''); import autograder.tools.workers; "
            "print(sorted(m for m in ('nbgrader', 'nbformat', 'jsonschema', 'sklearn') "
            "if m in sys.modules))")
    found = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           check=True, cwd=C.REPO).stdout.strip()
    assert found == "[]"


def test_nbgrader_failures_name_the_real_cause():
    lines = ["[AutogradeApp | INFO] Autograding x",
             "[AutogradeApp | ERROR] There was an error processing assignment: /c/s/a",
             "[AutogradeApp | ERROR] Traceback (most recent call last):",
             '  File "x.py", line 1, in <module>',
             "RuntimeError: s/a: the sandbox could not start: no user namespaces",
             "",
             "[AutogradeApp | ERROR] There was an error processing assignment 'a' for "
             "student 's'"]
    assert _nbgrader_failures(lines) == {
        "s": "RuntimeError: s/a: the sandbox could not start: no user namespaces"}


def test_result_store_round_trip(tmp_path):
    store = P.ResultStore(str(tmp_path))
    outcome = P.GradingOutcome({3: {"index": 3, "stdout": "hi"}}, {"q": ("text", 1.5)},
                               "completed", "footer", "summary", 0.5)
    store.put("ab" * 32, outcome)
    assert "ab" * 32 in store
    assert store.get("ab" * 32) == outcome
    assert store.get("cd" * 32) is None
    assert store.get("../x") is None
    with pytest.raises(ValueError, match="not a plan key"):
        store.put("../x", outcome)


def test_the_store_keeps_only_what_current_submissions_refer_to(tmp_path):
    from autograder.tools.batch import prune_results
    from autograder.tools.state import GradingState

    course = str(tmp_path / "course")
    os.makedirs(os.path.join(course, "source", "ps"))
    open(os.path.join(course, "source", "ps", "ps.ipynb"), "w").close()
    for student in ("alice", "bob", "carol", "dave"):
        os.makedirs(os.path.join(course, "submitted", student, "ps"))
    store = P.ResultStore(os.path.join(course, "results"))
    outcome = P.GradingOutcome({}, {"q": ("text", 1.0)}, "completed", "footer", "", 0.1)
    key = {name: char * 64 for name, char in (("alice_now", "a"), ("alice_before", "b"),
                                              ("bob", "c"), ("carol", "d"), ("erin", "e"),
                                              ("dave", "f"))}
    for name, k in key.items():
        store.put(k, outcome, about={"student": name.split("_")[0], "assignment": "ps",
                                     "notebook": "ps"})
    half_written = os.path.join(store.folder, "xx", "tmpkilled.tmp")
    os.makedirs(os.path.dirname(half_written))
    open(half_written, "w").close()
    state = GradingState(course)
    state.record("alice/ps", "input-a", 1.0, 1.0, 0.1, [key["alice_now"]])
    state.record("bob/ps", "input-b", 1.0, 1.0, 0.1, [key["bob"]])
    state.entries["dave/ps"] = state.entries["bob/ps"].__class__("input-d", 1, 1, 0.1, 0.0)
    # carol: no entry yet (a run was killed before her gradebook pass); dave: an entry
    # from before outcomes were recorded; erin: no longer submitted
    assert prune_results(course, store, state) == 2
    assert set(store.keys()) == {key["alice_now"], key["bob"], key["carol"], key["dave"]}
    assert not os.path.exists(os.path.dirname(half_written))
    assert prune_results(course, store, state) == 0


def test_feedback_stopped_by_an_interrupt_is_written_by_the_next_run(tmp_path, monkeypatch):
    from autograder.tools import feedback

    course = _course(tmp_path)
    for student in ("alice", "bob"):
        _submit(course, student)
    written = feedback.generate_feedback

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt  # Ctrl-C after the gradebook pass, before the feedback

    monkeypatch.setattr(feedback, "generate_feedback", interrupted)
    with pytest.raises(KeyboardInterrupt):
        pipeline.grade(course, None, None, quiet=True, workers=0)
    assert not C.feedback_files(course)
    monkeypatch.setattr(feedback, "generate_feedback", written)
    result = pipeline.grade(course, None, None, quiet=True, workers=0)
    assert [r.status for r in result.batch.rows] == ["unchanged", "unchanged"]
    assert len(C.feedback_files(course)) == 2
    calls = []
    monkeypatch.setattr(feedback, "generate_feedback", lambda *a, **k: calls.append(a))
    pipeline.grade(course, None, None, quiet=True, workers=0)
    assert calls == []  # written once, not again


def test_a_folder_that_is_no_assignment_and_an_unknown_student_are_named(tmp_path):
    course = _course(tmp_path)
    _submit(course, "alice")
    os.makedirs(os.path.join(course, "submitted", "alice", "ps9"))
    result = pipeline.grade(course, None, None, quiet=True, workers=0)
    assert [r.status for r in result.batch.rows] == ["graded"]
    assert result.failures == ["submitted/alice/ps9: not an assignment of this course "
                               "(there is no source/ps9/ps9.ipynb); not graded"]
    assert not result.ok
    result = pipeline.grade(course, [ASSIGNMENT], None, quiet=True, workers=0)
    assert result.ok  # asked for the course's assignment only: the stray is not its business
    result = pipeline.grade(course, [ASSIGNMENT], None, quiet=True, workers=0,
                            students=["alice", "nobody"])
    assert result.failures == ["--student nobody: no submission in "
                               f"{os.path.join(course, 'submitted')}"]


def test_force_runs_every_sandbox_again(tmp_path):
    course = _course(tmp_path)
    _submit(course, "alice")
    first = pipeline.grade(course, None, None, quiet=True, workers=1)
    assert first.ok
    again = pipeline.grade(course, None, None, quiet=True, workers=1, force=True)
    assert again.ok
    assert [r.status for r in again.batch.rows] == ["graded"]
    with open(again.batch.log_path, encoding="utf-8") as fh:
        log = fh.read()
    assert "1 notebooks to run on workers (0 already computed)" in log


def test_more_workers_than_the_machine_can_use_are_refused_before_anything_starts(
        tmp_path):
    from autograder.tools.workers import WORKERS_PER_CORE, default_workers

    course = _course(tmp_path)
    _submit(course, "alice")
    too_many = WORKERS_PER_CORE * default_workers() + 1
    with pytest.raises(C.ToolError, match=rf"--workers {too_many}: this machine gives "
                                          rf"{default_workers()} cores.*--scheduler"):
        pipeline.grade(course, None, None, quiet=True, workers=too_many)
    with pytest.raises(C.ToolError, match="--workers must be 0 or more"):
        pipeline.grade(course, None, None, quiet=True, workers=-1)
    assert not os.path.exists(os.path.join(course, "autograded"))  # nothing ran


def test_the_cluster_has_no_more_workers_than_notebooks_to_run(tmp_path):
    course = _course(tmp_path)
    _submit(course, "alice")
    result = pipeline.grade(course, None, None, quiet=True, workers=2)
    assert result.ok
    with open(result.batch.log_path, encoding="utf-8") as fh:
        log = fh.read()
    assert "1 notebooks to run on workers" in log
    assert "the Dask cluster had 1 workers" in log, log


def test_the_instructor_docs_state_the_grading_limits_the_code_has():
    from autograder.tools import batch, workers

    root = os.path.dirname(HERE)
    with open(os.path.join(root, "docs", "instructors.md"), encoding="utf-8") as fh:
        docs = " ".join(fh.read().split())
    with open(os.path.join(root, "README.md"), encoding="utf-8") as fh:
        readme = " ".join(fh.read().split())
    assert f"group of {batch.STUDENTS_PER_PASS} students" in docs
    for text in (docs, readme):
        assert f"most {workers.WORKERS_PER_CORE} a core" in text


def _flattened(tree: dict, prefix: str = "") -> dict:
    out = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            out.update(_flattened(value, f"{prefix}{key}."))
        else:
            out[prefix + key] = value
    return out


def test_the_embedded_cluster_runs_with_its_settings_and_the_docs_give_the_same():
    """Its workers start with EMBEDDED_CLUSTER_CONFIG (no profiler, slower ticks), and
    the YAML docs/instructors.md gives for a cluster of one's own is that same dict."""
    import re

    import dask
    import yaml

    from autograder.tools import workers

    with workers.dask_client(workers=1) as client:
        seen = client.run(lambda: {k: dask.config.get(k)
                                   for k in workers.EMBEDDED_CLUSTER_CONFIG})
    assert list(seen.values()) == [workers.EMBEDDED_CLUSTER_CONFIG]
    assert dask.config.get("distributed.worker.profile.enabled") is True  # only there
    with open(os.path.join(os.path.dirname(HERE), "docs", "instructors.md"),
              encoding="utf-8") as fh:
        block = re.search(r"```yaml\n(distributed:.*?)```", fh.read(), re.S).group(1)
    assert _flattened(yaml.safe_load(block)) == workers.EMBEDDED_CLUSTER_CONFIG


@pytest.mark.parametrize("students", [1, 2, 3, 7, 25, 26, 40, 50, 51, 100, 499, 500])
@pytest.mark.parametrize("most", [1, 4, 25])
def test_pass_sizes_cover_every_student_and_end_small(students, most):
    from autograder.tools.batch import TAPER_LEAST, pass_sizes

    for tapered in (False, True):
        sizes = pass_sizes(students, most, tapered=tapered)
        assert sum(sizes) == students
        assert all(0 < s <= most for s in sizes)
        if not tapered or students <= most:
            assert max(sizes) - min(sizes) <= 1  # as even as groups of `most` allow
            assert len(sizes) == -(-students // most)
    tapered = pass_sizes(students, most, tapered=True)
    if students > most and most // 2 >= TAPER_LEAST:
        assert tapered[-1] < most  # what is left after the last sandbox is small
        assert tapered[-1] >= TAPER_LEAST or students - sum(tapered[:-1]) == tapered[-1]
    assert len(tapered) <= len(pass_sizes(students, most, tapered=False)) + 3

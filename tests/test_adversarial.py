"""The adversarial suite: every hostile submission in ``autograder/adversarial/``
goes through real nbgrader (generate_assignment, autograde, generate_feedback) in one
batch together with an honest correct and a blank submission, on the fixture
assignment.

For each attack: no points over the blank submission, no hidden test text (nor the
course secret) in its feedback; for the batch: the honest submissions graded normally,
the gradebook holding exactly what the grader computed, sentinel files outside the
sandbox untouched, no connection reaching the grading machine, no process left over.
"""

from __future__ import annotations

import os
import secrets
import socket
import sqlite3
import threading
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURE = os.path.join(HERE, "fixtures", "grading_course")

from autograder import adversarial  # noqa: E402
from autograder.grader import gradebook_guard, platform  # noqa: E402
from autograder.tools import course as C  # noqa: E402
from tests import adversarial_helpers as H  # noqa: E402

pytestmark = [pytest.mark.grading, pytest.mark.slow]
ASSIGNMENT = "fixture_ps"
HIDDEN_MARKERS = ("FIXTURE-HIDDEN-TEST-MARKER", "BEGIN HIDDEN TESTS", "hidden=True")
ATTACKS = adversarial.attacks()
ODD_BUT_CORRECT = "correct_odd_text"
ODD_OUTPUT = """print("lone surrogates \\ud800 \\udfff, a NUL \\x00, a big number", 10**5000 > 1)
print("x" * 10**6)
"""
LIMITS = {
    "SandboxedGrading.cell_timeout": 3.0,
    "SandboxedGrading.case_timeout": 2.0,
    "SandboxedGrading.question_timeout": 4.0,
    "SandboxedGrading.total_timeout": 8.0,
}


class Listener:
    """TCP + UDP on one loopback port and a Unix socket, counting whatever arrives."""

    def __init__(self, folder: str) -> None:
        self.tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.tcp.bind(("127.0.0.1", 0))
        self.tcp.listen(8)
        self.port = self.tcp.getsockname()[1]
        self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.udp.bind(("127.0.0.1", self.port))
        self.unix_path = os.path.join(folder, "grader.sock")
        self.unix = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.unix.bind(self.unix_path)
        self.unix.listen(8)
        self.received: list[str] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        for s in (self.tcp, self.udp, self.unix):
            s.settimeout(0.1)
        while not self.stop.is_set():
            for s, kind in ((self.tcp, "tcp"), (self.unix, "unix")):
                try:
                    conn, _ = s.accept()
                    conn.close()
                    self.received.append(kind)
                except OSError:
                    pass
            try:
                self.udp.recvfrom(100)
                self.received.append("udp")
            except OSError:
                pass

    def close(self) -> None:
        self.stop.set()
        self.thread.join()
        for s in (self.tcp, self.udp, self.unix):
            s.close()


def _survivors(token: str) -> list[str]:
    out = []
    for pid in os.listdir("/proc") if os.path.isdir("/proc") else []:
        if pid.isdigit():
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as fh:
                    if token.encode() in fh.read():
                        out.append(pid)
            except OSError:
                pass
    return out


def _student(attack) -> str:
    return "adv_" + attack.name


def _skip_reason(attack, prot) -> str | None:
    off = [r for r in attack.requires if not prot.is_on(r)]
    if off:
        return f"protection off on this machine: {', '.join(off)}"
    return None


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    prot = platform.detect()
    root = tmp_path_factory.mktemp("adversarial")
    course = str(root / "course")
    C.make_course(course, {ASSIGNMENT: os.path.join(FIXTURE, "source", ASSIGNMENT)},
                  course_module="fixture_questions", extra_sys_path=[FIXTURE], settings=LIMITS)
    secret = "adv-secret-" + secrets.token_hex(8)
    secret_file = root / "secret"
    secret_file.write_text(secret)
    env_marker = "adv-env-" + secrets.token_hex(8)  # in the grading environment only
    env = C.nbgrader_env({"CNNLAB_COURSE_SECRET_FILE": str(secret_file),
                          "CNNLAB_COURSE_SECRET": secret,  # must not reach any sandbox
                          "CNNLAB_ADVERSARIAL_MARKER": env_marker})
    grader_key = "grader-key-" + secrets.token_hex(8)  # in the grader's session keyring
    env.pop("CNNLAB_COURSE_SECRET", None)
    C.run_nbgrader(course, "generate_assignment", ASSIGNMENT, env=env)

    token = "cnnlab-adv-" + secrets.token_hex(6)
    artifacts = os.path.join(C.REPO, "tests", "artifacts")
    os.makedirs(artifacts, exist_ok=True)
    outside = root / "outside"
    outside.mkdir()
    sentinels = [os.path.join(artifacts, f"sentinel-{token}.txt"),
                 os.path.join(course, "sentinel.txt"), str(outside / "sentinel.txt")]
    for path in sentinels:
        with open(path, "w") as fh:
            fh.write("original\n")
    listener = Listener(str(outside))

    import fixture_questions as fq

    api = C.course_api("fixture_questions")
    context = {
        "targets": {q.target: q.kind for q in fq.questions_for(ASSIGNMENT)},
        "question_keys": [q.key for q in fq.questions_for(ASSIGNMENT)],
        "course_root": course,
        "gradebook": os.path.join(course, "gradebook.db"),
        "ledger": gradebook_guard.default_ledger_dir(course),
        "source_notebook": os.path.join(course, "source", ASSIGNMENT, ASSIGNMENT + ".ipynb"),
        "secret_file": str(secret_file),
        "release_notebook": C.release_path(course, ASSIGNMENT),
        "other_submission": os.path.join(course, "submitted", "correct", ASSIGNMENT,
                                         ASSIGNMENT + ".ipynb"),
        "repo": C.REPO,
        "reference_modules": ["fixture_questions"],
        "reference_dirs": [FIXTURE],
        "reference_files": [os.path.join(FIXTURE, "fixture_questions.py")],
        "sentinels": sentinels,
        "port": listener.port,
        "unix_socket": listener.unix_path,
        "token": token,
    }
    for sub in C.load_samples(os.path.join(FIXTURE, "samples"), ASSIGNMENT):
        if sub.student in ("correct", "blank"):
            C.write_submission(course, ASSIGNMENT, sub,
                               variant=api.variant(ASSIGNMENT, sub.student, secret))
        if sub.student == "correct":  # right answers, odd text around them
            odd = C.Submission(student=ODD_BUT_CORRECT, answers=sub.answers,
                               extra_cells=(ODD_OUTPUT,), files={"é -rf.txt": "ok"})
            C.write_submission(course, ASSIGNMENT, odd,
                               variant=api.variant(ASSIGNMENT, odd.student, secret))
    skipped = {}
    for attack in ATTACKS:
        reason = _skip_reason(attack, prot)
        if reason:
            skipped[attack.name] = reason
            continue
        sub = C.Submission(student=_student(attack), answers={},
                           prepend_cells=(adversarial.attack_cell(context), *attack.prepend),
                           extra_cells=attack.append, files=attack.files, mutate=attack.mutate)
        path = C.write_submission(course, ASSIGNMENT, sub,
                                  variant=api.variant(ASSIGNMENT, sub.student, secret))
        if attack.plant is not None:
            attack.plant(os.path.dirname(path), context)

    start = time.monotonic()
    autograde, autograde_rss = H.nbgrader_measured(course, "autograde", ASSIGNMENT, env,
                                                   grader_key)
    autograde_seconds = time.monotonic() - start
    feedback, feedback_rss = H.nbgrader_measured(course, "generate_feedback", ASSIGNMENT, env,
                                                         grader_key)
    time.sleep(0.5)
    survivors = _survivors(token)
    listener.close()
    texts = {}
    for path in C.feedback_files(course):
        student = os.path.relpath(path, os.path.join(course, "feedback")).split(os.sep)[0]
        with open(path, encoding="utf-8") as fh:
            texts[student] = fh.read()
    contents = {}
    for path in sentinels:
        with open(path) as fh:
            contents[path] = fh.read()
        os.remove(path)
    con = sqlite3.connect(os.path.join(course, "gradebook.db"))
    integrity = con.execute("PRAGMA integrity_check").fetchone()[0]
    con.close()
    return {
        "course": course, "secret": secret, "protections": prot, "skipped": skipped,
        "autograde": autograde, "feedback_proc": feedback, "seconds": autograde_seconds,
        "scores": C.scores(course, [ASSIGNMENT]), "feedback": texts,
        "guard": gradebook_guard.verify(C.db_url(course),
                                        gradebook_guard.default_ledger_dir(course)),
        "sentinels": contents, "received": list(listener.received), "survivors": survivors,
        "integrity": integrity, "env_marker": env_marker,
        "leaks": H.leaks(course, [secret, env_marker, grader_key, *HIDDEN_MARKERS,
                                 "SQLite format 3"]),
        "keys_left": H.nobody_keys("cnnlab-adv-key"),
        "disk": H.disk_bytes(course), "rss": {"autograde": autograde_rss,
                                             "generate_feedback": feedback_rss},
    }


def _score(batch, student, key):
    return batch["scores"].get((student, ASSIGNMENT, key))


def _keys():
    import fixture_questions as fq

    return [q.key for q in fq.questions_for(ASSIGNMENT)]


def test_the_suite_covers_the_issue():
    assert len(ATTACKS) >= 20
    wanted = set(adversarial.CATEGORIES)
    assert {a.category for a in ATTACKS} == wanted
    names = " ".join(a.name for a in ATTACKS)
    for word in ("run_cell", "numpy", "always_equal", "delete", "edit", "gradebook", "os_exit",
                 "infinite", "memory", "fork", "output", "daemon", "network", "environment",
                 "fake_score", "signal", "import_reference"):
        assert word in names


def test_whole_batch_was_graded(batch):
    assert batch["autograde"].returncode == 0, batch["autograde"].stderr[-3000:]
    assert "There was an error processing" not in batch["autograde"].stderr
    assert batch["feedback_proc"].returncode == 0, batch["feedback_proc"].stderr[-3000:]
    students = {s for (s, _, _) in batch["scores"]}
    expected = {"correct", "blank", ODD_BUT_CORRECT} | {_student(a) for a in ATTACKS
                                       if a.name not in batch["skipped"]}
    assert students == expected


def test_honest_submissions_graded_normally(batch):
    for key, points in zip(_keys(), (2.0, 1.0), strict=True):
        assert _score(batch, "correct", key) == points
        assert _score(batch, ODD_BUT_CORRECT, key) == points
        assert _score(batch, "blank", key) == 0.0


def test_gradebook_holds_what_the_grader_computed(batch):
    assert batch["guard"] == []
    assert batch["integrity"] == "ok"
    from nbgrader.api import Gradebook

    with Gradebook(C.db_url(batch["course"])) as gb:
        assignment = gb.find_assignment(ASSIGNMENT)
        assert assignment.max_score == 3.0
        assert sorted(c.name for c in assignment.notebooks[0].grade_cells) == sorted(_keys())


def test_nothing_outside_the_sandbox_changed(batch):
    assert set(batch["sentinels"].values()) == {"original\n"}
    assert not os.path.exists("/tmp/cnnlab-pwned")
    assert not os.path.exists(os.path.join(batch["course"], "pwned.txt"))


def test_no_connection_reached_the_grading_machine(batch):
    if "a21_network" in batch["skipped"]:
        pytest.skip(batch["skipped"]["a21_network"])
    assert batch["received"] == []


def test_no_process_outlives_the_run(batch):
    if "a20_daemon" in batch["skipped"]:
        pytest.skip(batch["skipped"]["a20_daemon"])
    assert batch["survivors"] == []


def test_batch_time(batch):
    # 29 hostile submissions, several of which hit the 8 s hard limit
    assert batch["seconds"] < 300


@pytest.mark.parametrize("attack", ATTACKS, ids=[a.name for a in ATTACKS])
def test_attack_earns_nothing(batch, attack):
    if attack.name in batch["skipped"]:
        pytest.skip(batch["skipped"][attack.name])
    student = _student(attack)
    for key in _keys():
        got = _score(batch, student, key)
        assert got is not None, f"{key} not graded"
        assert got <= _score(batch, "blank", key)


def test_no_course_file_secret_or_environment_in_any_output(batch):
    assert batch["leaks"] == {}


def test_nothing_left_in_keyrings(batch):
    if isinstance(batch["keys_left"], str):
        pytest.skip(batch["keys_left"])
    assert "found" not in batch["keys_left"], batch["keys_left"]


def test_grading_used_bounded_disk_and_memory(batch):
    assert batch["disk"] < 64 * 2**20
    for command, rss in batch["rss"].items():
        assert rss is not None, command
        assert rss < 1024 * 2**20, f"{command}: {rss / 2**20:.0f} MiB"


@pytest.mark.parametrize("attack", [a for a in ATTACKS if "refused" in a.marks],
                         ids=[a.name for a in ATTACKS if "refused" in a.marks])
def test_refused_submission_is_told_why(batch, attack):
    student = _student(attack)
    line = f"SUBMISSION REFUSED: {student}/{ASSIGNMENT}: your submission contains "
    assert line in batch["autograde"].stderr
    assert "This submission was not graded." in batch["feedback"][student]


def test_odd_text_is_kept_readable_in_the_feedback(batch):
    text = batch["feedback"][ODD_BUT_CORRECT]
    assert "lone surrogates \\ud800 \\udfff" in text
    assert "output cut" in text or "output truncated" in text


@pytest.mark.parametrize("attack", ATTACKS, ids=[a.name for a in ATTACKS])
def test_feedback_reveals_no_hidden_tests(batch, attack):
    if attack.name in batch["skipped"]:
        pytest.skip(batch["skipped"][attack.name])
    text = batch["feedback"][_student(attack)]
    for marker in (*HIDDEN_MARKERS, batch["secret"]):
        assert marker not in text
    assert "Test cell fixture_ps-double" in text  # the one-line header that replaced it



@pytest.mark.browser
def test_no_student_script_runs_in_feedback_or_formgrader_view(batch, tmp_path):
    """The a40 submission's feedback, and its autograded notebook rendered as plain
    nbconvert HTML (what the formgrader shows a TA), opened in a real browser. A
    control page (the same hostile cells rendered without sanitizing) proves the check
    sees a script that runs."""
    pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    if H.chromium() is None:
        pytest.skip("chromium not found (make browser-deps installs it)")
    import nbformat
    from nbconvert.exporters import HTMLExporter
    from playwright.sync_api import sync_playwright

    student = "adv_a40_html_in_feedback"
    course = batch["course"]
    feedback = os.path.join(course, "feedback", student, ASSIGNMENT, ASSIGNMENT + ".html")
    graded = nbformat.read(os.path.join(course, "autograded", student, ASSIGNMENT,
                                        ASSIGNMENT + ".ipynb"), as_version=4)
    formgrader_view = tmp_path / "autograded.html"
    formgrader_view.write_text(HTMLExporter().from_notebook_node(graded)[0])
    from autograder.adversarial import a40_html_in_feedback as a40

    hostile = nbformat.v4.new_notebook()
    a40.MUTATE(hostile)
    control = tmp_path / "control.html"
    control.write_text(HTMLExporter().from_notebook_node(hostile)[0])
    with sync_playwright() as playwright:
        states = {name: H.page_state(playwright, tmp_path / f"profile-{name}", path)
                  for name, path in (("control", control), ("feedback", feedback),
                                     ("formgrader", formgrader_view))}
    assert states["control"][0] == "PWNED" or states["control"][1] == "1"
    for name in ("feedback", "formgrader"):
        title, pwned, dialogs = states[name]
        assert title != "PWNED", name
        assert pwned is None, name
        assert dialogs == [], name

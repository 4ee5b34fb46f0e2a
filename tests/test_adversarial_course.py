"""The attacks on a submission's files, archives, the decoder, keyrings, the
environment and feedback HTML, on all four of the course's own assignments, through
the real ``python -m autograder.tools grade --submissions <zip>`` command.

One batch: for each assignment a blank and a correct sample, one hostile submission
per attack below (written straight into ``submitted/``, as nbgrader's exchange would),
and an archive holding a correct classmate plus a zip bomb, colliding names, a link
and unusable student ids. Checked: no attack scores over blank; every refusal is
reported; the correct submissions, the archive's included, score full; no course file,
secret, gradebook, environment or grader key in any feedback file; nothing left in
uid 65534's keyrings; bounded disk and memory; no student script runs in the browser.
"""

from __future__ import annotations

import os
import secrets
import sys
import zipfile

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
if os.path.dirname(HERE) not in sys.path:
    sys.path.insert(0, os.path.dirname(HERE))

from autograder import adversarial  # noqa: E402
from autograder.tools import course as C  # noqa: E402
from tests import adversarial_helpers as H  # noqa: E402

pytestmark = [pytest.mark.grading, pytest.mark.slow]

SOURCE = os.path.join(C.AUTOGRADER, "source")
ASSIGNMENTS = C.assignments_in(SOURCE)
ATTACKS = {a.name: a for a in adversarial.attacks()}
#: One attack per class (links, special files, sizes, decoder, environment, keyrings,
#: HTML); the fixture suite (tests/test_adversarial.py) runs every attack.
USED = ("a30_links_into_the_course", "a33_fifo_and_stdin", "a34_sparse_and_many_files",
        "a37_decoder_bombs", "a38_environment_secret", "a39_kernel_keyrings",
        "a40_html_in_feedback")
LIMITS = {"SandboxedGrading.case_timeout": 5.0, "SandboxedGrading.question_timeout": 10.0,
          "SandboxedGrading.total_timeout": 120.0}
REFUSED_IN_ZIP = ("zipbomb", "zipdup", "ziplink")


def _student(name: str) -> str:
    return "x" + name[1:3]


def _context(course: str, assignment: str, secret_file: str) -> dict:
    from cnnlab.grading.questions import questions_for

    questions = questions_for(assignment)
    return {
        "targets": {q.target: q.kind for q in questions},
        "question_keys": [q.key for q in questions],
        "course_root": course,
        "gradebook": os.path.join(course, "gradebook.db"),
        "source_notebook": os.path.join(course, "source", assignment, assignment + ".ipynb"),
        "release_notebook": C.release_path(course, assignment),
        "secret_file": secret_file,
    }


def _archive(course: str, path: str, api, secret: str) -> None:
    """The --submissions zip: a correct classmate and hostile members, per assignment."""
    correct = {a: next(s for s in C.load_samples(C.SAMPLES, a) if s.student == "correct")
               for a in ASSIGNMENTS}
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for a in ASSIGNMENTS:
            for student in ("zipok", *REFUSED_IN_ZIP):
                sub = C.Submission(student=student, answers=correct[a].answers)
                nb_path = C.write_submission(course, a, sub,
                                             variant=api.variant(a, student, secret))
                with open(nb_path, encoding="utf-8") as fh:
                    zf.writestr(f"submitted/{student}/{a}/{a}.ipynb", fh.read())
                os.remove(nb_path)
            zf.writestr(f"submitted/zipbomb/{a}/zeros.bin", b"\0" * (8 * 2**20))
            zf.writestr(f"submitted/zipdup/{a}/notes.txt", "one")
            zf.writestr(f"submitted/zipdup/{a}/Notes.txt", "two")
            link = zipfile.ZipInfo(f"submitted/ziplink/{a}/key.txt")
            link.external_attr = (0o120777) << 16
            zf.writestr(link, os.path.join(course, "course_secret"))
            zf.writestr(f"submitted/./{a}/{a}.ipynb", "{}")
            zf.writestr(f"submitted/bad\nid/{a}/{a}.ipynb", "{}")
    for student in ("zipok", *REFUSED_IN_ZIP):  # only the archive holds them now
        for dirpath, _dirs, files in os.walk(os.path.join(course, "submitted", student),
                                             topdown=False):
            for name in files:
                os.remove(os.path.join(dirpath, name))
            os.rmdir(dirpath)


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    if len(ASSIGNMENTS) != 4:
        pytest.skip(f"expected the course's four assignments, found {ASSIGNMENTS}")
    root = tmp_path_factory.mktemp("adversarial-course")
    course = str(root / "course")
    C.make_course(course, {a: os.path.join(SOURCE, a) for a in ASSIGNMENTS}, settings=LIMITS)
    secret = "course-secret-" + secrets.token_hex(8)
    secret_file = str(root / "secret")
    with open(secret_file, "w") as fh:
        fh.write(secret)
    env_marker = "adv-env-" + secrets.token_hex(8)
    env = C.nbgrader_env({"CNNLAB_COURSE_SECRET_FILE": secret_file,
                          "CNNLAB_COURSE_SECRET": secret,
                          "CNNLAB_ADVERSARIAL_MARKER": env_marker})
    grader_key = "grader-key-" + secrets.token_hex(8)
    C.run_nbgrader(course, "generate_assignment", "*", env=env)
    api = C.course_api()
    for a in ASSIGNMENTS:
        context = _context(course, a, secret_file)
        for sub in C.load_samples(C.SAMPLES, a):
            if sub.student in ("correct", "blank"):
                C.write_submission(course, a, sub, variant=api.variant(a, sub.student, secret))
        for name in USED:
            attack = ATTACKS[name]
            sub = C.Submission(student=_student(name), answers={},
                               prepend_cells=(adversarial.attack_cell(context),
                                              *attack.prepend),
                               extra_cells=attack.append, files=attack.files,
                               mutate=attack.mutate)
            path = C.write_submission(course, a, sub, variant=api.variant(a, sub.student,
                                                                           secret))
            if attack.plant is not None:
                attack.plant(os.path.dirname(path), context)
    archive = str(root / "submissions.zip")
    _archive(course, archive, api, secret)
    grade, own_rss, child_rss = H.run_measured(
        "autograder.tools", ["grade", "--course", course, "--submissions", archive],
        cwd=course, env=env, grader_key=grader_key)
    texts = {}
    for path in C.feedback_files(course):
        rel = os.path.relpath(path, os.path.join(course, "feedback")).split(os.sep)
        with open(path, encoding="utf-8") as fh:
            texts[(rel[0], rel[1])] = fh.read()
    return {
        "course": course, "grade": grade, "rss": (own_rss, child_rss), "feedback": texts,
        "scores": C.scores(course, ASSIGNMENTS),
        "leaks": H.leaks(course, [secret, env_marker, grader_key, "SQLite format 3",
                                  "BEGIN HIDDEN TESTS"]),
        "keys_left": H.nobody_keys("cnnlab-adv-key"), "disk": H.disk_bytes(course),
    }


def _scores(batch, student, assignment):
    return {k: v for (s, a, k), v in batch["scores"].items() if s == student and a == assignment}


def test_grade_ran_to_the_end(batch):
    proc = batch["grade"]
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "There was an error processing" not in proc.stderr
    assert "Gradebook check: every stored score is the one the grader computed." in proc.stdout


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_correct_submissions_score_as_correct_the_archives_included(batch, assignment):
    blank = _scores(batch, "blank", assignment)
    assert blank
    assert set(blank.values()) <= {0.0, None}  # None: a written answer, marked by hand
    correct = _scores(batch, "correct", assignment)
    assert sum(v or 0 for v in correct.values()) > 0
    assert _scores(batch, "zipok", assignment) == correct  # imported from the archive


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
@pytest.mark.parametrize("name", [*USED, *REFUSED_IN_ZIP])
def test_no_attack_scores_over_blank(batch, name, assignment):
    student = name if name.startswith("zip") else _student(name)
    blank = _scores(batch, "blank", assignment)
    got = _scores(batch, student, assignment)
    assert set(got) == set(blank), f"{student}/{assignment} not graded"
    for key, value in got.items():
        assert (value or 0) <= (blank[key] or 0), key


def test_every_refusal_is_reported(batch):
    out = batch["grade"].stdout
    for a in ASSIGNMENTS:
        for name in USED:
            if "refused" in ATTACKS[name].marks:
                assert f"SUBMISSION REFUSED: {_student(name)}/{a}: your submission contains" in out
        for student in REFUSED_IN_ZIP:
            assert f"SUBMISSION REFUSED: {student}/{a}: your submission contains" in out
        assert f"SUBMISSION REFUSED: archive member submitted/./{a}/{a}.ipynb" in out
        assert f"SUBMISSION REFUSED: archive member submitted/bad\\nid/{a}/{a}.ipynb" in out
    for (student, _a), text in batch["feedback"].items():
        if student in REFUSED_IN_ZIP or student in {
                _student(n) for n in USED if "refused" in ATTACKS[n].marks}:
            assert "This submission was not graded." in text


def test_no_course_file_secret_environment_or_key_in_any_feedback(batch):
    assert batch["leaks"] == {}


def test_nothing_left_in_keyrings(batch):
    if isinstance(batch["keys_left"], str):
        pytest.skip(batch["keys_left"])
    assert "found" not in batch["keys_left"]


def test_bounded_disk_and_memory(batch):
    assert batch["disk"] < 256 * 2**20
    own, largest_child = batch["rss"]
    assert own is not None
    # The coordinator's peak moves with timing, not with the submissions: 390-580 MiB
    # for the same batch and code, in runs side by side (threads' malloc arenas, how
    # many outcomes wait for the gradebook pass). A coordinator that read the zip bomb
    # into memory (up to 2 GiB unpacked, autograder/tools/archives.py) would pass it.
    assert own < 1024 * 2**20
    assert largest_child < 1536 * 2**20  # nbgrader's processes (and any sandbox's)


@pytest.mark.browser
def test_no_student_script_runs_in_any_assignments_feedback(batch, tmp_path):
    pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    if H.chromium() is None:
        pytest.skip("chromium not found (make browser-deps installs it)")
    from playwright.sync_api import sync_playwright

    student = _student("a40_html_in_feedback")
    with sync_playwright() as playwright:
        for a in ASSIGNMENTS:
            path = os.path.join(batch["course"], "feedback", student, a, a + ".html")
            title, pwned, dialogs = H.page_state(playwright, tmp_path / f"profile-{a}", path)
            assert title != "PWNED"
            assert pwned is None
            assert dialogs == []

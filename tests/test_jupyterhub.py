"""A real JupyterHub class, end to end: the deployment of ``deploy/jupyterhub``.

One hub (``deploy/jupyterhub/jupyterhub_config.py`` with a test password and ports),
configurable-http-proxy from npm, ``LocalProcessSpawner``, and the class of
``setup_class.py``: one instructor, the shared grader account and three students,
each a Unix user made by ``useradd``. Every step goes through the hub's REST API and
the users' own servers (kernels and the contents API, with each user's own token):

1. the instructor, in the grader account's server, generates and releases ps1;
2. each student fetches it, runs it (it shows their own numbers), answers (correct,
   one misconception, blank), validates and submits;
3. the instructor collects, grades with ``python -m autograder.tools grade`` and
   releases the feedback;
4. each student fetches and reads their own feedback, and cannot read another's.

Skips, saying why, when not root (it creates Unix users), without
configurable-http-proxy (``make hub-deps``) or without ``useradd``.
"""

from __future__ import annotations

import asyncio
import json
import os
import pwd
import secrets
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from cnnlab import shapes
from cnnlab.grading.variants import RECORD_MIME, variant_for

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy" / "jupyterhub"
ASSIGNMENT = "ps1_shapes_params"
NOTEBOOK = f"{ASSIGNMENT}/{ASSIGNMENT}.ipynb"

pytestmark = [pytest.mark.grading, pytest.mark.slow]

sys.path.insert(0, str(DEPLOY))
from cnnlab_class import settings as class_settings  # noqa: E402

# ----------------------------------------------------------------- the machine


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _others_can_reach(path: Path) -> bool:
    """Whether a user other than root can traverse to ``path`` (and run it, if a file)."""
    path = path.resolve()
    for folder in [*reversed(path.parents), path]:
        mode = folder.stat().st_mode
        if folder.is_dir() and not mode & stat.S_IXOTH:
            return False
    return bool(path.stat().st_mode & stat.S_IROTH)


CLASS_VENV = ROOT / ".venv-class"


def _class_venv_bin() -> Path:
    """``bin/`` of a Python environment every user may run.

    This environment's own when others can reach its interpreter. Otherwise (an
    interpreter under ``/root``, as pyenv installs it) ``.venv-class/``: cnnlab with its
    ``hub`` extra installed into Debian's ``/usr/bin/python3``, as a deployment does
    (docs/instructors.md), by ``scripts/ensure-class-venv.sh`` (``make hub-deps``).
    """
    here = Path(sys.executable)
    if _others_can_reach(here) and _others_can_reach(Path(sys.prefix)):
        return here.parent
    _step(f"{CLASS_VENV.name}/ (scripts/ensure-class-venv.sh; built once per pyproject.toml)")
    subprocess.run(["sh", str(ROOT / "scripts" / "ensure-class-venv.sh"), sys.executable],
                   check=True)
    if not (CLASS_VENV / ".cnnlab-installed").exists():
        pytest.skip(f"{here.resolve()} cannot be run by other users and "
                    f"{CLASS_VENV.name}/ could not be built (scripts/ensure-class-venv.sh)")
    return CLASS_VENV / "bin"


def _preconditions() -> None:
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        pytest.skip("needs root: the test creates Unix users and the hub starts their "
                    "servers as them")
    if shutil.which("configurable-http-proxy") is None:
        pytest.skip("configurable-http-proxy not found: run `make hub-deps` (npm)")
    for tool in ("useradd", "userdel"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} not found")
    pytest.importorskip("jupyterhub", reason="jupyterhub is not installed (pip install -e .[hub])")
    if not _others_can_reach(ROOT / "deploy" / "jupyterhub" / "cnnlab_class.py"):
        pytest.skip(f"the repository {ROOT} is not readable by other users, whose servers "
                    "run its code")


# ------------------------------------------------------------------- the hub


class Hub:
    """A running hub: REST calls, and code run in a user's own server."""

    def __init__(self, url: str, token: str) -> None:
        self.url = url
        self.token = token
        self._kernels: dict[tuple[str, str], str] = {}

    def request(self, method: str, path: str, body=None, token: str | None = None,
                raw: bool = False):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.url + path, data=data, method=method, headers={
            "Authorization": f"token {token or self.token}",
            "Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=120) as response:  # localhost only
            payload = response.read()
        if raw:
            return payload
        return json.loads(payload) if payload else None

    def status(self, path: str, token: str) -> int:
        try:
            self.request("GET", path, token=token, raw=True)
        except urllib.error.HTTPError as error:
            return error.code
        return 200

    def token_for(self, user: str, server_of: str) -> str:
        """A token of ``user`` that may use ``server_of``'s server (their role permitting)."""
        made = self.request("POST", f"/hub/api/users/{user}/tokens", {
            "note": "cnnlab test", "expires_in": 3600,
            "scopes": [f"access:servers!user={server_of}"]})
        return made["token"]

    def start(self, user: str, timeout: float = 150.0) -> None:
        try:
            self.request("POST", f"/hub/api/users/{user}/server")
        except urllib.error.HTTPError as error:
            if error.code != 400:  # 400: already running
                raise
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            model = self.request("GET", f"/hub/api/users/{user}")
            server = model.get("servers", {}).get("")
            if server and server.get("ready"):
                return
            time.sleep(0.5)
        raise TimeoutError(f"the server of {user} did not start within {timeout:.0f} s")

    def run(self, user: str, code: str, token: str, timeout: float = 300.0) -> str:
        """Run ``code`` in a kernel of ``user``'s server; its stdout, or an error raised."""
        key = (user, token)
        if key not in self._kernels:
            model = self.request("POST", f"/user/{user}/api/kernels", {"name": "python3"},
                                 token=token)
            self._kernels[key] = model["id"]
        return asyncio.run(self._execute(user, self._kernels[key], code, token, timeout))

    async def _execute(self, user: str, kernel: str, code: str, token: str,
                       timeout: float) -> str:
        from tornado.httpclient import HTTPRequest
        from tornado.websocket import websocket_connect

        url = self.url.replace("http://", "ws://") + f"/user/{user}/api/kernels/{kernel}/channels"
        conn = await websocket_connect(HTTPRequest(
            url, headers={"Authorization": f"token {token}"}, connect_timeout=60))
        msg_id = uuid.uuid4().hex
        conn.write_message(json.dumps({
            "header": {"msg_id": msg_id, "msg_type": "execute_request", "username": user,
                       "session": uuid.uuid4().hex, "version": "5.3"},
            "parent_header": {}, "metadata": {}, "channel": "shell", "buffers": [],
            "content": {"code": code, "silent": False, "store_history": False,
                        "user_expressions": {}, "allow_stdin": False,
                        "stop_on_error": True}}))
        out, error, idle, replied = [], None, False, False
        deadline = time.monotonic() + timeout
        try:
            while not (idle and replied):
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"code in {user}'s kernel ran over {timeout:.0f} s")
                raw = await asyncio.wait_for(conn.read_message(), left)
                if raw is None:
                    raise RuntimeError(f"{user}'s kernel connection closed")
                msg = json.loads(raw)
                if msg.get("parent_header", {}).get("msg_id") != msg_id:
                    continue
                kind, content = msg["header"]["msg_type"], msg["content"]
                if kind == "stream":
                    out.append(content["text"])
                elif kind == "error":
                    error = f"{content['ename']}: {content['evalue']}"
                elif kind == "status" and content["execution_state"] == "idle":
                    idle = True
                elif kind == "execute_reply":
                    replied = True
        finally:
            conn.close()
            while await conn.read_message() is not None:  # until the server has closed it
                pass
        if error:
            raise AssertionError(f"in {user}'s kernel: {error}\n{''.join(out)}")
        return "".join(out)


def _step(what: str) -> None:
    """Progress on stderr (shown with ``pytest -s``): where the minutes go."""
    print(f"[{time.strftime('%H:%M:%S')}] {what}", file=sys.stderr, flush=True)


def _shell(command: list[str], cwd: str = "~") -> str:
    """Kernel code that runs ``command`` in ``cwd`` and prints its output and exit code."""
    return (
        "import os, subprocess\n"
        f"_p = subprocess.run({command!r}, cwd=os.path.expanduser({cwd!r}), text=True,\n"
        "                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT)\n"
        "print(_p.stdout)\n"
        "print('EXIT', _p.returncode)\n"
    )


def _ok(output: str) -> str:
    assert output.rstrip().endswith("EXIT 0"), output[-3000:]
    return output


RUN_ALL = """
import os, nbformat
from nbclient import NotebookClient
path = os.path.expanduser({path!r})
nb = nbformat.read(path, as_version=4)
NotebookClient(nb, timeout=120, kernel_name="python3", allow_errors=True).execute(
    cwd=os.path.dirname(path))
nbformat.write(nb, path)
print("ran", len(nb.cells), "cells")
"""


@pytest.fixture(scope="module")
def hub_class():
    """The hub and its class: ``(hub, class settings, {role: user name(s)})``."""
    _preconditions()
    base = Path(tempfile.mkdtemp(prefix="cnnlab-hub-", dir="/tmp"))
    os.chmod(base, 0o755)
    prefix = "cnl" + secrets.token_hex(2)
    people = {"instructor": f"{prefix}-teacher", "grader": f"{prefix}-grader",
              "students": [f"{prefix}-s{i}" for i in (1, 2, 3)]}
    class_file = base / "class.csv"
    class_file.write_text("id,role\n" + f"{people['instructor']},instructor\n"
                          + f"{people['grader']},grader\n"
                          + "".join(f"{s},student\n" for s in people["students"]))
    os.chmod(class_file, 0o644)
    process = None
    log_path = base / "hub.log"
    try:
        _step("class environment")
        venv_bin = _class_venv_bin()
        _step("setup_class.py")
        env = dict(os.environ, CNNLAB_CLASS=str(class_file), CNNLAB_HOME_BASE=str(base / "home"),
                   CNNLAB_EXCHANGE=str(base / "exchange"), CNNLAB_VENV_BIN=str(venv_bin),
                   CNNLAB_COURSE_ID="cnnlab")
        env["PATH"] = str(venv_bin) + os.pathsep + env.get("PATH", "")
        setup = subprocess.run([str(venv_bin / "python"), str(DEPLOY / "setup_class.py")],
                               env=env, capture_output=True, text=True)
        assert setup.returncode == 0, setup.stderr
        state = base / "hub"
        state.mkdir(mode=0o700)
        port, token = _free_port(), secrets.token_hex(32)
        (state / "test_config.py").write_text(f"""
c = get_config()  # noqa: F821
load_subconfig({str(DEPLOY / 'jupyterhub_config.py')!r})  # noqa: F821
# The deployment's settings, with a PAM-free login and this test's ports and token.
c.JupyterHub.authenticator_class = "shared-password"
c.SharedPasswordAuthenticator.user_password = {secrets.token_hex(16)!r}
c.JupyterHub.bind_url = "http://127.0.0.1:{port}"
c.JupyterHub.hub_bind_url = "http://127.0.0.1:{_free_port()}"
c.ConfigurableHTTPProxy.api_url = "http://127.0.0.1:{_free_port()}"
c.JupyterHub.services = [{{"name": "cnnlab-test", "api_token": {token!r}}}]
c.JupyterHub.load_roles = list(c.JupyterHub.load_roles) + [{{
    "name": "cnnlab-test", "services": ["cnnlab-test"],
    "scopes": ["admin:users", "admin:servers", "tokens", "list:users", "read:users"]}}]
""")
        with log_path.open("w") as log:
            process = subprocess.Popen(
                [str(venv_bin / "jupyterhub"), "-f", str(state / "test_config.py")],
                cwd=state, env=env, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True)
        _step("hub starting")
        hub = Hub(f"http://127.0.0.1:{port}", token)
        deadline = time.monotonic() + 90
        while True:
            if process.poll() is not None:
                raise RuntimeError("the hub exited early:\n" + log_path.read_text()[-3000:])
            try:
                hub.request("GET", "/hub/api/users")
                break
            except (OSError, urllib.error.HTTPError):
                if time.monotonic() > deadline:
                    raise TimeoutError("the hub did not answer within 90 s") from None
                time.sleep(0.5)
        yield hub, class_settings(env), people
    finally:
        if process is not None and process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)  # the hub stops the servers it started
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)
        for user in [people["instructor"], people["grader"], *people["students"]]:
            _remove_user(user)
        shutil.rmtree(base, ignore_errors=True)


def _remove_user(user: str) -> None:
    try:
        uid = pwd.getpwnam(user).pw_uid
    except KeyError:
        return
    # Anything still running as this test user (a server the hub failed to stop), by pid.
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if entry.stat().st_uid == uid:
                    os.kill(int(entry.name), signal.SIGKILL)
            except (FileNotFoundError, ProcessLookupError, PermissionError):
                continue
    subprocess.run(["userdel", "--remove", user], capture_output=True, check=False)


# --------------------------------------------------------------- the semester


def _cells_by_id(nb: dict) -> dict[str, dict]:
    return {c["metadata"]["nbgrader"]["grade_id"]: c for c in nb["cells"]
            if "grade_id" in c.get("metadata", {}).get("nbgrader", {})}


def _shown(nb: dict) -> dict:
    """The record the notebook's variant cell left: whose numbers it showed."""
    for output in nb["cells"][0].get("outputs", []):
        if RECORD_MIME in output.get("data", {}):
            return output["data"][RECORD_MIME]
    raise AssertionError("the variant cell shows no numbers: " + json.dumps(nb["cells"][0]))


def _answers(kind: str, shown: dict) -> dict[str, str]:
    """What each student types: the master's solutions (all right), the same with the
    output size one short (a misconception), or nothing."""
    from autograder.tools import course as C

    if kind == "blank":
        return {}
    answers = C.master_answers(str(ROOT / "autograder" / "source" / ASSIGNMENT
                                   / f"{ASSIGNMENT}.ipynb"))
    numbers = shown["variant"]
    # 1a typed as a number, worked out from the numbers the notebook showed.
    typed = shapes.conv_output_size(numbers["n_fit"], numbers["k_fit"], numbers["s_fit"])
    answers["answer-stride_fits"] = f"ans_stride_fits = {typed}"
    if kind == "misconception":
        answers["answer-output_size"] = (
            "def output_size(n, k, s=1, p=0, d=1):\n"
            "    return (n + 2 * p - d * (k - 1)) // s\n")
    return answers


@pytest.fixture(scope="module")
def semester(hub_class):
    """The whole cycle, release to feedback; what each step showed, for the tests."""
    hub, cls, people = hub_class
    teacher, grader, students = people["instructor"], people["grader"], people["students"]
    kinds = dict(zip(students, ("correct", "misconception", "blank"), strict=True))
    seen: dict = {"whoami": {}, "shown": {}, "validate": {}, "feedback": {}, "paths": {}}

    _step("grader server")
    hub.start(grader)
    teach = hub.token_for(teacher, grader)  # the instructor, in the grader account's server
    course = str(cls.grader_course)
    seen["whoami"][grader] = hub.run(grader, "import getpass; print(getpass.getuser())", teach)
    seen["formgrader"] = hub.request("GET", f"/user/{grader}/formgrader/api/assignments",
                                     token=teach)
    _ok(hub.run(grader, _shell(["nbgrader", "generate_assignment", ASSIGNMENT, "--force"],
                               course), teach))
    seen["release"] = _ok(hub.run(grader, _shell(["nbgrader", "release_assignment",
                                                   ASSIGNMENT], course), teach))

    tokens = {student: hub.token_for(student, student) for student in students}

    def work(student: str) -> None:
        own = tokens[student]
        _step(f"{student}: server, fetch, run, answer, validate, submit")
        hub.start(student)
        seen["whoami"][student] = hub.run(
            student, "import getpass, os; print(getpass.getuser(), os.environ['JUPYTERHUB_USER'])",
            own)
        _ok(hub.run(student, _shell(["nbgrader", "fetch_assignment", ASSIGNMENT]), own))
        hub.run(student, RUN_ALL.format(path=f"~/{NOTEBOOK}"), own)  # Run All, save
        model = hub.request("GET", f"/user/{student}/api/contents/{NOTEBOOK}", token=own)
        nb = model["content"]
        seen["shown"][student] = _shown(nb)
        for grade_id, source in _answers(kinds[student], seen["shown"][student]).items():
            _cells_by_id(nb)[grade_id]["source"] = source
        hub.request("PUT", f"/user/{student}/api/contents/{NOTEBOOK}",
                    {"type": "notebook", "format": "json", "content": nb}, token=own)
        seen["validate"][student] = hub.run(student, _shell(["nbgrader", "validate",
                                                             NOTEBOOK]), own)
        _ok(hub.run(student, _shell(["nbgrader", "submit", ASSIGNMENT]), own))

    with ThreadPoolExecutor(len(students)) as pool:  # a class works at the same time
        list(pool.map(work, students))

    _step("collect, grade, release_feedback")
    _ok(hub.run(grader, _shell(["nbgrader", "collect", ASSIGNMENT], course), teach))
    seen["grade"] = hub.run(grader, _shell(
        [str(cls.venv_bin / "python"), "-m", "autograder.tools", "grade", ASSIGNMENT,
         "--course", course], str(ROOT)), teach)
    _ok(seen["grade"])
    _ok(hub.run(grader, _shell(["nbgrader", "release_feedback", ASSIGNMENT], course), teach))

    for student in students:
        own = tokens[student]
        _ok(hub.run(student, _shell(["nbgrader", "fetch_feedback", ASSIGNMENT]), own))
        listing = hub.run(student, (
            "import glob, os\n"
            f"print('\\n'.join(glob.glob(os.path.expanduser('~/{ASSIGNMENT}/feedback/*/*.html'))))"
        ), own).splitlines()
        assert len(listing) == 1, listing
        seen["paths"][student] = listing[0]
        seen["feedback"][student] = hub.run(
            student, f"print(open({listing[0]!r}, encoding='utf-8').read())", own)
    _step("done")
    seen["tokens"] = tokens
    return seen


def _text(page: str) -> str:
    import html
    import re

    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", "", page)))


def test_each_user_runs_as_their_own_unix_user(hub_class, semester):
    _, _, people = hub_class
    assert semester["whoami"][people["grader"]].strip() == people["grader"]
    for student in people["students"]:
        assert semester["whoami"][student].split() == [student, student]


def test_the_formgrader_of_the_grader_account_lists_the_course(semester):
    names = sorted(a["name"] for a in semester["formgrader"])
    assert names == sorted(p.name for p in (ROOT / "autograder" / "source").iterdir())


def test_each_student_saw_their_own_numbers(hub_class, semester):
    _, _, people = hub_class
    shown = semester["shown"]
    for student in people["students"]:
        assert shown[student] == {"assignment": ASSIGNMENT, "student": student,
                                  "variant": variant_for(ASSIGNMENT, student)}
    assert len({json.dumps(s["variant"], sort_keys=True) for s in shown.values()}) == 3


def test_validate_uses_the_same_numbers_as_the_grader(hub_class, semester):
    _, _, people = hub_class
    correct, wrong, _ = people["students"]
    assert "Success! Your notebook passes all the tests." in semester["validate"][correct]
    # The misconception fails the output-size check in the student's own kernel too.
    assert "VALIDATION FAILED" in semester["validate"][wrong]
    assert 'check("ps1_shapes_params-output_size", output_size' in semester["validate"][wrong]


def _autograded_points() -> float:
    """The points of the master's test cells (written answers are marked by hand)."""
    import nbformat

    nb = nbformat.read(ROOT / "autograder" / "source" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb",
                       as_version=4)
    return float(sum(c.metadata["nbgrader"]["points"] for c in nb.cells
                     if c.cell_type == "code" and c.metadata.get("nbgrader", {}).get("grade")
                     and not c.metadata["nbgrader"].get("solution")))


def test_grade_scores_each_student_on_their_own_numbers(hub_class, semester):
    _, _, people = hub_class
    correct, wrong, blank = people["students"]
    rows = {line.split()[0]: line.split()[1] for line in semester["grade"].splitlines()
            if line.split() and line.split()[0] in people["students"]}
    got = {s: [float(x) for x in rows[s].rstrip("!").split("/")] for s in people["students"]}
    assert got[correct] == [_autograded_points(), got[correct][1]]  # all right; written
    assert 0 < got[wrong][0] < got[correct][0]                     # answers wait for a TA
    assert got[blank][0] == 0.0
    assert "FLAGGED" not in semester["grade"]


def test_each_student_reads_their_own_feedback(hub_class, semester):
    _, _, people = hub_class
    correct, wrong, _ = people["students"]
    for student in people["students"]:
        text = _text(semester["feedback"][student])
        assert f"Graded with the numbers of student {student}, the numbers this notebook " \
               "showed" in text
    assert "Likely mistake: the count is one short" in _text(semester["feedback"][wrong])
    assert "FLAGGED" not in _text(semester["feedback"][correct])


def test_no_student_reads_another_students_work(hub_class, semester):
    hub, cls, people = hub_class
    correct, wrong, _ = people["students"]
    probe = (
        "import os\n"
        "for path in ({other!r}, {exchange!r}, {home!r}):\n"
        "    try:\n"
        "        open(path).read() if path.endswith('.html') else os.listdir(path)\n"
        "        print('READ', path)\n"
        "    except PermissionError:\n"
        "        print('DENIED', path)\n"
    ).format(other=semester["paths"][correct],
             exchange=str(cls.exchange / cls.course_id / "feedback"),
             home=str(cls.home(correct)))
    out = hub.run(wrong, probe, semester["tokens"][wrong])
    assert out.splitlines() == [f"DENIED {semester['paths'][correct]}",
                                f"DENIED {cls.exchange / cls.course_id / 'feedback'}",
                                f"DENIED {cls.home(correct)}"]
    # Nor through the hub: a student's token opens only their own server.
    assert hub.status(f"/user/{correct}/api/contents", semester["tokens"][wrong]) in (403, 404)
    assert hub.status(f"/user/{correct}/formgrader/api/assignments",
                      semester["tokens"][correct]) == 404  # no Formgrader for students

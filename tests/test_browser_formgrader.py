"""The Formgrader of ``make lab-instructor`` lists the course's four assignments.

Starts JupyterLab as the Makefile's instructor target does (working directory: the
course root with its ``nbgrader_config.py``; served directory: the repository above it)
on a copy of the course, opens nbgrader's Formgrader in headless Chromium and reads its
"Manage Assignments" table. Helpers come from ``tests/test_browser.py``.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.test_browser import CHROMIUM_ARGS, ROOT, _chromium, _free_port, _wait_for_server

ASSIGNMENTS = sorted(p.name for p in (ROOT / "autograder" / "source").iterdir() if p.is_dir())

pytestmark = pytest.mark.browser


def _lab_command(port: int, token: str, root_dir: Path) -> list[str]:
    command = [
        sys.executable, "-m", "jupyterlab",
        "--no-browser",
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={root_dir}",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
    ]
    if os.geteuid() == 0:  # as `make lab-instructor` does as root
        command.append("--allow-root")
    return command


def test_formgrader_lists_the_four_assignments(tmp_path):
    pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    from playwright.sync_api import expect, sync_playwright

    if _chromium() is None:
        pytest.skip("chromium not found: install Debian's chromium (make browser-deps)")
    assert len(ASSIGNMENTS) == 4
    repo = tmp_path / "repo"
    course = repo / "autograder"
    shutil.copytree(ROOT / "autograder" / "source", course / "source")
    shutil.copy(ROOT / "autograder" / "nbgrader_config.py", course / "nbgrader_config.py")
    env = dict(os.environ)
    # nbgrader creates the gradebook by running `alembic` from PATH: the venv goes first,
    # as the Makefile puts it.
    env["PATH"] = os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", "")
    for name in ("runtime", "config", "data"):
        (tmp_path / name).mkdir()
    env.update(JUPYTER_RUNTIME_DIR=str(tmp_path / "runtime"),
               JUPYTER_CONFIG_DIR=str(tmp_path / "config"),
               JUPYTER_DATA_DIR=str(tmp_path / "data"), IPYTHONDIR=str(tmp_path / "ipython"))
    port, token = _free_port(), secrets.token_hex(16)
    log_path = tmp_path / "lab.log"
    with log_path.open("w") as log:
        process = subprocess.Popen(
            _lab_command(port, token, repo), env=env, cwd=course, stdout=log,
            stderr=subprocess.STDOUT, start_new_session=True)
        try:
            base = f"http://127.0.0.1:{port}"
            _wait_for_server(f"{base}/api/status?token={token}", process, log_path)
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=_chromium(),
                                                     headless=True, args=CHROMIUM_ARGS)
                try:
                    page = browser.new_page()
                    page.set_default_timeout(60_000)
                    page.goto(f"{base}/formgrader?token={token}")
                    page.wait_for_url("**/formgrader/manage_assignments**")
                    table = page.locator("table").first
                    for assignment in ASSIGNMENTS:
                        expect(table).to_contain_text(assignment, timeout=60_000)
                    names = table.locator("tbody tr td:first-child").all_inner_texts()
                    assert sorted(n.strip() for n in names) == ASSIGNMENTS
                    assert "No data available" not in table.inner_text()
                finally:
                    browser.close()
        finally:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
                try:
                    process.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)
                    process.wait(timeout=10)
    assert (course / "gradebook.db").exists()  # the Formgrader used the course's config

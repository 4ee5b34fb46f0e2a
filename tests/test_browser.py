"""The convolution explorer in a real browser: JupyterLab + headless Chromium.

Starts JupyterLab on a free localhost port with a known token and throw-away
runtime/config/data directories, opens a copy of the convolution notebook in headless
Chromium (Debian's ``chromium``, driven by Playwright; no browser is downloaded), runs
all cells, moves the stride slider from 1 to 3 and checks that the displayed output
size and the drawn grid change. Screenshots go to ``tests/artifacts/`` (git-ignored).

Skipped, with the reason, when Playwright or Chromium is missing (``make browser-deps``
installs Chromium on Debian as root).
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = "01_convolution_and_output_sizes.ipynb"
ARTIFACTS = ROOT / "tests" / "artifacts"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

pytestmark = pytest.mark.browser


def _chromium() -> str | None:
    if os.access("/usr/bin/chromium", os.X_OK):
        return "/usr/bin/chromium"
    return shutil.which("chromium") or shutil.which("chromium-browser")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_for_server(
    url: str, process: subprocess.Popen, log: Path, timeout: float = 90.0
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            tail = "\n".join(log.read_text(errors="replace").splitlines()[-15:])
            raise RuntimeError(
                f"JupyterLab exited early with code {process.returncode}:\n{tail}"
            )
        try:
            with urllib.request.urlopen(url, timeout=2) as response:  # localhost only
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise TimeoutError(f"JupyterLab did not answer at {url} within {timeout:.0f} s")


def _settled(element, timeout: float = 30.0) -> bytes:
    """A screenshot of ``element`` once two in a row, half a second apart, agree."""
    deadline = time.monotonic() + timeout
    previous = element.screenshot()
    while time.monotonic() < deadline:
        time.sleep(0.5)
        current = element.screenshot()
        if current == previous:
            return current
        previous = current
    return previous


def _start_kernel(page, timeout: float = 90.0) -> None:
    """Wait until the notebook's kernel is idle, accepting "Select Kernel" if Lab asks."""
    deadline = time.monotonic() + timeout
    status = page.locator(".jp-StatusBar-TextItem", has_text="Python 3")
    while time.monotonic() < deadline:
        dialog = page.locator(".jp-Dialog .jp-mod-accept")
        if dialog.count():
            dialog.first.click()  # "Select": the preselected Python 3 kernel
        if status.count() and "Idle" in status.first.inner_text():
            return
        time.sleep(0.5)
    raise TimeoutError("the notebook's kernel did not start")


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """A JupyterLab server on localhost serving a copy of the notebooks: (base url, token)."""
    pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    if _chromium() is None:
        pytest.skip("chromium not found: install Debian's chromium (make browser-deps)")
    home = tmp_path_factory.mktemp("lab")
    root = home / "notebooks"
    root.mkdir()
    shutil.copy(ROOT / "notebooks" / NOTEBOOK, root / NOTEBOOK)
    env = dict(os.environ)
    for name in ("runtime", "config", "data"):
        (home / name).mkdir()
    env.update(
        JUPYTER_RUNTIME_DIR=str(home / "runtime"),
        JUPYTER_CONFIG_DIR=str(home / "config"),
        JUPYTER_DATA_DIR=str(home / "data"),
        JUPYTERLAB_SETTINGS_DIR=str(home / "config" / "lab-settings"),
        JUPYTERLAB_WORKSPACES_DIR=str(home / "config" / "lab-workspaces"),
        IPYTHONDIR=str(home / "ipython"),
        MPLBACKEND="Agg",
    )
    port, token = _free_port(), secrets.token_hex(16)
    command = [
        sys.executable, "-m", "jupyterlab",
        "--no-browser",
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={root}",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
    ]
    if hasattr(os, "geteuid") and os.geteuid() == 0:  # CI runs as root, in a container
        command.append("--allow-root")
    log_path = home / "lab.log"
    log = log_path.open("w")
    process = subprocess.Popen(
        command, env=env, cwd=root, stdout=log, stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        _wait_for_server(f"{base}/api/status?token={token}", process, log_path)
        yield base, token
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)
        log.close()


def test_stride_slider_changes_output_size_and_grid(lab, tmp_path):
    from playwright.sync_api import expect, sync_playwright

    base, token = lab
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"),
            executable_path=_chromium(),
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 1400, "height": 1000},
        )
        page = context.new_page()
        try:
            page.set_default_timeout(60_000)
            page.goto(f"{base}/lab/tree/{NOTEBOOK}?token={token}")
            page.locator(".jp-NotebookPanel").first.wait_for()
            _start_kernel(page)
            news = page.get_by_role("button", name="No")  # "get notified about news?"
            if news.count():
                news.first.click()
            page.locator(".lm-MenuBar-item", has_text="Run").first.click()
            page.locator(
                "li.lm-Menu-item[data-command='runmenu:run-all'], "
                "li.lm-Menu-item[data-command='notebook:run-all-cells']"
            ).first.click()

            explorer = page.locator(".cnnlab-conv-explorer").first
            explorer.wait_for(timeout=90_000)
            explorer.scroll_into_view_if_needed()
            headline = explorer.locator(".cnnlab-conv-headline")
            expect(headline).to_contain_text("Output 5 x 5", timeout=30_000)
            grid = explorer.locator("img.cnnlab-conv-grid")
            expect(grid).to_be_visible()
            before = _settled(grid)
            page.screenshot(path=str(ARTIFACTS / "browser_before.png"))

            # Stride 1 -> 3 with the keyboard on the slider handle, as a student could.
            handle = explorer.locator(".cnnlab-conv-stride .noUi-handle")
            handle.focus()
            handle.press("ArrowRight")
            handle.press("ArrowRight")
            readout = explorer.locator(".cnnlab-conv-stride .widget-readout")
            expect(readout).to_have_text("3")

            expect(headline).to_contain_text("Output 2 x 2", timeout=30_000)
            expect(headline).to_contain_text("doesn't fit")
            expect(explorer.locator(".cnnlab-conv-formula")).to_contain_text(
                "1 pixel is left over"
            )
            after = _settled(grid)
            assert after != before, "the drawn grid did not change with the stride"
            explorer.screenshot(path=str(ARTIFACTS / "browser_conv_explorer.png"))
            page.screenshot(path=str(ARTIFACTS / "browser_after.png"))
        except Exception:
            page.screenshot(path=str(ARTIFACTS / "browser_failure.png"))
            dialogs = page.locator(".jp-Dialog").all_inner_texts()
            if dialogs:
                print("JupyterLab dialogs:", dialogs)
            raise
        finally:
            context.close()

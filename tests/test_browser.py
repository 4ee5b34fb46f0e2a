"""Every notebook in a real browser: JupyterLab + headless Chromium.

One JupyterLab server for the module (a free localhost port, a known token,
throw-away runtime/config/data directories) serves a copy of the notebooks; one
headless Chromium (Debian's ``chromium``, driven by Playwright; no browser is
downloaded) opens each notebook in turn, runs all its cells, and checks that no cell
failed or wrote to stderr. Where a notebook has a widget, the test moves its controls
the way a student would (keyboard on slider handles, clicks on buttons, choices in
menus, text typed into boxes) and checks that the widget then shows exactly what its
state object says: its text, and the very PNG that cnnlab's drawing function makes of
that state, fetched from the page. Each notebook's kernel is shut down before the next
one starts.

Screenshots go to ``tests/artifacts/`` (git-ignored). With ``CNNLAB_UPDATE_DOCS_IMG=1``
the widget and figure screenshots also replace the pictures in ``docs/img/``.

Skipped, with the reason, when Playwright or Chromium is missing (``make browser-deps``
installs Chromium on Debian as root).
"""

from __future__ import annotations

import base64
import json
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
NOTEBOOKS = ROOT / "notebooks"
ARTIFACTS = ROOT / "tests" / "artifacts"
DOCS_IMG = ROOT / "docs" / "img"
UPDATE_DOCS = os.environ.get("CNNLAB_UPDATE_DOCS_IMG") == "1"
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
#: JupyterLab settings for the test: every cell in the DOM (no virtual scrolling, so
#: outputs far down the page can be found), no news or update checks.
LAB_SETTINGS = {
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
        "fetchNews": "false",
        "checkForUpdates": False,
    },
}
#: The network builder's starting layers in notebook 3 (the CS109B example).
CS109B_LAYERS = [
    ("Conv2d", {"out_channels": 8, "kernel": 3, "stride": 1, "padding": "same"}),
    ("ReLU", {}),
    ("Conv2d", {"out_channels": 16, "kernel": 5, "stride": 2, "padding": "same"}),
    ("ReLU", {}),
    ("Flatten", {}),
    ("Dense", {"out_features": 512}),
    ("ReLU", {}),
    ("Dense", {"out_features": 4}),
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


def _png(image) -> bytes:
    """The bytes of the PNG an ``<img>`` shows (ipywidgets serve it as a blob URL)."""
    encoded = image.evaluate(
        """async (element) => {
            const data = new Uint8Array(await (await fetch(element.src)).arrayBuffer());
            let text = "";
            for (let i = 0; i < data.length; i += 0x8000) {
                text += String.fromCharCode(...data.subarray(i, i + 0x8000));
            }
            return btoa(text);
        }"""
    )
    return base64.b64decode(encoded)


def _shows(image, expected: bytes, what: str, timeout: float = 30.0) -> None:
    """Wait until ``image`` shows exactly ``expected`` (the PNG of the state)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if _png(image) == expected:
            return
        time.sleep(0.3)
    raise AssertionError(f"the drawn {what} is not the picture of the widget's state")


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


def _api(base: str, token: str, path: str, method: str = "GET") -> object:
    request = urllib.request.Request(
        f"{base}{path}", method=method, headers={"Authorization": f"token {token}"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:  # localhost only
        body = response.read()
    return json.loads(body) if body else None


def _save(picture: bytes | None, element, name: str, *, docs: bool = True) -> None:
    """Screenshot ``element`` into tests/artifacts (and docs/img when asked)."""
    ARTIFACTS.mkdir(exist_ok=True)
    shot = picture if picture is not None else element.screenshot()
    (ARTIFACTS / name).write_bytes(shot)
    if UPDATE_DOCS and docs:
        (DOCS_IMG / name).write_bytes(shot)


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """A JupyterLab server on localhost serving a copy of the notebooks: (base url, token)."""
    pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    if _chromium() is None:
        pytest.skip("chromium not found: install Debian's chromium (make browser-deps)")
    home = tmp_path_factory.mktemp("lab")
    root = home / "notebooks"
    root.mkdir()
    for notebook in NOTEBOOKS.glob("*.ipynb"):
        shutil.copy(notebook, root / notebook.name)
    env = dict(os.environ)
    for name in ("runtime", "config", "data"):
        (home / name).mkdir()
    settings = home / "config" / "lab-settings"
    for relative, values in LAB_SETTINGS.items():
        (settings / relative).parent.mkdir(parents=True, exist_ok=True)
        (settings / relative).write_text(json.dumps(values))
    env.update(
        JUPYTER_RUNTIME_DIR=str(home / "runtime"),
        JUPYTER_CONFIG_DIR=str(home / "config"),
        JUPYTER_DATA_DIR=str(home / "data"),
        JUPYTERLAB_SETTINGS_DIR=str(settings),
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


@pytest.fixture(scope="module")
def browser(lab, tmp_path_factory: pytest.TempPathFactory):
    """One headless Chromium for the module."""
    from playwright.sync_api import sync_playwright

    profile = tmp_path_factory.mktemp("chromium-profile")
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(profile),
            executable_path=_chromium(),
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 1400, "height": 1000},
        )
        try:
            yield context
        finally:
            context.close()


@pytest.fixture
def notebook(lab, browser, request):
    """Open a notebook, run all its cells, check every output; yield the page.

    The test names the notebook with ``@pytest.mark.parametrize("notebook", [name],
    indirect=True)``. Afterwards the kernel is shut down, so that only one runs at a time.
    """
    from playwright.sync_api import expect

    base, token = lab
    name = request.param
    page = browser.new_page()
    page.set_default_timeout(60_000)
    try:
        workspace = name.split("_")[0]
        page.goto(f"{base}/lab/workspaces/nb{workspace}/tree/{name}?reset&token={token}")
        page.locator(".jp-NotebookPanel").first.wait_for()
        _start_kernel(page)
        page.locator(".lm-MenuBar-item", has_text="Run").first.click()
        page.locator(
            "li.lm-Menu-item[data-command='runmenu:run-all'], "
            "li.lm-Menu-item[data-command='notebook:run-all-cells']"
        ).first.click()
        # Every notebook ends with its exercise checks: their verdicts mean all ran.
        last = page.locator(".jp-Notebook .jp-CodeCell").last
        expect(last.locator(".jp-OutputArea-output").first).to_contain_text(
            "no answer yet", timeout=180_000
        )
        errors = page.locator(
            ".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']"
        )
        assert errors.count() == 0, f"{name}: a cell failed or wrote to stderr:\n" + (
            errors.first.inner_text()[:2000] if errors.count() else ""
        )
        yield page
    except Exception:
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"browser_failure_{name}.png"), full_page=True)
        raise
    finally:
        page.close()
        for session in _api(base, token, "/api/sessions"):
            _api(base, token, f"/api/sessions/{session['id']}", method="DELETE")


def _press(handle, key: str, times: int) -> None:
    handle.focus()
    for _ in range(times):
        handle.press(key)


@pytest.mark.parametrize("notebook", ["01_convolution_and_output_sizes.ipynb"], indirect=True)
def test_conv_explorer_follows_its_sliders(notebook):
    from playwright.sync_api import expect

    from cnnlab.plotting import draw_conv_explorer, figure_to_png
    from cnnlab.widgets import conv_explorer_state

    explorer = notebook.locator(".cnnlab-conv-explorer").first
    explorer.scroll_into_view_if_needed()
    headline = explorer.locator(".cnnlab-conv-headline")
    grid = explorer.locator("img.cnnlab-conv-grid")

    def check(state) -> None:
        expect(headline).to_have_text(state.headline, timeout=30_000)
        expect(explorer.locator(".cnnlab-conv-pads")).to_have_text(state.padding_text)
        _shows(grid, figure_to_png(draw_conv_explorer(state), dpi=80), "convolution grid")

    check(conv_explorer_state(7, 3, stride=1))
    # Stride 1 -> 3 with the keyboard on the slider handle: CS231n's "doesn't fit".
    _press(explorer.locator(".cnnlab-conv-stride .noUi-handle"), "ArrowRight", 2)
    expect(explorer.locator(".cnnlab-conv-stride .widget-readout")).to_have_text("3")
    check(conv_explorer_state(7, 3, stride=3))
    expect(explorer.locator(".cnnlab-conv-formula")).to_contain_text("1 pixel is left over")
    _save(None, explorer, "01_conv_explorer.png")

    # 'same' with an even kernel: the padding differs between the sides and says so.
    explorer.locator(".cnnlab-conv-mode button", has_text="same").click()
    _press(explorer.locator(".cnnlab-conv-kernel .noUi-handle"), "ArrowRight", 1)
    same = conv_explorer_state(7, 4, stride=3, padding="same")
    assert same.pads == ((1, 2), (1, 2))
    check(same)
    expect(explorer.locator(".cnnlab-conv-padding")).to_be_hidden()

    # Back to a number of pixels per side, then every other slider in turn.
    explorer.locator(".cnnlab-conv-mode button", has_text="number").click()
    check(conv_explorer_state(7, 4, stride=3))
    _press(explorer.locator(".cnnlab-conv-padding .noUi-handle"), "ArrowRight", 1)
    check(conv_explorer_state(7, 4, stride=3, padding=1))
    _press(explorer.locator(".cnnlab-conv-position .noUi-handle"), "ArrowRight", 1)
    check(conv_explorer_state(7, 4, stride=3, padding=1, position=1))
    _press(explorer.locator(".cnnlab-conv-dilation .noUi-handle"), "ArrowRight", 1)
    dilated = conv_explorer_state(7, 4, stride=3, padding=1, dilation=2, position=1)
    assert dilated.position == 0  # one window left: the position slider follows
    check(dilated)
    _press(explorer.locator(".cnnlab-conv-n .noUi-handle"), "ArrowRight", 2)
    check(conv_explorer_state(9, 4, stride=3, padding=1, dilation=2))


@pytest.mark.parametrize("notebook", ["02_max_pooling_forward_backward.ipynb"], indirect=True)
def test_pool_stepper_steps_through_forward_and_backward(notebook):
    from playwright.sync_api import expect

    from cnnlab.plotting import draw_pool_step, figure_to_png
    from cnnlab.widgets import PoolStepper

    stepper = PoolStepper()
    widget = notebook.locator(".cnnlab-pool-stepper").first
    widget.scroll_into_view_if_needed()
    message = widget.locator(".cnnlab-pool-message")
    grid = widget.locator("img.cnnlab-pool-grid")
    next_button = widget.locator(".cnnlab-pool-next")
    readout = widget.locator(".cnnlab-pool-step .widget-readout")
    shown = 0
    for step in (1, stepper.n_windows + 3):  # a forward step; the 8's second gradient
        while shown < step:
            next_button.click()
            shown += 1
            expect(readout).to_have_text(str(shown), timeout=30_000)
        state = stepper.state(step)
        expect(message).to_contain_text(state.message, timeout=30_000)
        _shows(grid, figure_to_png(draw_pool_step(state, title=False), dpi=80), "pool step")
    assert "3 + 1 = 4" in state.message
    _save(None, widget, "02_pool_stepper.png")
    widget.locator(".cnnlab-pool-back").click()
    expect(readout).to_have_text(str(step - 1), timeout=30_000)
    expect(message).to_contain_text(stepper.state(step - 1).message)
    _shows(grid, figure_to_png(draw_pool_step(stepper.state(step - 1), title=False), dpi=80),
           "pool step")
    widget.locator(".cnnlab-pool-reset").click()
    expect(readout).to_have_text("0", timeout=30_000)
    _shows(grid, figure_to_png(draw_pool_step(stepper.state(0), title=False), dpi=80),
           "pool step")


@pytest.mark.parametrize("notebook", ["03_parameters_and_case_studies.ipynb"], indirect=True)
def test_network_builder_inserts_a_layer_and_redraws(notebook):
    from playwright.sync_api import expect

    from cnnlab.plotting import figure_to_png, plot_summary_bars
    from cnnlab.widgets import NetworkBuilder
    from cnnlab.widgets.builder_state import KINDS, LayerChoice

    builder = NetworkBuilder((3, 32, 32), [LayerChoice(k, dict(o)) for k, o in CS109B_LAYERS])
    notebook.set_viewport_size({"width": 1400, "height": 2000})  # the whole widget in view
    widget = notebook.locator(".cnnlab-network-builder").first
    widget.scroll_into_view_if_needed()
    bars = widget.locator("img.cnnlab-builder-bars")
    layers = widget.locator(".cnnlab-builder-layers select")
    _shows(bars, figure_to_png(plot_summary_bars(builder.status().summary), dpi=80), "bars")
    expect(layers.locator("option")).to_have_count(8)

    # Insert a 2x2 max pool before the second convolution (layer 3).
    widget.locator(".cnnlab-builder-kind select").select_option("MaxPool2d")
    widget.locator(".cnnlab-builder-where select").select_option(label=(
        f"before 3. {builder.layers[2].label}"))
    widget.locator(".cnnlab-builder-add").click()
    builder.add("MaxPool2d", 2, **KINDS["MaxPool2d"])
    status = builder.status()
    expect(layers.locator("option")).to_have_count(9, timeout=30_000)
    inserted = layers.locator("option").nth(2).inner_text().replace("\xa0", " ")
    assert inserted == f"3. {builder.layers[2].label}" == "3. MaxPool2d(kernel=2, stride=2)"
    assert int(layers.get_attribute("size")) >= 9, "every layer of the list is in view"
    expect(widget.locator(".cnnlab-builder-message")).to_contain_text(
        f"9 layers, output shape {status.summary.output_shape}")
    _shows(bars, figure_to_png(plot_summary_bars(status.summary), dpi=80), "bars")
    expect(widget.locator(".cnnlab-builder-table")).to_contain_text(
        f"{status.summary.total_params:,}")
    _save(None, widget, "03_network_builder.png")

    def check(count: int) -> None:
        expect(layers.locator("option")).to_have_count(count, timeout=30_000)
        _shows(bars, figure_to_png(plot_summary_bars(builder.status().summary), dpi=80),
               "bars")

    widget.locator("button", has_text="remove last").click()
    builder.remove(-1)
    check(8)
    layers.select_option(index=2)  # the max pool just inserted
    widget.locator("button", has_text="remove selected").click()
    builder.remove(2)
    check(7)
    shape = widget.locator("input[type='text']").first
    shape.fill("1x28x28")
    shape.press("Enter")
    builder.input_shape = (1, 28, 28)
    check(7)
    expect(widget.locator(".cnnlab-builder-table")).to_contain_text("1x28x28")


@pytest.mark.parametrize("notebook", ["04_receptive_fields_and_dilation.ipynb"], indirect=True)
def test_receptive_explorer_marks_what_the_state_says(notebook):
    from playwright.sync_api import expect

    from cnnlab.plotting import draw_receptive_field, figure_to_png
    from cnnlab.widgets import receptive_explorer_state

    widget = notebook.locator(".cnnlab-receptive-explorer").first
    widget.scroll_into_view_if_needed()
    headline = widget.locator(".cnnlab-rf-headline")
    grid = widget.locator("img.cnnlab-rf-grid")

    def check(state) -> None:
        expect(headline).to_have_text(state.headline, timeout=30_000)
        _shows(grid, figure_to_png(draw_receptive_field(state), dpi=80), "receptive field")

    lecture = ["k3s2p1", "k3s2p1"]
    check(receptive_explorer_state(lecture, 5, (0, 0)))
    _press(widget.locator(".cnnlab-rf-row .noUi-handle"), "ArrowRight", 1)
    _press(widget.locator(".cnnlab-rf-col .noUi-handle"), "ArrowRight", 1)
    state = receptive_explorer_state(lecture, 5, (1, 1))
    check(state)
    assert "16 input pixels influence it, and its taps read 9 padding positions" in state.headline
    _save(None, widget, "04_receptive_explorer.png")

    # A dilated layer typed into the box: its taps are drawn two cells apart.
    stack = widget.locator(".cnnlab-rf-stack input")
    stack.fill("k3s1p2d2")
    stack.press("Enter")
    dilated = receptive_explorer_state(["k3s1p2d2"], 5, (1, 1))
    assert {r for r, _ in dilated.maps[0].cells} == {1, 3}
    check(dilated)
    # And one added from the menu.
    widget.locator(".cnnlab-rf-preset select").select_option("k3s1p1")
    widget.locator(".cnnlab-rf-add").click()
    check(receptive_explorer_state(["k3s1p2d2", "k3s1p1"], 5, (1, 1)))
    widget.locator(".cnnlab-rf-remove").click()
    check(receptive_explorer_state(["k3s1p2d2"], 5, (1, 1)))
    _press(widget.locator(".cnnlab-rf-size .noUi-handle"), "ArrowRight", 1)
    check(receptive_explorer_state(["k3s1p2d2"], 6, (1, 1)))


#: Notebooks without a widget: the code of the cell whose figure is checked, and the
#: picture it becomes (a docs/img name, or None: tests/artifacts only).
FIGURES = {
    "05_training_a_small_cnn.ipynb": ("history.plot();", "05_training_curves.png"),
    "06_saliency_maps.ipynb": ("show_saliency_pairs(", "06_saliency_misclassified.png"),
    "07_transfer_learning.ipynb": ("comparison.plot()", "07_scratch_vs_transfer.png"),
    "08_a_short_history.ipynb": ("plot_model_table(", "08_zoo_by_year.png"),
    "09_residual_networks.ipynb": ("fig, axes = plt.subplots(1, 2", None),
}
#: Notebooks whose widgets the tests above drive.
WIDGET_NOTEBOOKS = {
    "01_convolution_and_output_sizes.ipynb",
    "02_max_pooling_forward_backward.ipynb",
    "03_parameters_and_case_studies.ipynb",
    "04_receptive_fields_and_dilation.ipynb",
}


def test_every_notebook_is_driven_in_the_browser():
    assert sorted(WIDGET_NOTEBOOKS | set(FIGURES)) == sorted(
        path.name for path in NOTEBOOKS.glob("*.ipynb")
    )


@pytest.mark.parametrize("notebook", sorted(FIGURES), indirect=True)
def test_notebook_runs_and_shows_its_figure(notebook, request):
    name = request.node.callspec.params["notebook"]
    code, picture = FIGURES[name]
    cell = notebook.locator(".jp-CodeCell", has_text=code).first
    figure = cell.locator(".jp-OutputArea-output img").first
    figure.wait_for(timeout=30_000)
    data = _png(figure)
    assert data.startswith(b"\x89PNG"), f"{name}: the figure after {code!r} is not drawn"
    shot = picture or f"browser_{name.removesuffix('.ipynb')}.png"
    _save(data, figure, shot, docs=picture is not None)

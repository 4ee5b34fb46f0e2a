"""The course notebooks: clean when committed, complete, and runnable headless in budget.

``test_notebook_runs`` executes each notebook top to bottom with nbclient, offline, and
fails if a cell raises, writes to stderr (a warning is a bug here, and nbgrader scores
a cell that writes to stderr 0), or the notebook takes longer than its budget. The
budgets are stated in ``notebooks/README.md``; each one is also the nbclient per-cell
timeout, so a hanging widget cannot block the suite.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"

#: Seconds per notebook, top to bottom, on 2 shared cores (see notebooks/README.md).
BUDGETS = {
    "01_convolution_and_output_sizes.ipynb": 60,
    "02_max_pooling_forward_backward.ipynb": 60,
    "03_parameters_and_case_studies.ipynb": 60,
    "04_receptive_fields_and_dilation.ipynb": 60,
    "05_training_a_small_cnn.ipynb": 60,
    "06_saliency_maps.ipynb": 60,
    "07_transfer_learning.ipynb": 90,
    "08_a_short_history.ipynb": 60,
    "09_residual_networks.ipynb": 60,
}

#: Worked examples of the lecture notes (shared/seeds) and where they must appear.
SEED_EXAMPLES = {
    "01_convolution_and_output_sizes.ipynb": [
        "7x7", "stride 3", "'same'", "28x28", "17", "47", "285x350", "760", "grace_hopper",
        "28x28x5", "six 5x5x3 filters", "ten 5x5x6 filters", "max(w . x + b, 0)",
        "max(-w . x - b, 0)", "distance_1 - distance_2", "400x600x1", "400x600x2",
    ],
    "02_max_pooling_forward_backward.ipynb": [
        "MAXPOOL_INPUT", "MAXPOOL_DOUT", "+1", "+3", "+4", "2x2 windows at stride 2", "Ties",
        "(-x + 3)^2", "2x - 6", "numerical_gradient(lambda v: f_forward(v)[0]",
    ],
    "03_parameters_and_case_studies.ipynb": [
        "ONE_FILTER_PARAMS", "SIXTEEN_FILTERS_PARAMS", "CS109B_CONV1_PARAMS",
        "CS109B_CONV2_PARAMS", "CS109B_DENSE_PARAMS", "CS231N_TEN_FILTERS_PARAMS",
        "lenet5", "ALEXNET_CONV1_OUTPUT", "ALEXNET_POOL1_OUTPUT", "35K", "zfnet",
        "VGG16_ACTIVATIONS", "24M * 4 bytes", "bottleneck_comparison", "11.174e6",
        "21.282e6", "23.521e6", "MOBILENET_SLIDE_STANDARD_MACS", "MOBILENET_SEPARABLE_MACS",
        "densenet_channels", "NetworkBuilderWidget", "alexnet_grouped", "groups=2",
        "resnet(depth, cifar=True)", "42.513e6", "58.157e6", "batch size 128",
        "momentum=0.9", "weight_decay=5e-4", "lr=1e-2", "paper_trainable",
    ],
    "04_receptive_fields_and_dilation.ipynb": [
        "kernel 3, stride 1", "k3s2p1", "5x5 input", "dilation", "ReceptiveExplorer",
        "plot_receptive_growth",
    ],
    "05_training_a_small_cnn.ipynb": [
        "load_digits", "progress=True", "history.plot", "show_filters", "show_feature_maps",
        "batch_size=128", "weight_decay=5e-4", "alexnet_sgd.lr /= 10",
    ],
    "06_saliency_maps.ipynb": [
        "saliency_map", 'reduce="mean"', 'reduce="max"', "reduce=None", "misclassified",
    ],
    "07_transfer_learning.ipynb": [
        "134,268,737", "134_268_737 - without_head", "transfer_model", "unfreeze",
        "discriminative_lr", "scratch_vs_transfer", "np.log(5)",
    ],
    "08_a_short_history.ipynb": [
        "Neocognitron", "1980", "1989", "LeNet-5", "AlexNet", "ZFNet", "VGG", "Inception",
        "ResNet", "MobileNet", "DenseNet", "plot_model_table",
    ],
    "09_residual_networks.ipynb": [
        "Plain network structure", "Residual network block", "34-layer plain",
        "34-layer residual", "resnet18",
    ],
}


def _load(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def _source(cell: dict) -> str:
    source = cell["source"]
    return source if isinstance(source, str) else "".join(source)


def test_every_notebook_has_a_budget():
    found = sorted(p.name for p in NOTEBOOKS.glob("*.ipynb"))
    assert found == sorted(BUDGETS)
    assert sorted(SEED_EXAMPLES) == sorted(BUDGETS)
    readme = (NOTEBOOKS / "README.md").read_text(encoding="utf-8")
    for name, seconds in BUDGETS.items():
        assert re.search(rf"{re.escape(name)}.*\|\s*{seconds} s\s*\|", readme), name


@pytest.mark.parametrize("name", sorted(BUDGETS))
def test_committed_notebook_is_clean_and_complete(name):
    path = NOTEBOOKS / name
    assert path.stat().st_size < 100_000, "keep committed notebooks small"
    notebook = _load(path)
    cells = notebook["cells"]
    for cell in cells:
        if cell["cell_type"] == "code":
            assert cell["outputs"] == [], f"{name}: clear the outputs before committing"
            assert cell["execution_count"] is None
            assert "@interact" not in _source(cell), "@interact can hang headless runs"
    first = _source(cells[0])
    assert first.startswith("# ")
    assert "Learning goals" in first
    assert "## Exercises" in "".join(_source(c) for c in cells[-4:])
    assert "check_answer(" in _source(cells[-1])
    text = "\n".join(_source(c) for c in cells)
    missing = [example for example in SEED_EXAMPLES[name] if example not in text]
    assert not missing, f"{name} lost worked examples: {missing}"


@pytest.mark.notebooks
@pytest.mark.parametrize("name", sorted(BUDGETS))
def test_notebook_runs(name, tmp_path):
    import nbformat
    from nbclient import NotebookClient

    budget = BUDGETS[name]
    notebook = nbformat.read(NOTEBOOKS / name, as_version=4)
    client = NotebookClient(
        notebook,
        timeout=budget,
        kernel_name="python3",
        resources={"metadata": {"path": str(tmp_path)}},
    )
    start = time.perf_counter()
    client.execute()
    seconds = time.perf_counter() - start
    assert seconds < budget, f"{name} took {seconds:.0f} s, over its {budget} s budget"
    for index, cell in enumerate(notebook.cells):
        for output in cell.get("outputs", []):
            assert output["output_type"] != "error", f"{name} cell {index}"
            if output["output_type"] == "stream":
                assert output["name"] == "stdout", (
                    f"{name} cell {index} wrote to stderr: {output['text'][:300]}"
                )
    verdicts = [
        o["data"]["text/html"]
        for o in notebook.cells[-1].get("outputs", [])
        if "text/html" in o.get("data", {})
    ]
    assert verdicts, "the exercise checks show their verdicts"
    assert all("no answer yet" in v for v in verdicts)

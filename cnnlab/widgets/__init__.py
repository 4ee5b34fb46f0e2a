"""Interactive widgets for the notebooks, with their logic testable without a browser.

Each widget has two halves:

- a *state* module (``conv_state``, ``pool_state``, ``builder_state``,
  ``receptive_state``, ``answers``) that computes what a slider change produces, by
  asking the library (:mod:`cnnlab.shapes`, :mod:`cnnlab.layers`,
  :mod:`cnnlab.models`, :mod:`cnnlab.receptive`). Pure Python, unit-tested;
- a *wiring* module (``conv_explorer``, ``pool_stepper``, ``network_builder``,
  ``receptive_explorer``) that connects ipywidgets to that state and hands it to
  :mod:`cnnlab.plotting` to draw. It computes nothing of its own.

Widgets are built from explicit controls and observers, never ``@interact`` (which can
hang headless execution): a notebook cell that shows one renders its initial state and
returns at once.

Names are imported lazily, so ``import cnnlab.widgets`` does not import ipywidgets or
matplotlib until a widget is used.
"""

from __future__ import annotations

from cnnlab._lazy import lazy_exports

_EXPORTS = {
    "ConvExplorerState": "conv_state",
    "conv_explorer_state": "conv_state",
    "PoolStepState": "pool_state",
    "PoolStepper": "pool_state",
    "NetworkBuilder": "builder_state",
    "LayerChoice": "builder_state",
    "ReceptiveState": "receptive_state",
    "FeatureMapView": "receptive_state",
    "receptive_explorer_state": "receptive_state",
    "Answer": "answers",
    "check_answer": "answers",
    "ConvExplorer": "conv_explorer",
    "PoolStepperWidget": "pool_stepper",
    "NetworkBuilderWidget": "network_builder",
    "ReceptiveExplorer": "receptive_explorer",
}

__all__, __getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

"""The max-pool stepper widget: buttons and a step slider wired to :class:`PoolStepper`."""

from __future__ import annotations

import html

import ipywidgets as W
import numpy as np

from cnnlab.plotting import draw_pool_step
from cnnlab.widgets._common import FigureImage, slider
from cnnlab.widgets.pool_state import PoolStepper, PoolStepState

__all__ = ["PoolStepperWidget"]


class PoolStepperWidget(W.VBox):
    """Step through max pooling forward, then backward, one window per click.

    Parameters
    ----------
    x, dout : array_like, optional
        Defaults to the CS109B example (:data:`cnnlab.examples.MAXPOOL_INPUT` and
        :data:`cnnlab.examples.MAXPOOL_DOUT`).
    kernel : int, default 3
    stride : int, default 1
    step : int, default 0
        Initial step.

    Attributes
    ----------
    stepper : PoolStepper
        The logic; ``stepper.state(k)`` is what step ``k`` shows.
    state : PoolStepState
        What is shown now.

    Examples
    --------
    >>> widget = PoolStepperWidget()
    >>> widget.next.click(); widget.next.click()
    >>> widget.state.message
    'window (0, 1): max is 8 at x[0, 2] -> out[0, 1] = 8'
    """

    def __init__(
        self,
        x: np.ndarray | None = None,
        dout: np.ndarray | None = None,
        *,
        kernel: int = 3,
        stride: int = 1,
        step: int = 0,
    ) -> None:
        self.stepper = PoolStepper(x, dout, kernel=kernel, stride=stride)
        self.step = slider("step", step, 0, self.stepper.n_steps).add_class("cnnlab-pool-step")
        self.back = W.Button(description="< back", layout=W.Layout(width="90px"))
        self.next = W.Button(description="next >", layout=W.Layout(width="90px"))
        self.reset = W.Button(description="reset", layout=W.Layout(width="90px"))
        for button, name in ((self.back, "back"), (self.next, "next"), (self.reset, "reset")):
            button.add_class(f"cnnlab-pool-{name}")
        self.message = W.HTML().add_class("cnnlab-pool-message")
        self.image = FigureImage(css_class="cnnlab-pool-grid")
        self.back.on_click(lambda _button: self._move(-1))
        self.next.on_click(lambda _button: self._move(+1))
        self.reset.on_click(lambda _button: self._goto(0))
        self.state: PoolStepState = self.stepper.state(step)
        super().__init__(
            [W.HBox([self.back, self.next, self.reset, self.step]), self.message, self.image]
        )
        self.add_class("cnnlab-pool-stepper")
        self._refresh()
        self.step.observe(lambda _change: self._refresh(), names="value")

    def _move(self, delta: int) -> None:
        self._goto(self.step.value + delta)

    def _goto(self, step: int) -> None:
        self.step.value = min(max(step, 0), self.stepper.n_steps)

    def _refresh(self) -> None:
        self.state = self.stepper.state(self.step.value)
        phase = {"start": "start", "forward": "forward", "backward": "backward"}[
            self.state.phase
        ]
        self.message.value = f"<b>{phase}</b>: {html.escape(self.state.message, quote=False)}"
        self.image.show(draw_pool_step(self.state, title=False))

"""The max-pool stepper: the seeds' 5x5 example replayed one window at a time.

Pure logic, no ipywidgets. Forward and backward values come from
:func:`cnnlab.layers.max_pool2d_forward` and :func:`cnnlab.layers.max_pool2d_backward`
(the gradient after ``k`` backward steps is the backward pass of ``dout`` with all
but its first ``k`` entries zeroed), so the stepper shows exactly what the library
computes, ``+=`` on overlapping windows included.

Steps run ``0 .. 2*W`` for ``W`` windows: step 0 is the start, steps ``1 .. W`` fill
the output one window at a time (row-major), steps ``W + 1 .. 2*W`` route one
upstream gradient each.

Examples
--------
>>> stepper = PoolStepper()                   # CS109B: 3x3 window, stride 1
>>> stepper.n_steps
18
>>> [stepper.state(s).message for s in (10, 11, 12)]   # the slides' +1, +3, +4
['dout[0, 0] = 1 goes to x[1, 0] (the 9): 0 + 1 = 1', 'dout[0, 1] = 3 goes to x[0, 2] (the 8): 0 + 3 = 3', 'dout[0, 2] = 1 goes to x[0, 2] (the 8): 3 + 1 = 4']
"""  # noqa: E501

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cnnlab import examples
from cnnlab.layers import max_pool2d_backward, max_pool2d_forward

__all__ = ["PoolStepState", "PoolStepper"]

Cell = tuple[int, int]


@dataclass(frozen=True)
class PoolStepState:
    """What the stepper shows after one step.

    Attributes
    ----------
    step : int
    phase : {'start', 'forward', 'backward'}
    x : ndarray, shape (H, W)
        The input (never changes).
    out : ndarray, shape (H_out, W_out)
        Output values computed so far; NaN where a window has not been visited yet.
    dout : ndarray, shape (H_out, W_out)
        Upstream gradients.
    dx : ndarray, shape (H, W)
        Input gradient accumulated so far (zeros before the backward phase).
    out_cell : (i, j) or None
        Output cell of the current window.
    out_filled : tuple of (i, j)
        Output cells finished at earlier steps: computed (forward phase) or whose
        gradient has been routed (backward phase).
    window : ((r0, r1), (c0, c1)) or None
        Current window, half-open input rows and columns.
    argmax : (row, col) or None
        Winner of the current window (first maximum in row-major order on ties).
    routed_to : (row, col) or None
        Backward phase: the input cell that just received a gradient.
    before, added, after : float or None
        Backward phase: ``dx[routed_to]`` before this step, the gradient added, and the
        sum.
    message : str
        One sentence describing the step.
    """

    step: int
    phase: str
    x: np.ndarray
    out: np.ndarray
    dout: np.ndarray
    dx: np.ndarray
    out_cell: Cell | None
    out_filled: tuple[Cell, ...]
    window: tuple[tuple[int, int], tuple[int, int]] | None
    argmax: Cell | None
    routed_to: Cell | None
    before: float | None
    added: float | None
    after: float | None
    message: str


class PoolStepper:
    """Replay max pooling window by window, forward and then backward.

    Parameters
    ----------
    x : array_like, shape (H, W), optional
        One activation map; defaults to :data:`cnnlab.examples.MAXPOOL_INPUT`.
    dout : array_like, shape (H_out, W_out), optional
        Upstream gradients; defaults to :data:`cnnlab.examples.MAXPOOL_DOUT`.
    kernel : int, default 3
    stride : int, default 1

    Attributes
    ----------
    out : ndarray, shape (H_out, W_out)
        The full forward output.
    dx : ndarray, shape (H, W)
        The full input gradient.
    n_windows, n_steps : int
    """

    def __init__(
        self,
        x: np.ndarray | None = None,
        dout: np.ndarray | None = None,
        *,
        kernel: int = examples.MAXPOOL_KERNEL,
        stride: int = examples.MAXPOOL_STRIDE,
    ) -> None:
        self.x = np.array(examples.MAXPOOL_INPUT if x is None else x, dtype=np.float64)
        if self.x.ndim != 2:
            raise ValueError(
                f"PoolStepper steps through one activation map of shape (H, W), got "
                f"shape {self.x.shape}: pick one image and channel, e.g. x[0, 0]."
            )
        self.kernel = int(kernel)
        self.stride = int(stride)
        out, self._cache = max_pool2d_forward(
            self.x[None, None], kernel=self.kernel, stride=self.stride
        )
        self.out = out[0, 0]
        default = examples.MAXPOOL_DOUT if x is None and dout is None else np.ones_like(self.out)
        self.dout = np.array(default if dout is None else dout, dtype=np.float64)
        if self.dout.shape != self.out.shape:
            raise ValueError(
                f"dout must have the output's shape {self.out.shape}, got {self.dout.shape}: "
                "there is one upstream gradient per pooling window."
            )
        self.dx = self._dx_after(self.out.size)
        self.n_windows = self.out.size
        self.n_steps = 2 * self.n_windows

    # --- what the library says --------------------------------------------------------

    def _dx_after(self, count: int) -> np.ndarray:
        """Input gradient once the first ``count`` upstream gradients are routed."""
        partial = np.zeros_like(self.dout)
        partial.flat[:count] = self.dout.flat[:count]
        return max_pool2d_backward(partial[None, None], self._cache)[0, 0]

    def winner(self, index: int) -> Cell:
        """Input cell that wins window ``index`` (row-major), from the forward cache."""
        rows, cols = self._cache.winners()
        return (int(rows[0, 0].flat[index]), int(cols[0, 0].flat[index]))

    def window(self, index: int) -> tuple[tuple[int, int], tuple[int, int]]:
        """Half-open input rows and columns of window ``index``."""
        i, j = divmod(index, self.out.shape[1])
        r0, c0 = i * self.stride, j * self.stride
        return ((r0, r0 + self.kernel), (c0, c0 + self.kernel))

    # --- one step ---------------------------------------------------------------------

    def state(self, step: int) -> PoolStepState:
        """The state after ``step`` steps (clipped to ``0 .. n_steps``)."""
        step = min(max(int(step), 0), self.n_steps)
        width = self.out.shape[1]
        cells = [divmod(k, width) for k in range(self.n_windows)]
        if step == 0:
            out = np.full_like(self.out, np.nan)
            return PoolStepState(
                step=0,
                phase="start",
                x=self.x,
                out=out,
                dout=self.dout,
                dx=np.zeros_like(self.x),
                out_cell=None,
                out_filled=(),
                window=None,
                argmax=None,
                routed_to=None,
                before=None,
                added=None,
                after=None,
                message=(
                    f"{self.kernel}x{self.kernel} max pooling, stride {self.stride}: "
                    f"{self.n_windows} windows. Step forward to fill the output."
                ),
            )
        if step <= self.n_windows:
            index = step - 1
            out = np.full_like(self.out, np.nan)
            out.flat[:step] = self.out.flat[:step]
            winner = self.winner(index)
            i, j = cells[index]
            return PoolStepState(
                step=step,
                phase="forward",
                x=self.x,
                out=out,
                dout=self.dout,
                dx=np.zeros_like(self.x),
                out_cell=(i, j),
                out_filled=tuple((r, c) for r, c in cells[:index]),
                window=self.window(index),
                argmax=winner,
                routed_to=None,
                before=None,
                added=None,
                after=None,
                message=(
                    f"window ({i}, {j}): max is {self.out[i, j]:g} at x[{winner[0]}, "
                    f"{winner[1]}] -> out[{i}, {j}] = {self.out[i, j]:g}"
                ),
            )
        index = step - self.n_windows - 1
        i, j = cells[index]
        winner = self.winner(index)
        before = float(self._dx_after(index)[winner])
        dx = self._dx_after(index + 1)
        after = float(dx[winner])
        added = float(self.dout[i, j])
        return PoolStepState(
            step=step,
            phase="backward",
            x=self.x,
            out=self.out.copy(),
            dout=self.dout,
            dx=dx,
            out_cell=(i, j),
            out_filled=tuple((r, c) for r, c in cells[:index]),
            window=self.window(index),
            argmax=winner,
            routed_to=winner,
            before=before,
            added=added,
            after=after,
            message=(
                f"dout[{i}, {j}] = {added:g} goes to x[{winner[0]}, {winner[1]}] "
                f"(the {self.x[winner]:g}): {before:g} + {added:g} = {after:g}"
            ),
        )

"""What the convolution explorer shows for one setting of its sliders.

Pure logic: no ipywidgets, no matplotlib. Every size and the formula text come from
:mod:`cnnlab.shapes`; this module only adds where the window is at a given step and
which cells it touches, so that the drawing (:func:`cnnlab.plotting.draw_conv_explorer`)
and the wiring (:class:`cnnlab.widgets.ConvExplorer`) compute nothing themselves.

Coordinates are those of the *padded* input: the real input occupies rows
``top .. top + n - 1`` and columns ``left .. left + n - 1``.

Examples
--------
>>> state = conv_explorer_state(7, 3, stride=3)   # CS231n: "doesn't fit"
>>> state.output, state.fits, state.leftover
((2, 2), False, (1, 1))
>>> state.headline
"Output 2 x 2 - stride 3 doesn't fit: 1 pixel left over per axis"
"""

from __future__ import annotations

from dataclasses import dataclass

from cnnlab import shapes

__all__ = ["ConvExplorerState", "conv_explorer_state"]

Cell = tuple[int, int]


@dataclass(frozen=True)
class ConvExplorerState:
    """Everything the explorer draws for one slider setting (square input and kernel).

    Attributes
    ----------
    n, kernel, stride, dilation : int
        The slider values.
    padding : int or str
        The padding as given (an int per side, ``'valid'`` or ``'same'``).
    pads : ((top, bottom), (left, right))
        Padding per side, from :func:`cnnlab.shapes.resolve_padding`.
    padded : (H_pad, W_pad)
        Size of the zero-padded input grid.
    span : int
        Input pixels covered by one dilated window, ``d*(k - 1) + 1``.
    output : (H_out, W_out) or None
        Output size, ``None`` when the kernel is larger than the padded input.
    fits : bool
        True when windows tile the padded input exactly (:func:`cnnlab.shapes.fits`).
    leftover : (int, int)
        Rows and columns of the padded grid that no window reaches (0 when the stride
        fits).
    leftover_input : (int, int)
        How many of those are input pixels rather than padding. With padding at the
        end, the leftover can be padding only.
    unread_input : (int, int)
        Input pixels per axis that no window reads at all: the leftover ones, and
        those that fall between the taps of every window (a dilation that shares a
        factor with the stride, or a stride larger than the window, steps over them).
    formula : str
        The formula with the numbers filled in, or why the kernel does not fit.
    position : int
        Index of the highlighted window, row-major, clipped to the valid range.
    out_cell : (i, j) or None
        Output cell that the highlighted window produces.
    window : tuple of (row, col)
        Padded-grid cells multiplied by the kernel at this position (its taps).
    uncovered : tuple of (row, col)
        Padded-grid cells that no tap of any window reads: the "doesn't fit" rows and
        columns at the end, and those the taps step over.
    """

    n: int
    kernel: int
    stride: int
    padding: int | str
    dilation: int
    pads: tuple[tuple[int, int], tuple[int, int]]
    padded: tuple[int, int]
    span: int
    output: tuple[int, int] | None
    fits: bool
    leftover: tuple[int, int]
    leftover_input: tuple[int, int]
    unread_input: tuple[int, int]
    formula: str
    position: int
    out_cell: Cell | None
    window: tuple[Cell, ...]
    uncovered: tuple[Cell, ...]

    @property
    def n_positions(self) -> int:
        """Number of window positions (output cells); 0 when the kernel does not fit."""
        return 0 if self.output is None else self.output[0] * self.output[1]

    @property
    def uncovered_text(self) -> str:
        """What the red cells are, for the drawing's caption ("" when there are none)."""
        if not self.uncovered:
            return ""
        reach = self.padded[0] - self.leftover[0]
        gaps = any(row < reach and col < reach for row, col in self.uncovered)
        why = [text for text, present in (("left over: the stride doesn't fit",
                                           self.leftover[0] > 0),
                                          ("between the taps", gaps)) if present]
        return f"red: pixels no window reads ({'; '.join(why)})"

    def is_padding(self, cell: Cell) -> bool:
        """True if a padded-grid cell is a zero of the padding, not an input pixel."""
        (top, _), (left, _) = self.pads
        row, col = cell
        return not (top <= row < top + self.n and left <= col < left + self.n)

    @property
    def headline(self) -> str:
        """One line for the widget: the output size and whether the setting fits."""
        if self.output is None:
            return (
                f"Kernel doesn't fit: it spans {self.span} pixels but the padded input "
                f"has {self.padded[0]}"
            )
        size = f"Output {self.output[0]} x {self.output[1]}"
        between = self.unread_input[0] - self.leftover_input[0]
        skipped = ""
        if between:
            one = between == 1
            skipped = (
                f"; {between} input {'pixel' if one else 'pixels'} per axis "
                f"{'falls' if one else 'fall'} between the taps of every window and "
                f"{'is' if one else 'are'} never read"
            )
        if self.fits:
            return f"{size} - fits exactly{skipped}"
        left = self.leftover[0]
        pixels = "pixel" if left == 1 else "pixels"
        if self.leftover_input[0] == 0:
            used = skipped or ": every input pixel is used"
            return (
                f"{size} - stride {self.stride} doesn't fit, but the {left} {pixels} left "
                f"over per axis {'is' if left == 1 else 'are'} padding{used}"
            )
        if self.leftover_input[0] < left:
            return (
                f"{size} - stride {self.stride} doesn't fit: {left} {pixels} left over per "
                f"axis, {self.leftover_input[0]} of them input{skipped}"
            )
        return (
            f"{size} - stride {self.stride} doesn't fit: {left} {pixels} left over per "
            f"axis{skipped}"
        )

    @property
    def padding_text(self) -> str:
        """The padding actually used, per side (``'same'`` can differ between sides)."""
        (top, bottom), (left, right) = self.pads
        if top == bottom == left == right:
            return f"Padding used: {top} on every side"
        return (
            f"Padding used: {top} top, {bottom} bottom, {left} left, {right} right "
            "(an odd total puts the extra pixel at the end)"
        )


def conv_explorer_state(
    n: int,
    kernel: int,
    stride: int = 1,
    padding: int | str = 0,
    dilation: int = 1,
    position: int = 0,
) -> ConvExplorerState:
    """State of the convolution explorer for a square ``n x n`` input.

    Parameters
    ----------
    n : int
        Input height and width.
    kernel : int
        Kernel height and width.
    stride : int, default 1
    padding : int, 'valid' or 'same', default 0
        Zero pixels per side, or a named padding (see :mod:`cnnlab.shapes`).
    dilation : int, default 1
        Step between kernel taps (1 is an ordinary convolution).
    position : int, default 0
        Which window to highlight, counted row by row over the output; clipped to
        ``0 .. H_out*W_out - 1``.

    Returns
    -------
    ConvExplorerState

    Raises
    ------
    ValueError, TypeError
        For arguments :func:`cnnlab.shapes.conv_output_size` refuses (stride 0,
        negative padding, ...). A kernel larger than the padded input is *not* an
        error here: the state says so, since a slider can reach that setting.

    Examples
    --------
    >>> s = conv_explorer_state(5, 3, stride=2, padding=1, position=4)   # centre window
    >>> s.output, s.out_cell, s.window[0], s.window[-1]
    ((3, 3), (1, 1), (2, 2), (4, 4))
    >>> conv_explorer_state(5, 3, dilation=2).window   # taps two pixels apart
    ((0, 0), (0, 2), (0, 4), (2, 0), (2, 2), (2, 4), (4, 0), (4, 2), (4, 4))
    """
    pads = shapes.resolve_padding(n, kernel, stride, padding, dilation)
    (top, bottom), (left, right) = pads
    padded = (n + top + bottom, n + left + right)
    span = dilation * (kernel - 1) + 1
    fits = shapes.fits(n, kernel, stride, padding, dilation)
    try:
        size = shapes.conv_output_size(n, kernel, stride, padding, dilation)
    except ValueError as error:  # the kernel is larger than the padded input
        return ConvExplorerState(
            n=n,
            kernel=kernel,
            stride=stride,
            padding=padding,
            dilation=dilation,
            pads=pads,
            padded=padded,
            span=span,
            output=None,
            fits=False,
            leftover=(0, 0),
            leftover_input=(0, 0),
            unread_input=(0, 0),
            formula=str(error),
            position=0,
            out_cell=None,
            window=(),
            uncovered=(),
        )
    output = (size, size)
    spare = shapes.leftover_pixels(n, kernel, stride, padding, dilation)
    leftover = (spare, spare)
    position = min(max(int(position), 0), output[0] * output[1] - 1)
    i, j = divmod(position, output[1])
    row0, col0 = i * stride, j * stride
    window = tuple(
        (row0 + a * dilation, col0 + b * dilation) for a in range(kernel) for b in range(kernel)
    )
    # The last window ends at (H_out - 1)*s + span; rows/columns past it are never seen.
    reach = ((output[0] - 1) * stride + span, (output[1] - 1) * stride + span)
    # Input pixels are rows top .. top + n - 1; those at or past ``reach`` are never read.
    leftover_input = (max(top + n - max(reach[0], top), 0), max(left + n - max(reach[1], left), 0))
    # Rows (and, the same, columns) that some tap of some window reads.
    read = {i * stride + a * dilation for i in range(output[0]) for a in range(kernel)}
    unread = shapes.unread_pixels(n, kernel, stride, padding, dilation)
    unread_input = (unread, unread)
    uncovered = tuple(
        (r, c)
        for r in range(padded[0])
        for c in range(padded[1])
        if r not in read or c not in read
    )
    return ConvExplorerState(
        n=n,
        kernel=kernel,
        stride=stride,
        padding=padding,
        dilation=dilation,
        pads=pads,
        padded=padded,
        span=span,
        output=output,
        fits=fits,
        leftover=leftover,
        leftover_input=leftover_input,
        unread_input=unread_input,
        formula=shapes.explain_conv_output_size(n, kernel, stride, padding, dilation),
        position=position,
        out_cell=(i, j),
        window=window,
        uncovered=uncovered,
    )

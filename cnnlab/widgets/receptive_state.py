"""The receptive-field explorer: which cells of every map one output unit depends on.

Pure logic, no ipywidgets. Sizes, jumps and regions come from :mod:`cnnlab.receptive`
(:func:`~cnnlab.receptive.receptive_fields` and :func:`~cnnlab.receptive.input_region`
applied to the tail of the stack that starts at each map). What the region alone does
not say, this module finds by back-tracking from the chosen unit through every layer:
exactly which cells the taps read (a dilated kernel skips the cells between its taps),
which padding positions they read, and by how many paths each cell reaches the unit.
:func:`taps_1d` draws the same back-tracking along one axis (the slides' 1-D pictures).

Layers are written as in :mod:`cnnlab.receptive`: strings such as ``"k3s1"``,
``"k3s2p1"`` or ``"k3s1d2"``, or :class:`~cnnlab.receptive.Window` records.

Examples
--------
>>> s = receptive_explorer_state(["k3s2p1", "k3s2p1"], input_size=5, unit=(0, 0))
>>> [m.size for m in s.maps]                   # CS109B: 5x5 -> 3x3 -> 2x2
[(5, 5), (3, 3), (2, 2)]
>>> s.field.size, s.maps[0].region, len(s.maps[0].cells), s.maps[0].outside
((7, 7), ((-3, 4), (-3, 4)), 16, 9)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from cnnlab.receptive import (
    ReceptiveField,
    Window,
    input_region,
    parse_window,
    receptive_fields,
)
from cnnlab.shapes import resolve_padding

__all__ = [
    "FeatureMapView",
    "ReceptiveState",
    "axes_text",
    "receptive_explorer_state",
    "taps_1d",
]

Cell = tuple[int, int]
Pair = tuple[int, int]
Region = tuple[tuple[int, int], tuple[int, int]]


@dataclass(frozen=True)
class FeatureMapView:
    """One feature map of the stack, with what the chosen unit reads of it marked.

    Coordinates are those of the map: padding positions lie below 0 or past the last
    row and column.

    Attributes
    ----------
    name : str
        ``"input"`` or the layer that produces the map.
    size : (H, W)
    pads : ((top, bottom), (left, right))
        The zero padding the next layer puts around this map (none for the output).
    region : ((r0, r1), (c0, c1))
        The receptive field's extent on this map, half-open and unclipped (Araujo et
        al.): ``r0 <= row < r1``. It may reach into the padding.
    cells : tuple of (row, col)
        The cells of the map that influence the unit: every position a tap of a
        dilated kernel really reads, back-tracked layer by layer (a dilated kernel
        skips the positions between its taps).
    paths : dict of (row, col) -> int
        For each of ``cells``, the number of paths through the layers from that cell to
        the unit (its gradient when every weight is 1).
    padding_cells : tuple of (row, col)
        Padding positions some tap reads: zeros, which pass nothing on.
    is_output : bool
        True for the last map, where ``cells`` is the chosen unit itself.
    """

    name: str
    size: tuple[int, int]
    pads: tuple[tuple[int, int], tuple[int, int]]
    region: Region
    cells: tuple[Cell, ...]
    paths: dict[Cell, int]
    padding_cells: tuple[Cell, ...]
    is_output: bool = False

    @property
    def outside(self) -> int:
        """How many padding positions the unit's taps read on this map."""
        return len(self.padding_cells)


@dataclass(frozen=True)
class ReceptiveState:
    """What the explorer shows for one stack, input size and output unit.

    Attributes
    ----------
    layers : tuple of str or Window
    input_size : int
    unit : (i, j)
        The output unit, clipped to the last map.
    records : tuple of ReceptiveField
        One per layer, from :func:`cnnlab.receptive.receptive_fields`.
    maps : tuple of FeatureMapView
        The input, then the output of each layer.
    error : str or None
        Why the stack does not work on this input (then only the input is shown).
    """

    layers: tuple[str | Window, ...]
    input_size: int
    unit: Cell
    records: tuple[ReceptiveField, ...]
    maps: tuple[FeatureMapView, ...]
    error: str | None = None

    @property
    def field(self) -> ReceptiveField | None:
        """The last layer's record (receptive-field size, jump, effective padding)."""
        return self.records[-1] if self.records else None

    @property
    def headline(self) -> str:
        """One line for the widget."""
        if self.error is not None:
            return self.error
        if self.field is None:
            return "No layers yet: every unit sees one pixel."
        rf = self.field
        source = self.maps[0]
        (r0, r1), (c0, c1) = source.region
        inside = (min(r1, source.size[0]) - max(r0, 0)) * (min(c1, source.size[1]) - max(c0, 0))
        text = (
            f"Unit {self.unit} of the {self.maps[-1].size[0]}x{self.maps[-1].size[1]} output: "
            f"receptive field {rf.size[0]}x{rf.size[1]} (jump {axes_text(rf.jump)}, "
            f"effective padding {axes_text(rf.padding)}); {len(source.cells)} input pixels "
            "influence it"
        )
        if len(source.cells) < max(inside, 0):
            # Dilation, or a stride larger than a kernel, leaves gaps between the taps.
            text += f" (of the {inside} inside its field: the others lie between taps)"
        if source.outside:
            text += f", and its taps read {source.outside} padding positions"
        return text


def _influence_1d(
    windows: Sequence[Window], sizes: Sequence[Pair], unit: int, axis: int
) -> list[tuple[dict[int, int], set[int], tuple[int, int]]]:
    """Per map, from the output down: ``(paths, padding read, pads)`` along one axis.

    ``paths`` maps each position of the map that reaches ``unit`` to its number of
    paths; ``padding read`` are the padding positions that a tap reads.
    """
    levels: list[tuple[dict[int, int], set[int], tuple[int, int]]] = [({unit: 1}, set(), (0, 0))]
    current = {unit: 1}
    for index in range(len(windows) - 1, -1, -1):
        window = windows[index]
        kernel = _along(window.kernel, axis)
        stride = _along(window.stride, axis)
        dilation = _along(window.dilation, axis)
        pads = resolve_padding(
            sizes[index], window.kernel, window.stride, window.padding, window.dilation
        )[axis]
        n = sizes[index][axis]
        paths: dict[int, int] = {}
        padding: set[int] = set()
        for parent, count in current.items():
            for tap in range(kernel):
                position = parent * stride - pads[0] + tap * dilation
                if 0 <= position < n:
                    paths[position] = paths.get(position, 0) + count
                elif -pads[0] <= position < n + pads[1]:
                    padding.add(position)
                # else: past the padded input, where a pool with ceil_mode has no cells
        levels.append((paths, padding, pads))
        current = paths
    return levels[::-1]


def receptive_explorer_state(
    layers: Sequence[str | Window], input_size: int = 9, unit: Cell = (0, 0)
) -> ReceptiveState:
    """Receptive-field state of a stack of sliding-window layers on a square input.

    Parameters
    ----------
    layers : sequence of str or Window
        For example ``["k3s1p1", "k3s2p1", "k3s1p2d2"]``.
    input_size : int
        Input height and width.
    unit : (i, j)
        Output unit of the last layer; clipped to the output.

    Returns
    -------
    ReceptiveState

    Notes
    -----
    The marked cells are found by back-tracking from the unit: a layer's output
    position ``x`` reads positions ``x*s - p_before + t*d`` for taps ``t = 0 .. k-1``;
    those inside the map go on to the layer below, those in the padding stop there.
    Rows and columns are independent, so each map's cells are the product of a set of
    rows and a set of columns, and a cell's path count is the product of its row's and
    its column's.

    Examples
    --------
    >>> s = receptive_explorer_state(["k3s1p2d2"], input_size=4, unit=(0, 0))
    >>> s.maps[0].cells                     # taps two apart; the others are padding
    ((0, 0), (0, 2), (2, 0), (2, 2))
    >>> s.maps[0].outside
    5
    """
    layers = tuple(layers)
    size = (input_size, input_size)
    no_pads = ((0, 0), (0, 0))
    try:
        records = tuple(receptive_fields(list(layers), input_size=input_size))
    except ValueError as error:
        whole = ((0, input_size), (0, input_size))
        only_input = FeatureMapView("input", size, no_pads, whole, (), {}, ())
        return ReceptiveState(layers, input_size, (0, 0), (), (only_input,), str(error))
    windows = [layer if isinstance(layer, Window) else parse_window(layer) for layer in layers]
    sizes: list[Pair] = [size] + [record.output_size for record in records]
    last = sizes[-1]
    unit = (min(max(unit[0], 0), last[0] - 1), min(max(unit[1], 0), last[1] - 1))
    names = ["input"] + [f"layer {i + 1}: {r.name}" for i, r in enumerate(records)]
    rows = _influence_1d(windows, sizes, unit[0], 0)
    cols = _influence_1d(windows, sizes, unit[1], 1)
    maps = []
    for index in range(len(sizes)):
        (row_paths, row_pad, row_pads), (col_paths, col_pad, col_pads) = rows[index], cols[index]
        paths = {
            (r, c): row_paths[r] * col_paths[c]
            for r in sorted(row_paths) for c in sorted(col_paths)
        }
        all_rows, all_cols = sorted({*row_paths, *row_pad}), sorted({*col_paths, *col_pad})
        padding_cells = tuple(
            (r, c) for r in all_rows for c in all_cols if (r, c) not in paths
        )
        is_output = index == len(sizes) - 1
        if is_output:
            region = ((unit[0], unit[0] + 1), (unit[1], unit[1] + 1))
        else:
            region = input_region(list(layers[index:]), unit, input_size=sizes[index])
        maps.append(FeatureMapView(
            names[index], sizes[index], (row_pads, col_pads), region, tuple(paths), paths,
            padding_cells, is_output=is_output,
        ))
    return ReceptiveState(layers, input_size, unit, records, tuple(maps))


def taps_1d(
    layers: Sequence[str | Window], n: int, unit: int
) -> list[tuple[int, list[tuple[int, int]]]]:
    """Along one axis: the positions each level feeds into ``unit`` of the last layer.

    Parameters
    ----------
    layers : sequence of str or Window
        Square layers; only their geometry along one axis is used.
    n : int
        Input length.
    unit : int
        Output position of the last layer.

    Returns
    -------
    list of (size, edges), input level first
        ``size`` is the level's length; ``edges`` are ``(position, parent)`` pairs: the
        position in this level (negative or ``>= size`` for padding) feeds ``parent``
        in the level above. The output level has the single edge ``(unit, unit)``.

    Examples
    --------
    >>> levels = taps_1d(["k3s1d1", "k3s1d2"], n=7, unit=0)   # dilation skips inputs
    >>> sorted({p for p, _ in levels[0][1]})
    [0, 1, 2, 3, 4, 5, 6]
    >>> [p for p, _ in levels[1][1]]
    [0, 2, 4]
    """
    windows = [layer if isinstance(layer, Window) else parse_window(layer) for layer in layers]
    records = receptive_fields(list(windows), input_size=n)
    sizes = [n] + [record.output_size[1] for record in records]
    levels: list[tuple[int, list[tuple[int, int]]]] = [(sizes[-1], [(unit, unit)])]
    current = {unit}
    for index in range(len(windows) - 1, -1, -1):
        window = windows[index]
        kernel = _first(window.kernel)
        stride = _first(window.stride)
        dilation = _first(window.dilation)
        (_, _), (before, _) = resolve_padding(
            sizes[index], window.kernel, window.stride, window.padding, window.dilation
        )
        edges = [
            (parent * stride - before + tap * dilation, parent)
            for parent in sorted(current)
            for tap in range(kernel)
        ]
        levels.append((sizes[index], edges))
        current = {position for position, _ in edges if 0 <= position < sizes[index]}
    return levels[::-1]


def axes_text(pair: Pair) -> str:
    """``"2"`` when both axes agree, ``"1x2"`` (height x width) when they differ.

    Examples
    --------
    >>> axes_text((2, 2)), axes_text((0, 2))
    ('2', '0x2')
    """
    return str(pair[0]) if pair[0] == pair[1] else f"{pair[0]}x{pair[1]}"


def _first(value: int | tuple[int, int]) -> int:
    return value if isinstance(value, int) else value[1]


def _along(value: int | tuple[int, int], axis: int) -> int:
    return value if isinstance(value, int) else value[axis]

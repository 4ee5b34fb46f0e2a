"""The receptive-field explorer: which cells of every map one output unit depends on.

Pure logic, no ipywidgets. Sizes, jumps and regions come from :mod:`cnnlab.receptive`
(:func:`~cnnlab.receptive.receptive_fields` and :func:`~cnnlab.receptive.input_region`
applied to the tail of the stack that starts at each map); this module only collects
them per feature map for drawing. :func:`taps_1d` adds what the region alone does not
say for dilated layers: exactly which positions are used (the slides' 1-D pictures).

Layers are written as in :mod:`cnnlab.receptive`: strings such as ``"k3s1"``,
``"k3s2p1"`` or ``"k3s1d2"``, or :class:`~cnnlab.receptive.Window` records.

Examples
--------
>>> s = receptive_explorer_state(["k3s2p1", "k3s2p1"], input_size=5, unit=(0, 0))
>>> [m.size for m in s.maps]                   # CS109B: 5x5 -> 3x3 -> 2x2
[(5, 5), (3, 3), (2, 2)]
>>> s.field.size, s.maps[0].region, s.maps[0].outside
((7, 7), ((-3, 4), (-3, 4)), 33)
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
    "receptive_explorer_state",
    "taps_1d",
]

Cell = tuple[int, int]
Region = tuple[tuple[int, int], tuple[int, int]]


@dataclass(frozen=True)
class FeatureMapView:
    """One feature map of the stack, with the chosen unit's region marked.

    Attributes
    ----------
    name : str
        ``"input"`` or the layer that produces the map.
    size : (H, W)
    region : ((r0, r1), (c0, c1))
        Half-open rows and columns that influence the unit, unclipped (may reach
        into the padding: below 0 or past the last row).
    cells : tuple of (row, col)
        The cells of ``region`` inside the map.
    outside : int
        How many positions of ``region`` lie in the padding.
    is_output : bool
        True for the last map, where ``cells`` is the chosen unit itself.
    """

    name: str
    size: tuple[int, int]
    region: Region
    cells: tuple[Cell, ...]
    outside: int
    is_output: bool = False


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
        return (
            f"Unit {self.unit} of the {self.maps[-1].size[0]}x{self.maps[-1].size[1]} output "
            f"sees a {rf.size[0]}x{rf.size[1]} region of the input (jump {rf.jump[0]}, "
            f"effective padding {rf.padding[0]})"
        )


def _region_cells(region: Region, size: tuple[int, int]) -> tuple[tuple[Cell, ...], int]:
    (r0, r1), (c0, c1) = region
    rows = range(max(r0, 0), min(r1, size[0]))
    cols = range(max(c0, 0), min(c1, size[1]))
    cells = tuple((r, c) for r in rows for c in cols)
    return cells, (r1 - r0) * (c1 - c0) - len(cells)


def receptive_explorer_state(
    layers: Sequence[str | Window], input_size: int = 9, unit: Cell = (0, 0)
) -> ReceptiveState:
    """Receptive-field state of a stack of sliding-window layers on a square input.

    Parameters
    ----------
    layers : sequence of str or Window
        For example ``["k3s1p1", "k3s2p1", "k3s1d2p2"]``.
    input_size : int
        Input height and width.
    unit : (i, j)
        Output unit of the last layer; clipped to the output.

    Returns
    -------
    ReceptiveState
    """
    layers = tuple(layers)
    size = (input_size, input_size)
    try:
        records = tuple(receptive_fields(list(layers), input_size=input_size))
    except ValueError as error:
        whole = ((0, input_size), (0, input_size))
        only_input = FeatureMapView("input", size, whole, (), 0)
        return ReceptiveState(layers, input_size, (0, 0), (), (only_input,), str(error))
    sizes = [size] + [record.output_size for record in records]
    last = sizes[-1]
    unit = (min(max(unit[0], 0), last[0] - 1), min(max(unit[1], 0), last[1] - 1))
    names = ["input"] + [f"layer {i + 1}: {r.name}" for i, r in enumerate(records)]
    maps = []
    for index in range(len(layers)):
        region = input_region(list(layers[index:]), unit, input_size=sizes[index])
        cells, outside = _region_cells(region, sizes[index])
        maps.append(FeatureMapView(names[index], sizes[index], region, cells, outside))
    unit_region = ((unit[0], unit[0] + 1), (unit[1], unit[1] + 1))
    maps.append(FeatureMapView(names[-1], last, unit_region, (unit,), 0, is_output=True))
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


def _first(value: int | tuple[int, int]) -> int:
    return value if isinstance(value, int) else value[1]

"""Per-layer tables of a network: shapes, parameters, activations, MACs and memory.

:func:`summary` walks a :class:`~cnnlab.models.spec.Sequential` (or a zoo name) and
returns a :class:`ModelSummary`, which prints as an aligned text table, renders as HTML
in a notebook and exports rows for widgets, Markdown and CSV.

Column conventions (also in ``docs/conventions.md``)
----------------------------------------------------
Params
    weights + biases + BatchNorm gamma/beta. BatchNorm running statistics are
    *buffers*: reported in their own total, never in ``total_params``.
Trainable
    parameters of layers not frozen with ``trainable=False``.
Activations
    values stored by each layer's output for one image; the input row counts too;
    in-place layers (ReLU, Dropout, Flatten, a residual addition) add 0.
MACs
    multiply-accumulates of convolutions and dense layers for one image; bias
    additions are not counted (fvcore's convention; torchinfo counts them).
Memory
    bytes for a dtype (float32 by default), spelled in bytes, MiB (2**20) and MB (10**6).

Examples
--------
>>> s = summary("cs109b_example")
>>> s.total_params
2103156
>>> [row.params for row in s.rows if row.params]
[224, 3216, 2097664, 2052]
"""

from __future__ import annotations

import csv
import html
import io
from collections.abc import Sequence
from dataclasses import asdict, dataclass

from cnnlab.models.spec import Count, Input, Layer, Sequential, Shape
from cnnlab.params import dtype_size, format_bytes

__all__ = ["LayerRow", "ModelSummary", "parse_shape", "summary"]


@dataclass(frozen=True)
class LayerRow:
    """One row of a summary table.

    ``depth`` is 0 for the network's own layers and 1 for the inside of a block (shown
    with ``expand=True``); totals add depth-0 rows only.
    """

    name: str
    kind: str
    output_shape: Shape
    params: int
    trainable_params: int
    weights: int
    biases: int
    buffers: int
    activations: int
    macs: int
    depth: int = 0

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def _format_shape(shape: Shape) -> str:
    return "x".join(str(size) for size in shape)


def parse_shape(text: str | Sequence[int]) -> Shape:
    """``'3x224x224'`` (or ``'3,224,224'``, or a sequence) as a shape tuple.

    Examples
    --------
    >>> parse_shape("3x224x224")
    (3, 224, 224)
    """
    if isinstance(text, str):
        parts = text.lower().replace(",", "x").replace("*", "x").split("x")
        try:
            shape = tuple(int(part) for part in parts)
        except ValueError:
            raise ValueError(
                f"cannot read the shape {text!r}: write channels x height x width, e.g. "
                "'3x224x224', or a number of features, e.g. '784'."
            ) from None
    else:
        shape = tuple(text)
    if len(shape) not in (1, 3):
        raise ValueError(
            f"an input shape is (C, H, W) for images or (features,) for vectors, got "
            f"{shape} with {len(shape)} entries (no batch axis)."
        )
    return shape


@dataclass(frozen=True)
class ModelSummary:
    """The table :func:`summary` returns. Totals are properties; see the module docs."""

    name: str
    input_shape: Shape
    rows: tuple[LayerRow, ...]
    dtype: str = "float32"
    description: str = ""

    # --- totals ---------------------------------------------------------------------------

    def _top(self) -> list[LayerRow]:
        return [row for row in self.rows if row.depth == 0]

    @property
    def output_shape(self) -> Shape:
        return self._top()[-1].output_shape

    @property
    def total_params(self) -> int:
        """Weights + biases + BatchNorm gamma/beta (running statistics excluded)."""
        return sum(row.params for row in self._top())

    @property
    def trainable_params(self) -> int:
        return sum(row.trainable_params for row in self._top())

    @property
    def non_trainable_params(self) -> int:
        """Parameters of frozen layers (not BatchNorm buffers: see ``total_buffers``)."""
        return self.total_params - self.trainable_params

    @property
    def total_buffers(self) -> int:
        """BatchNorm running means and variances: state, not parameters."""
        return sum(row.buffers for row in self._top())

    @property
    def total_activations(self) -> int:
        """Stored output values for one image, the input included."""
        return sum(row.activations for row in self._top())

    @property
    def total_macs(self) -> int:
        """Multiply-accumulates of convolutions and dense layers for one image."""
        return sum(row.macs for row in self._top())

    @property
    def activation_bytes(self) -> int:
        """Forward activations of one image in ``dtype`` (the backward pass roughly doubles it)."""
        return self.total_activations * dtype_size(self.dtype)

    @property
    def param_bytes(self) -> int:
        return self.total_params * dtype_size(self.dtype)

    def totals(self) -> dict[str, int]:
        """All totals as a dict (for widgets and JSON)."""
        return {
            "total_params": self.total_params,
            "trainable_params": self.trainable_params,
            "non_trainable_params": self.non_trainable_params,
            "total_buffers": self.total_buffers,
            "total_activations": self.total_activations,
            "total_macs": self.total_macs,
            "activation_bytes": self.activation_bytes,
            "param_bytes": self.param_bytes,
        }

    def row(self, name: str) -> LayerRow:
        """The row called ``name``."""
        for row in self.rows:
            if row.name == name:
                return row
        names = ", ".join(row.name for row in self.rows)
        raise KeyError(f"no layer named {name!r} in {self.name!r}; layers: {names}")

    def to_rows(self) -> list[dict[str, object]]:
        """Rows as dicts (``output_shape`` stays a tuple)."""
        return [row.as_dict() for row in self.rows]

    # --- rendering ------------------------------------------------------------------------

    _HEADER = ("Layer", "Kind", "Output shape", "Params", "Trainable", "Activations", "MACs")

    def _cells(self) -> list[tuple[str, ...]]:
        return [
            (
                "  " * row.depth + row.name,
                row.kind,
                _format_shape(row.output_shape),
                f"{row.params:,}",
                f"{row.trainable_params:,}",
                f"{row.activations:,}",
                f"{row.macs:,}",
            )
            for row in self.rows
        ]

    def footer_lines(self) -> list[str]:
        """The totals, one sentence each, with units spelled out."""
        dtype = self.dtype
        return [
            f"Total params: {self.total_params:,} (weights + biases + BatchNorm gamma/beta)",
            f"Trainable params: {self.trainable_params:,}",
            f"Non-trainable params: {self.non_trainable_params:,} (frozen layers)",
            f"Buffers: {self.total_buffers:,} (BatchNorm running mean/var; not parameters)",
            f"Activations: {self.total_activations:,} values per image, input included = "
            f"{format_bytes(self.activation_bytes)} in {dtype} (forward pass only)",
            f"Parameter memory: {format_bytes(self.param_bytes)} in {dtype}",
            f"MACs: {self.total_macs:,} multiply-accumulates per image "
            "(convolutions and dense layers; bias additions not counted)",
        ]

    def to_text(self) -> str:
        """An aligned plain-text table followed by the totals."""
        cells = [self._HEADER, *self._cells()]
        widths = [max(len(row[i]) for row in cells) for i in range(len(self._HEADER))]

        def line(row: tuple[str, ...]) -> str:
            left = [row[i].ljust(widths[i]) for i in range(3)]
            right = [row[i].rjust(widths[i]) for i in range(3, len(row))]
            return "  ".join(left + right).rstrip()

        rule = "-" * (sum(widths) + 2 * (len(widths) - 1))
        title = f"{self.name}: input {_format_shape(self.input_shape)}"
        body = [title, rule, line(self._HEADER), rule, *(line(row) for row in cells[1:]), rule]
        return "\n".join(body + self.footer_lines())

    def __str__(self) -> str:
        return self.to_text()

    def to_markdown(self) -> str:
        """A GitHub-flavoured Markdown table followed by the totals as a list."""
        header = "| " + " | ".join(self._HEADER) + " |"
        align = "| --- | --- | --- | " + " | ".join("---:" for _ in self._HEADER[3:]) + " |"
        rows = [
            "| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |"
            for row in self._cells()
        ]
        title = f"**{self.name}**: input {_format_shape(self.input_shape)}"
        totals = [f"- {text}" for text in self.footer_lines()]
        return "\n".join([title, "", header, align, *rows, "", *totals])

    def to_csv(self) -> str:
        """Rows as CSV (plain integers, shapes as ``CxHxW``), then a ``TOTAL`` row."""
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        fields = [
            "name",
            "kind",
            "output_shape",
            "params",
            "trainable_params",
            "weights",
            "biases",
            "buffers",
            "activations",
            "macs",
            "depth",
        ]
        writer.writerow(fields)
        for row in self.rows:
            values = row.as_dict()
            values["output_shape"] = _format_shape(row.output_shape)
            writer.writerow([values[name] for name in fields])
        top = self._top()
        writer.writerow(
            [
                "TOTAL",
                "",
                _format_shape(self.output_shape),
                self.total_params,
                self.trainable_params,
                sum(row.weights for row in top),
                sum(row.biases for row in top),
                self.total_buffers,
                self.total_activations,
                self.total_macs,
                "",
            ]
        )
        return buffer.getvalue()

    def _repr_html_(self) -> str:
        head = "".join(f"<th>{html.escape(text)}</th>" for text in self._HEADER)
        body = []
        for row, cells in zip(self.rows, self._cells(), strict=True):
            style = ' style="color:#555"' if row.depth else ""
            tds = [f"<td style='text-align:left'>{html.escape(cells[i])}</td>" for i in range(3)]
            tds += [f"<td style='text-align:right'>{cells[i]}</td>" for i in range(3, len(cells))]
            body.append(f"<tr{style}>{''.join(tds)}</tr>")
        footer = "".join(f"<li>{html.escape(text)}</li>" for text in self.footer_lines())
        caption = html.escape(f"{self.name}: input {_format_shape(self.input_shape)}")
        return (
            f"<div><table><caption>{caption}</caption><thead><tr>{head}</tr></thead>"
            f"<tbody>{''.join(body)}</tbody></table><ul>{footer}</ul></div>"
        )


def _row(name: str, layer: Layer, count: Count, depth: int) -> LayerRow:
    return LayerRow(
        name=name,
        kind=layer.kind,
        output_shape=count.output_shape,
        params=count.params,
        trainable_params=count.trainable_params,
        weights=count.weights,
        biases=count.biases,
        buffers=count.buffers,
        activations=count.activations,
        macs=count.macs,
        depth=depth,
    )


def summary(
    model: Sequential | str | Sequence[Layer],
    input_shape: Shape | str | None = None,
    *,
    expand: bool = False,
    dtype: str = "float32",
) -> ModelSummary:
    """Per-layer output shapes, parameters, activations and MACs of a network.

    Parameters
    ----------
    model : Sequential, zoo name (e.g. ``'vgg16'``) or list of layer specs
    input_shape : (C, H, W), (features,) or a string like ``'3x224x224'``, optional
        Replaces the model's ``Input``; required when the model has none.
    expand : bool, default False
        Also list the layers inside residual blocks (indented, depth 1).
    dtype : str, default 'float32'
        For the memory figures.

    Returns
    -------
    ModelSummary

    Raises
    ------
    ValueError
        Unknown zoo name, no input shape, or a layer that cannot take its input (the
        message names the layer).

    Notes
    -----
    Per layer: ``params = weights + biases + gamma/beta``; conv
    ``MACs = H_out*W_out*F*(C/groups)*KH*KW``; dense ``MACs = in*out``;
    ``activations = prod(output_shape)`` unless the layer works in place.

    References
    ----------
    .. [1] CS231n, "Convolutional Networks" notes: the VGG16 memory/params table.
    .. [2] torchinfo and fvcore, whose conventions are compared in docs/conventions.md.

    Examples
    --------
    >>> s = summary("vgg16")
    >>> s.total_params, s.total_activations
    (138357544, 15237608)
    """
    if isinstance(model, str):
        from cnnlab.models.zoo import get  # a zoo name: build it on demand

        model = get(model)
    elif not isinstance(model, Sequential):
        model = Sequential(*model)
    if input_shape is not None:
        model = model.with_input(parse_shape(input_shape))
    if model.input_shape is None:
        raise ValueError(
            f"{model.name!r} has no Input layer, so its shapes are unknown: pass "
            "input_shape=(C, H, W), e.g. summary(model, input_shape=(3, 32, 32))."
        )
    dtype_size(dtype)  # validate early
    rows: list[LayerRow] = []
    shape: Shape = model.input_shape
    for name, layer in model.named_layers():
        try:
            count = layer.count(shape)
            children = layer.children(shape) if expand else []
        except (ValueError, TypeError) as error:
            raise type(error)(
                f"layer {name!r} ({layer.kind}) with input shape {_format_shape(shape)}: {error}"
            ) from None
        rows.append(_row(name, layer, count, 0))
        rows.extend(_row(f"{name}.{child}", inner, c, 1) for child, inner, c in children)
        shape = count.output_shape
    first = model.layers[0]
    assert isinstance(first, Input)
    return ModelSummary(
        name=model.name,
        input_shape=first.shape,
        rows=tuple(rows),
        dtype=dtype,
        description=model.description,
    )

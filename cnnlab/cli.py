"""The ``cnnlab`` command line: summaries, the zoo, output sizes and receptive fields.

Examples (``python -m cnnlab`` or the ``cnnlab`` script)::

    python -m cnnlab summary vgg16
    python -m cnnlab summary resnet18 --input 3x32x32 --format markdown
    python -m cnnlab zoo
    python -m cnnlab size 227 --kernel 11 --stride 4
    python -m cnnlab size 32 --kernel 5 --stride 2 --padding same
    python -m cnnlab rf k3s1,k3s1,k2s2 --input 32 --unit 0,0
    python -m cnnlab rf vgg16
    python -m cnnlab warmup

Every subcommand is a :class:`Subcommand` in :data:`SUBCOMMANDS`. To add one, write its
``add_arguments(parser)`` and ``run(args) -> int`` functions (import heavy modules
inside ``run`` so ``--help`` stays instant) and append a ``Subcommand`` to the list.

Errors in the arguments print one line, ``cnnlab: error: ...``, and exit with status 2.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass

__all__ = ["SUBCOMMANDS", "Subcommand", "build_parser", "main"]


@dataclass(frozen=True)
class Subcommand:
    """One ``cnnlab <name>`` command: its help, its arguments and what it does."""

    name: str
    help: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]
    description: str = ""
    epilog: str = ""


def _size(text: str) -> int | tuple[int, int]:
    """``'7'`` -> 7, ``'32x30'`` -> (32, 30)."""
    parts = text.lower().split("x")
    try:
        numbers = [int(part) for part in parts]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a size: write a whole number like 7 or a pair like 32x30"
        ) from None
    if len(numbers) == 1:
        return numbers[0]
    if len(numbers) == 2:
        return (numbers[0], numbers[1])
    raise argparse.ArgumentTypeError(f"{text!r}: a size is N or HxW (no channel axis)")


def _padding(text: str) -> int | tuple[int, int] | str:
    if text.lower() in ("same", "valid"):
        return text.lower()
    return _size(text)


def _unit(text: str) -> tuple[int, int]:
    parts = text.replace("x", ",").split(",")
    try:
        numbers = [int(part) for part in parts]
    except ValueError:
        numbers = []
    if len(numbers) == 1:
        return (numbers[0], numbers[0])
    if len(numbers) != 2:
        raise argparse.ArgumentTypeError(f"{text!r}: a unit is 'i,j' (row, column from 0)")
    return (numbers[0], numbers[1])


def _pair_like(n: object, value: object) -> object:
    """Match an int ``value`` to a pair ``n`` so rectangular inputs accept plain options."""
    if isinstance(n, tuple) and isinstance(value, int):
        return (value, value)
    return value


# --- summary -----------------------------------------------------------------------------


def _summary_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", help="a zoo name, e.g. vgg16 (see 'cnnlab zoo')")
    parser.add_argument(
        "--input", metavar="CxHxW", help="input shape, e.g. 3x224x224 (default: the model's)"
    )
    parser.add_argument(
        "--format", choices=("text", "markdown", "csv"), default="text", help="output format"
    )
    parser.add_argument(
        "--expand", action="store_true", help="also list the layers inside residual blocks"
    )
    parser.add_argument("--dtype", default="float32", help="for memory figures (float32)")


def _summary_run(args: argparse.Namespace) -> int:
    from cnnlab.models import summary

    table = summary(args.model, args.input, expand=args.expand, dtype=args.dtype)
    text = {"text": table.to_text, "markdown": table.to_markdown, "csv": table.to_csv}
    print(text[args.format]().rstrip("\n"))
    return 0


# --- zoo -----------------------------------------------------------------------------------


def _zoo_arguments(parser: argparse.ArgumentParser) -> None:
    return None


def _zoo_run(args: argparse.Namespace) -> int:
    from cnnlab.models import summary, zoo

    rows = [("name", "input", "params", "MACs", "description")]
    for name in zoo.names():
        table = summary(name)
        shape = "x".join(map(str, table.input_shape))
        entry = zoo.describe(name)
        giga = table.total_macs >= 1e8
        macs = f"{table.total_macs / 1e9:.2f}G" if giga else f"{table.total_macs / 1e6:.1f}M"
        rows.append((name, shape, f"{table.total_params:,}", macs, entry.description))
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    for row in rows:
        cells = [row[0].ljust(widths[0]), row[1].ljust(widths[1])]
        cells += [row[2].rjust(widths[2]), row[3].rjust(widths[3]), row[4]]
        print("  ".join(cells))
    return 0


# --- size ---------------------------------------------------------------------------------------


def _size_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("n", type=_size, help="input size: N or HxW, e.g. 227 or 32x30")
    parser.add_argument("--kernel", "-k", type=_size, required=True, help="kernel size")
    parser.add_argument(
        "--stride", "-s", type=_size, help="stride (default 1; pooling: the kernel size)"
    )
    parser.add_argument(
        "--padding", "-p", type=_padding, default=0, help="N, HxW, 'same' or 'valid' (0)"
    )
    parser.add_argument("--dilation", "-d", type=_size, default=1, help="dilation (1)")
    kind = parser.add_mutually_exclusive_group()
    kind.add_argument("--pool", action="store_true", help="pooling (stride defaults to kernel)")
    kind.add_argument("--transpose", action="store_true", help="transposed convolution")
    parser.add_argument("--ceil-mode", action="store_true", help="pooling: round up (PyTorch)")
    parser.add_argument(
        "--output-padding", type=_size, default=0, help="transposed convolution only (0)"
    )
    parser.add_argument(
        "--strict", action="store_true", help="fail if the stride leaves pixels over"
    )


def _size_run(args: argparse.Namespace) -> int:
    from cnnlab import shapes

    n = args.n
    kernel = _pair_like(n, args.kernel)
    padding = _pair_like(n, args.padding)
    dilation = _pair_like(n, args.dilation)
    if args.transpose:
        stride = _pair_like(n, args.stride or 1)
        out = shapes.conv_transpose_output_size(
            n, kernel, stride, padding, _pair_like(n, args.output_padding), dilation
        )
        print("(n - 1)*s - 2p + d*(k - 1) + output_padding + 1")
        print(f"output: {_format(out)}")
        return 0
    if args.pool:
        if dilation not in (1, (1, 1)):
            raise ValueError("pooling takes no dilation here: drop --dilation or --pool.")
        stride = _pair_like(n, args.stride or args.kernel)
        out = shapes.pool_output_size(
            n, kernel, stride, padding, ceil_mode=args.ceil_mode, strict=args.strict
        )
    else:
        if args.ceil_mode:
            raise ValueError("--ceil-mode is a pooling option: add --pool.")
        stride = _pair_like(n, args.stride or 1)
        out = shapes.conv_output_size(n, kernel, stride, padding, dilation, strict=args.strict)
    print(shapes.explain_conv_output_size(n, kernel, stride, padding, dilation))
    if args.pool and args.ceil_mode:
        print("ceil_mode: a last, partial window is kept if it starts inside the input.")
    print(f"output: {_format(out)}")
    return 0


def _format(size: object) -> str:
    return "x".join(map(str, size)) if isinstance(size, tuple) else str(size)


# --- rf --------------------------------------------------------------------------------------


def _rf_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "layers",
        help="a zoo name (e.g. vgg16) or comma-separated layers like k3s1,k3s1,k2s2 "
        "(k kernel, s stride, p padding or 'same', d dilation; AxB for rectangles)",
    )
    parser.add_argument("--input", type=_size, help="input size N or HxW (for output sizes)")
    parser.add_argument("--unit", type=_unit, help="output unit 'i,j': print its input region")


def _rf_run(args: argparse.Namespace) -> int:
    from cnnlab.models import zoo
    from cnnlab.receptive import input_region, receptive_fields

    text = args.layers.strip()
    stack: object
    try:
        stack = zoo.get(text)
    except ValueError:
        if "," not in text and not text.lower().startswith("k"):
            raise
        stack = [token for token in text.split(",") if token.strip()]
    records = receptive_fields(stack, args.input)
    regions = []
    if args.unit is not None:  # before printing anything: a bad unit is one error line
        (r0, r1), (c0, c1) = input_region(stack, args.unit, input_size=args.input)
        regions.append(f"unit {args.unit}: input rows {r0}..{r1 - 1}, columns {c0}..{c1 - 1}")
        if records[-1].output_size is not None:
            clipped = input_region(stack, args.unit, input_size=args.input, clip=True)
            (r0, r1), (c0, c1) = clipped
            regions.append(f"inside the image: rows {r0}..{r1 - 1}, columns {c0}..{c1 - 1}")
    rows = [("layer", "kind", "size", "jump", "padding", "output")]
    for record in records:
        output = "?" if record.output_size is None else _format(record.output_size)
        rows.append(
            (
                record.name,
                record.kind,
                _format(record.size),
                _format(record.jump),
                _format(record.padding),
                output,
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=True)]
        print("  ".join(cells).rstrip())
    for line in regions:
        print(line)
    return 0


# --- warmup ---------------------------------------------------------------------------------


def _warmup_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--dtype",
        action="append",
        choices=("float32", "float64"),
        help="dtype to compile for (repeatable; default: float32 and float64)",
    )
    parser.add_argument(
        "--all",
        action="store_true",
        help="also the rarely used kernels that otherwise compile on first use "
        "(float64 on several threads)",
    )
    parser.add_argument(
        "--times",
        action="store_true",
        help="print the seconds each kernel path took (compiling, or loading the cache)",
    )


def _warmup_run(args: argparse.Namespace) -> int:
    from cnnlab.precompile import compile_times  # NumPy and Numba load only here

    times = compile_times(tuple(args.dtype or ("float32", "float64")), everything=args.all)
    if args.times:
        for entry in sorted(times, key=lambda t: -t.seconds):
            print(f"{entry.seconds:7.2f} s  {entry.label}, {entry.dtype}")
    print(f"kernels ready in {sum(t.seconds for t in times):.1f} s")
    return 0


SUBCOMMANDS: list[Subcommand] = [
    Subcommand(
        "summary",
        "per-layer table of a zoo network: shapes, params, activations, MACs",
        _summary_arguments,
        _summary_run,
        epilog="example: cnnlab summary vgg16 --format markdown",
    ),
    Subcommand("zoo", "list the zoo's networks with their totals", _zoo_arguments, _zoo_run),
    Subcommand(
        "size",
        "output size of a convolution, pooling or transposed convolution",
        _size_arguments,
        _size_run,
        epilog="example: cnnlab size 227 --kernel 11 --stride 4",
    ),
    Subcommand(
        "rf",
        "receptive field, jump and effective padding of a stack of layers",
        _rf_arguments,
        _rf_run,
        epilog="example: cnnlab rf k3s1,k3s1,k2s2 --input 32 --unit 0,0",
    ),
    Subcommand(
        "warmup",
        "compile (or load from cache) the Numba kernels, e.g. before a grading run",
        _warmup_arguments,
        _warmup_run,
    ),
]


def build_parser(subcommands: Sequence[Subcommand] = SUBCOMMANDS) -> argparse.ArgumentParser:
    """The argument parser with one sub-parser per :class:`Subcommand`."""
    parser = argparse.ArgumentParser(
        prog="cnnlab",
        description="The exact arithmetic of convolutional networks, from the command line.",
        epilog="Run 'cnnlab <command> --help' for a command's options.",
    )
    commands = parser.add_subparsers(dest="command", metavar="command", required=True)
    for command in subcommands:
        sub = commands.add_parser(
            command.name,
            help=command.help,
            description=command.description or command.help,
            epilog=command.epilog or None,
        )
        command.add_arguments(sub)
        sub.set_defaults(run=command.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``cnnlab`` with ``argv`` (default ``sys.argv[1:]``); return the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)  # exits with status 2 and a usage line on bad syntax
    try:
        return int(args.run(args) or 0)
    except (ValueError, TypeError, KeyError) as error:
        message = error.args[0] if error.args else str(error)
        print(f"cnnlab: error: {message}", file=sys.stderr)
        return 2

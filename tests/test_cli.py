"""Tests for the command line (cnnlab.cli and python -m cnnlab)."""

from __future__ import annotations

import argparse
import csv
import io
import subprocess
import sys

import pytest

from cnnlab.cli import SUBCOMMANDS, Subcommand, build_parser, main


def run(capsys, *argv):
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def test_help_documents_every_subcommand():
    result = subprocess.run(
        [sys.executable, "-m", "cnnlab", "--help"], capture_output=True, text=True
    )
    assert result.returncode == 0
    for command in ("summary", "zoo", "size", "rf", "warmup"):
        assert command in result.stdout
    for command in SUBCOMMANDS:
        with pytest.raises(SystemExit) as exit_info:
            build_parser().parse_args([command.name, "--help"])
        assert exit_info.value.code == 0


def test_summary_vgg16_text(capsys):
    status, out, _ = run(capsys, "summary", "vgg16")
    assert status == 0
    assert "Total params: 138,357,544" in out
    assert "15,237,608 values" in out
    assert "58.13 MiB" in out


def test_summary_formats_and_input(capsys):
    status, out, _ = run(capsys, "summary", "cs109b_example", "--format", "csv")
    assert status == 0
    rows = list(csv.DictReader(io.StringIO(out)))
    assert rows[-1]["params"] == "2103156"
    status, out, _ = run(capsys, "summary", "resnet18", "--input", "3x32x32", "--format",
                         "markdown")  # fmt: skip
    assert status == 0
    assert "| fc | Dense | 1000 | 513,000 |" in out
    assert "input 3x32x32" in out


def test_zoo_lists_names_and_totals(capsys):
    status, out, _ = run(capsys, "zoo")
    assert status == 0
    line = next(line for line in out.splitlines() if line.startswith("resnet50 "))
    assert "25,557,032" in line
    assert "4.09G" in line
    assert len(out.strip().splitlines()) == 12  # header + 11 networks


def test_size_alexnet_conv1(capsys):
    status, out, _ = run(capsys, "size", "227", "--kernel", "11", "--stride", "4")
    assert status == 0
    assert "floor(216/4) + 1 = 55" in out
    assert out.strip().endswith("output: 55")


def test_size_variants(capsys):
    assert run(capsys, "size", "55", "-k", "3", "-s", "2", "--pool")[1].endswith("output: 27\n")
    out = run(capsys, "size", "6", "-k", "3", "-s", "2", "--pool", "--ceil-mode")[1]
    assert out.endswith("output: 3\n")
    out = run(capsys, "size", "32x30", "-k", "5", "-s", "2", "-p", "same")[1]
    assert "split 1 left and 2 right" in out
    assert out.endswith("output: 16x15\n")
    out = run(capsys, "size", "16", "-k", "4", "-s", "2", "-p", "1", "--transpose")[1]
    assert out.endswith("output: 32\n")


def test_rf_stack_and_zoo(capsys):
    status, out, _ = run(capsys, "rf", "k3s1,k3s1,k2s2", "--input", "32", "--unit", "1,2")
    assert status == 0
    last = out.splitlines()[3].split()
    assert last == ["k2s2", "Window", "6x6", "2x2", "0x0", "14x14"]
    assert "unit (1, 2): input rows 2..7, columns 4..9" in out
    status, out, _ = run(capsys, "rf", "vgg16")
    assert status == 0
    last = out.splitlines()[-1].split()
    assert last == ["pool5", "MaxPool2d", "212x212", "32x32", "90x90", "7x7"]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["size", "7", "-k", "3", "-s", "3", "--strict"], "stride 3 doesn't fit"),
        (["size", "5", "-k", "7"], "The kernel does not fit"),
        (["size", "7", "-k", "3", "--ceil-mode"], "--ceil-mode is a pooling option"),
        (["summary", "vgg"], "unknown model 'vgg'"),
        (["summary", "vgg16", "--input", "1x3x32x32"], "no batch axis"),
        (["rf", "k3s1,3x3"], "cannot read the layer '3x3'"),
        (["rf", "k3s1", "--input", "8", "--unit", "9,0"], "outside the 6x6 output"),
    ],
)
def test_errors_are_one_line_and_exit_2(capsys, argv, message):
    status, out, err = run(capsys, *argv)
    assert status == 2
    assert out == ""
    assert err.startswith("cnnlab: error: ")
    assert message in err
    assert err.count("\n") == 1
    assert "Traceback" not in err


def test_bad_syntax_exits_2(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["size", "abc", "-k", "3"])
    assert exit_info.value.code == 2
    assert "'abc' is not a size" in capsys.readouterr().err


def test_a_module_can_add_a_subcommand(capsys):
    def add_arguments(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--times", type=int, default=1)

    def run_hello(args: argparse.Namespace) -> int:
        print("hello " * args.times)
        return 0

    extra = Subcommand("hello", "say hello", add_arguments, run_hello)
    args = build_parser([*SUBCOMMANDS, extra]).parse_args(["hello", "--times", "2"])
    assert args.run(args) == 0
    assert capsys.readouterr().out == "hello hello \n"

"""Retrain the reference networks of cnnlab and write their weights to cnnlab/data.

Every model, its data and its training recipe are listed once, in
``cnnlab.net.zoo.PRETRAINED``; this script only runs them. Training is deterministic
(seeded initialisation and shuffling, single-threaded kernels), so rerunning it
reproduces the shipped files up to floating-point differences between machines.

Usage::

    .venv/bin/python scripts/train_reference_models.py            # all models
    .venv/bin/python scripts/train_reference_models.py digits_cnn # one model
    .venv/bin/python scripts/train_reference_models.py --check    # train, compare, don't write
"""

from __future__ import annotations

import argparse
import pathlib
import sys
import tempfile

import numpy as np

from cnnlab.net import PRETRAINED, save_weights, train_reference

DATA_DIR = pathlib.Path(__file__).resolve().parents[1] / "cnnlab" / "data"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "names", nargs="*", help=f"models to train (default: all of {sorted(PRETRAINED)})"
    )
    parser.add_argument(
        "--check", action="store_true",
        help="train and compare with the shipped weights instead of overwriting them",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    args = parser.parse_args(argv)
    names = args.names or list(PRETRAINED)
    unknown = sorted(set(names) - set(PRETRAINED))
    if unknown:
        parser.error(f"unknown model(s) {unknown}; choose from {sorted(PRETRAINED)}")

    status = 0
    for name in names:
        ref = PRETRAINED[name]
        model, history, metrics = train_reference(name, progress=not args.quiet)
        target = DATA_DIR / ref.filename
        print(
            f"{name}: {ref.description}\n"
            f"  {model.num_parameters():,} parameters, {len(history)} epochs in "
            f"{metrics['seconds']:.1f} s, held-out accuracy {metrics['test_accuracy']:.4f} "
            f"(loss {metrics['test_loss']:.4f})"
        )
        if args.check:
            with tempfile.TemporaryDirectory() as tmp:
                fresh = pathlib.Path(tmp) / ref.filename
                save_weights(model, fresh)
                with np.load(fresh) as new, np.load(target) as old:
                    worst = max(float(np.max(np.abs(new[k] - old[k]))) for k in old.files)
            print(f"  largest difference from {target.name}: {worst:.3g}")
            status |= worst > 1e-3
        else:
            save_weights(model, target)
            size = target.stat().st_size
            print(f"  wrote {target.relative_to(DATA_DIR.parents[1])} ({size:,} bytes)")
    return status


if __name__ == "__main__":
    sys.exit(main())

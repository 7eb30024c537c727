"""The ``synthad`` command.

Keras reads ``KERAS_BACKEND`` when it is first imported, so this module imports
nothing from Keras until the backend option has been applied.
"""

from __future__ import annotations

import argparse
import os
import sys


def _quickstart(args) -> int:
    from keras_synthad.quickstart import format_report, run

    report = run(
        output_dir=args.output_dir,
        epochs=args.epochs,
        pretrain_epochs=args.pretrain_epochs,
        seed=args.seed,
        verbose=args.verbose,
    )
    print(format_report(report))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="synthad", description="Anomaly detection from synthetic anomalies (Keras 3)."
    )
    parser.add_argument(
        "--backend",
        choices=["tensorflow", "jax", "torch"],
        help="Keras backend (default: $KERAS_BACKEND or tensorflow)",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    quick = commands.add_parser("quickstart", help="train Fence GAN on the embedded KDD Cup 99 sample and report")
    quick.add_argument("--output-dir", default="synthad_output")
    quick.add_argument("--epochs", type=int, default=50)
    quick.add_argument("--pretrain-epochs", type=int, default=15)
    quick.add_argument("--seed", type=int, default=0)
    quick.add_argument("--verbose", type=int, default=2, choices=[0, 1, 2])
    quick.set_defaults(handler=_quickstart)
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    if args.backend:
        if "keras" in sys.modules and os.environ.get("KERAS_BACKEND") != args.backend:
            raise SystemExit("--backend must be chosen before Keras is imported")
        os.environ["KERAS_BACKEND"] = args.backend
    return args.handler(args)


if __name__ == "__main__":
    sys.exit(main())

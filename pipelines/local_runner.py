"""Run one of this folder's pipelines on this machine, as TFX templates' ``local_runner.py`` does.

Usage: ``python pipelines/local_runner.py NAME [Beam flags]``, NAME a folder here with a
``config.toml`` (``kddcup99_sample``, ``kddcup99``). Beam flags such as
``--direct_num_workers=2`` or ``--runner=FnApiRunner`` pass through. The components it
runs are the installed ``keras_synthad.pipelines`` package's, as on a Beam worker.
"""

import sys
from pathlib import Path

from keras_synthad import cli

HERE = Path(__file__).parent


def main(argv: list[str]) -> int:
    names = sorted(p.parent.name for p in HERE.glob("*/config.toml"))
    if not argv or argv[0] not in names:
        print(f"usage: python {Path(__file__).name} NAME [Beam flags]; NAME one of {names}", file=sys.stderr)
        return 2
    return cli.main(["pipeline", "run", "--config", str(HERE / argv[0] / "config.toml"), *argv[1:]])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

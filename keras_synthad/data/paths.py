"""Where the benchmark datasets live."""

from __future__ import annotations

import os
from pathlib import Path

ENV_VAR = "KERAS_SYNTHAD_DATA"
DEFAULT = Path(__file__).resolve().parents[2].parent / "shared" / "data"


def data_dir(*parts: str) -> Path:
    """Path of the shared data folder (or a file in it); raises if it is missing.

    Set ``KERAS_SYNTHAD_DATA`` to point elsewhere; the default is ``../shared/data``
    next to the repository checkout.
    """
    root = Path(os.environ.get(ENV_VAR, DEFAULT))
    path = root.joinpath(*parts)
    if not path.exists():
        raise FileNotFoundError(
            f"Benchmark data not found: {path}. Put the shared data folder at {DEFAULT} "
            f"or set {ENV_VAR} to its location."
        )
    return path

"""The embedded default dataset: 6,000 KDD Cup 99 rows shipped in the package (see samples/SOURCE.md)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

SAMPLE_PATH = Path(__file__).parent / "samples" / "kddcup99_sample.csv.gz"


def load_sample() -> pd.DataFrame:
    """The raw sample: 41 KDD feature columns (three of them text) and ``label``."""
    return pd.read_csv(SAMPLE_PATH)

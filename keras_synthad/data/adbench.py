"""ADBench ``.npz`` tables (ODDS/DAMI copies): keys ``X`` and ``y`` (1 = anomaly)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from keras_synthad.data.paths import data_dir


def load_adbench(name: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """Load an ADBench table by path, file name or dataset name (``"thyroid"``,
    ``"38_thyroid"``, ``"38_thyroid.npz"``; case-insensitive).

    Returns:
        ``(X, y)``: float64 features (n, d) and int64 labels (n,), 1 = anomaly.
    """
    path = Path(name)
    if not path.is_file():
        folder = data_dir("adbench")
        wanted = str(name).lower().removesuffix(".npz")
        matches = [
            p
            for p in sorted(folder.glob("*.npz"))
            if p.stem.lower() == wanted or p.stem.lower().split("_", 1)[-1] == wanted
        ]
        if len(matches) != 1:
            available = ", ".join(p.stem for p in sorted(folder.glob("*.npz")))
            raise ValueError(f"No single ADBench dataset named {name!r} in {folder}. Available: {available}")
        path = matches[0]
    with np.load(path, allow_pickle=False) as data:
        if set(data.files) != {"X", "y"}:
            raise ValueError(f"{path} is not an ADBench table: expected keys X and y, found {data.files}")
        x = data["X"].astype(np.float64)
        y = data["y"].astype(np.int64)
    if x.ndim != 2 or y.shape != (x.shape[0],):
        raise ValueError(f"{path}: X must be (n, d) and y (n,); found {x.shape} and {y.shape}")
    return x, y

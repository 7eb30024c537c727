"""KDD Cup 99 (10 %) raw CSV and its numeric encoding."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from keras_synthad.data.paths import data_dir
from keras_synthad.validation import invalid_argument

COLUMNS = (Path(__file__).parent / "samples" / "kddcup99_columns.txt").read_text().split()

#: Columns one-hot encoded, as in the DAGMM/ALAD preprocessing the Fence GAN paper
#: follows: the three text columns plus the four binary flags. With the 10 % file's
#: categories this gives 121 features, the output width of Fence GAN's Table IV.
KDD_CATEGORICAL = ("protocol_type", "service", "flag", "land", "logged_in", "is_host_login", "is_guest_login")


def load_kddcup99(path: str | Path | None = None) -> pd.DataFrame:
    """Read a raw, headerless KDD Cup 99 CSV (default: the 10 % file in the shared data
    folder) into 41 named feature columns and ``label`` (e.g. ``"normal."``)."""
    path = data_dir("kddcup99", "kddcup.data_10_percent.gz") if path is None else Path(path)
    frame = pd.read_csv(path, names=COLUMNS, header=None)
    if frame.shape[1] != 42 or frame.isna().any().any():
        raise ValueError(f"{path} is not a KDD Cup 99 file: expected 42 complete columns, got {frame.shape[1]}")
    return frame


NSL_KDD_FILES = {"train": "KDDTrain+.txt.gz", "test": "KDDTest+.txt.gz", "test-21": "KDDTest-21.txt.gz"}


def load_nsl_kdd(split: str = "train") -> pd.DataFrame:
    """Read an NSL-KDD split (``"train"``, ``"test"`` or ``"test-21"``) from the shared data
    folder: the 41 KDD feature columns, ``label`` (``"normal"`` or an attack name, no
    trailing dot) and ``difficulty``."""
    if split not in NSL_KDD_FILES:
        raise invalid_argument("split", split, f"one of {sorted(NSL_KDD_FILES)}")
    folder = data_dir("nsl_kdd")
    names = (folder / "columns.txt").read_text().split()
    frame = pd.read_csv(folder / NSL_KDD_FILES[split], names=names, header=None)
    if frame.shape[1] != 43 or frame.isna().any().any():
        raise ValueError(f"{folder / NSL_KDD_FILES[split]} is not an NSL-KDD file: expected 43 complete columns")
    return frame


def kdd_features(frame: pd.DataFrame, categorical=KDD_CATEGORICAL, categories: dict | None = None):
    """Numeric matrix of a KDD frame: one-hot for `categorical`, other columns as floats.

    Args:
        frame: rows with the 41 feature columns (``label`` and ``difficulty`` are ignored).
        categorical: columns to one-hot encode.
        categories: ``{column: [values]}`` fixing the one-hot columns (e.g. taken
            from the full file so every split shares them); default: the values in
            `frame`, sorted.

    Returns:
        ``(x, names, categories)``: float32 (n, d), the column names and the categories used.
    """
    categories = categories or {c: sorted(frame[c].astype(str).unique()) for c in categorical}
    parts, names = [], []
    for column in frame.columns:
        if column in ("label", "difficulty"):
            continue
        if column in categorical:
            values = frame[column].astype(str).to_numpy()
            known = categories[column]
            parts.append((values[:, None] == np.asarray(known)[None, :]).astype(np.float32))
            names += [f"{column}={v}" for v in known]
        else:
            parts.append(frame[[column]].to_numpy(dtype=np.float32))
            names.append(column)
    return np.concatenate(parts, axis=1), names, categories


def fence_gan_split(labels, seed: int, normal_label: str = "normal."):
    """The Fence GAN / ALAD / DAGMM KDD99 protocol.

    'normal' traffic is the minority and plays the anomaly: train on a random 50 %
    of the attack rows; test on the other 50 % of attack rows plus a random 50 % of
    the normal rows.

    Returns:
        ``(train_index, test_index, y_test)`` with ``y_test = 1`` for normal traffic.
    """
    labels = np.asarray(labels).astype(str)
    rng = np.random.default_rng(seed)
    attack = np.flatnonzero(labels != normal_label)
    normal = np.flatnonzero(labels == normal_label)
    if len(attack) < 2 or len(normal) < 2:
        raise ValueError(
            f"fence_gan_split needs at least 2 attack and 2 {normal_label!r} rows; got {len(attack)} and {len(normal)}"
        )
    attack = rng.permutation(attack)
    normal = rng.permutation(normal)
    train = np.sort(attack[: len(attack) // 2])
    test = np.concatenate([attack[len(attack) // 2 :], normal[: len(normal) // 2]])
    y_test = (labels[test] == normal_label).astype(np.int64)
    return train, test, y_test

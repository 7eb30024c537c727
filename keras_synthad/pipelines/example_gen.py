"""ExampleGen: CSV, Parquet or TFRecord in; tf.Example splits train / eval / test out.

Rows are assigned to splits by a hash of their position in the input (salted by
``split_salt``), so the same file always splits the same way. The position, not the
content, is hashed because KDD Cup 99 repeats some rows tens of thousands of times
and a content hash would put every copy into one split. With a label column, the
training split keeps only the rows whose label is not an anomaly label.

Column kinds: the config's categorical columns (or, with ``"infer"``, every column
holding a value that is not a number) become text features; the rest are numbers.
Empty cells become absent features, and their positions are recorded (``empty_cells``:
per column, the count and the first input rows) so that ExampleValidator can name them;
a numeric column that holds text is written as text, and ExampleValidator then reports
it against the schema. Nothing is dropped or repaired here: problems are for the
validator to name.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd

from keras_synthad.pipelines import examples
from keras_synthad.pipelines.config import SPLITS, DataConfig
from keras_synthad.pipelines.errors import DataValidationError
from keras_synthad.pipelines.runner import Component

MISSING = ("", "?")  # the CSV tokens read as an absent value; "nan" stays a NaN number
EMPTY_ROWS_SHOWN = 5  # input rows named per column with empty cells


def _read(data: DataConfig) -> pd.DataFrame:
    if data.format == "tfrecord":  # one file, or shards named by a pattern and read in name order
        pattern = "*" in data.input.name
        paths = sorted(data.input.parent.glob(data.input.name)) if pattern else [data.input] * data.input.exists()
        if not paths:
            raise FileNotFoundError(f"[data] input {data.input} {'matches no file' if pattern else 'does not exist'}.")
        serialized = []
        for path in paths:
            serialized += examples.read_records([str(path)], "GZIP" if path.suffix == ".gz" else "")
        return pd.DataFrame(examples.decode(serialized))
    if not data.input.exists():
        raise FileNotFoundError(f"[data] input {data.input} does not exist.")
    if data.format == "parquet":
        return pd.read_parquet(data.input)
    names = list(data.column_names) if data.column_names else None
    try:
        return pd.read_csv(data.input, dtype=str, keep_default_na=False, header=None if names else "infer", names=names)
    except pd.errors.EmptyDataError:
        raise DataValidationError(f"ExampleGen: [data] input {data.input} is empty (no header, no rows).") from None


def _as_text(values: pd.Series) -> np.ndarray:
    out = np.empty(len(values), dtype=object)
    for i, v in enumerate(values.tolist()):
        out[i] = (
            None if v is None or (isinstance(v, float) and np.isnan(v)) or str(v).strip() in MISSING else str(v).strip()
        )
    return out


def _as_number(values: pd.Series) -> tuple[np.ndarray, np.ndarray] | None:
    """(float32 values, absent mask), or None when some present value is not a number."""
    if pd.api.types.is_numeric_dtype(values):
        return values.to_numpy(dtype=np.float32), np.zeros(len(values), dtype=bool)
    fast = pd.to_numeric(values, errors="coerce")
    if not fast.isna().any():  # every cell a number: the common case, without a per-cell loop
        return fast.to_numpy(dtype=np.float32), np.zeros(len(values), dtype=bool)
    text = _as_text(values)
    present = np.array([v is not None for v in text], dtype=bool)
    parsed = pd.to_numeric(pd.Series(text[present], dtype=object), errors="coerce").to_numpy(dtype=np.float64)
    not_numbers = np.isnan(parsed) & ~np.array([str(v).lower() == "nan" for v in text[present]], dtype=bool)
    if not_numbers.any():
        return None
    out = np.zeros(len(text), dtype=np.float32)
    out[present] = parsed
    return out, ~present


def typed_columns(frame: pd.DataFrame, data: DataConfig):
    """Columns as numbers or text; returns them, the absent numeric cells, the categorical and numeric names."""
    columns, absent, categorical, numeric = {}, {}, [], []
    declared = None if data.categorical == "infer" else set(data.categorical)
    for name in frame.columns:
        name = str(name)
        if name in data.drop_columns:
            continue
        if name == data.label_column:
            columns[name] = _as_text(frame[name])
            continue
        number = None if declared is not None and name in declared else _as_number(frame[name])
        if declared is None and number is None:
            categorical.append(name)
        elif declared is not None and name in declared:
            categorical.append(name)
        else:
            numeric.append(name)
        if number is None:
            columns[name] = _as_text(frame[name])
        else:
            columns[name], absent[name] = number
    return columns, absent, categorical, numeric


def empty_cells(columns: dict, absent: dict, data: DataConfig) -> dict:
    """``{column: {"count": n, "rows": [...]}}`` of the empty cells: CSV line numbers (the header
    is line 1), or 0-based row positions for Parquet and TFRecord input."""
    first_line = (1 if data.column_names else 2) if data.format == "csv" else 0
    found = {}
    for name, values in columns.items():
        mask = absent[name] if name in absent else np.array([v is None for v in values], dtype=bool)
        if mask.any():
            rows = np.flatnonzero(mask)
            found[name] = {"count": int(len(rows)), "rows": [int(r) + first_line for r in rows[:EMPTY_ROWS_SHOWN]]}
    return found


def split_buckets(n: int, splits: dict[str, float], salt: str) -> np.ndarray:
    """Split index (0 train, 1 eval, 2 test) of each row position, from a salted hash."""
    hashes = np.array(
        [int.from_bytes(hashlib.blake2b(f"{salt}:{i}".encode(), digest_size=8).digest(), "little") for i in range(n)],
        dtype=np.uint64,
    )
    unit = (hashes >> np.uint64(11)).astype(np.float64) / float(1 << 53)
    edges = np.cumsum([splits[s] for s in SPLITS])[:-1]
    return np.searchsorted(edges, unit, side="right")


def run(data: DataConfig, output: Path, log) -> dict:
    """Write the three splits under `output`; returns the Examples artifact's properties."""
    frame = _read(data)
    if data.label_column is not None and data.label_column not in frame.columns:
        raise DataValidationError(
            f"ExampleGen: the label column {data.label_column!r} is missing from {data.input} "
            f"(columns: {', '.join(map(str, frame.columns))})."
        )
    columns, absent, categorical, numeric = typed_columns(frame, data)
    split = split_buckets(len(frame), data.splits, data.split_salt)
    anomalous = np.zeros(len(frame), dtype=bool)
    if data.label_column is not None:
        anomalous = np.isin(columns[data.label_column], list(data.anomaly_labels))
        if not anomalous.any():
            present = sorted(set(map(str, columns[data.label_column])))
            raise DataValidationError(
                f"ExampleGen: no row of {data.input} has a label in [data] anomaly_labels {list(data.anomaly_labels)}; "
                f"column {data.label_column!r} holds {present[:10]}{' ...' if len(present) > 10 else ''}. "
                "Fix anomaly_labels before anything trains."
            )
    counts, anomalies = {}, {}
    for index, name in enumerate(SPLITS):
        keep = (split == index) & ~anomalous if name == "train" else split == index
        examples.write(
            examples.split_dir(output, name) / examples.FILE_NAME,
            examples.encode({k: v[keep] for k, v in columns.items()}, {k: v[keep] for k, v in absent.items()}),
        )
        counts[name], anomalies[name] = int(keep.sum()), int((keep & anomalous).sum())
    if data.label_column is not None:
        dropped = int(((split == 0) & anomalous).sum())
        log(
            f"{len(frame)} rows -> "
            + ", ".join(f"{s} {counts[s]}" for s in SPLITS)
            + f" ({dropped} labelled anomalies left out of train)"
        )
    else:
        log(f"{len(frame)} rows -> " + ", ".join(f"{s} {counts[s]}" for s in SPLITS))
    return {
        "split_names": json.dumps(list(SPLITS)),
        "rows": json.dumps(counts),
        "anomalies": json.dumps(anomalies),
        "categorical_columns": json.dumps(categorical),
        "numeric_columns": json.dumps(numeric),
        "label_column": data.label_column or "",
        "anomaly_labels": json.dumps(list(data.anomaly_labels)),
        "input": str(data.input),
        "empty_cells": json.dumps(empty_cells(columns, absent, data)),
    }


def component(data: DataConfig) -> Component:
    return Component(
        "ExampleGen", {}, {"examples": "Examples"}, lambda out, log: {"examples": run(data, out["examples"], log)}
    )

"""Input checks shared by every detector: each bad input gets a `ValueError` naming it."""

from __future__ import annotations

import numpy as np

UNIT_INTERVAL_TOLERANCE = 1e-6


def is_array_like(x) -> bool:
    """True for in-memory arrays (numpy, lists, pandas, backend tensors); False for
    datasets and generators, which Keras iterates itself."""
    if x is None or isinstance(x, (str, bytes, dict)):
        return False
    if hasattr(x, "element_spec") or hasattr(x, "__next__"):
        return False  # tf.data.Dataset, generators
    if hasattr(x, "__getitem__") and hasattr(x, "on_epoch_end"):
        return False  # keras.utils.PyDataset
    return hasattr(x, "__array__") or hasattr(x, "shape") or isinstance(x, (list, tuple))


def check_input_shape(input_shape) -> tuple[int, ...]:
    """Validate a constructor's `input_shape`: (d,) for tables, (H, W, C) for images."""
    try:
        shape = tuple(int(s) for s in input_shape)
    except (TypeError, ValueError):
        raise ValueError(
            "Invalid value received for argument `input_shape`. Expected a tuple of "
            f"positive integers such as (d,) or (H, W, C). Received: input_shape={input_shape!r}"
        ) from None
    if len(shape) not in (1, 3) or any(s <= 0 for s in shape):
        raise ValueError(
            "Invalid value received for argument `input_shape`. Expected (d,) for "
            "tabular data or (H, W, C) for images, every entry positive. "
            f"Received: input_shape={input_shape!r}"
        )
    return shape


def check_features(
    x, feature_shape: tuple[int, ...], name: str = "x", unit_interval: bool = False, min_rows: int = 1
) -> np.ndarray:
    """Return `x` as a float32 array of shape (n, *feature_shape), or raise.

    Raises `ValueError` for non-numeric, empty, wrongly shaped or non-finite input,
    and, when `unit_interval` is set, for values outside [0, 1].
    """
    try:
        array = np.asarray(x, dtype=np.float32)
    except (TypeError, ValueError) as err:
        raise ValueError(f"`{name}` must be numeric; it could not be converted to float32: {err}") from None
    expected = "(n, " + ", ".join(str(s) for s in feature_shape) + ")"
    if array.ndim != len(feature_shape) + 1:
        raise ValueError(f"`{name}` has the wrong rank: expected shape {expected}, received shape {array.shape}.")
    if array.shape[0] < min_rows:
        what = "is empty" if array.shape[0] == 0 else "has too few rows"
        raise ValueError(f"`{name}` {what}: received shape {array.shape}, at least {min_rows} row(s) needed.")
    if tuple(array.shape[1:]) != tuple(feature_shape):
        raise ValueError(
            f"`{name}` has the wrong width: the model was built for shape {expected}, received shape {array.shape}."
        )
    finite = np.isfinite(array)
    if not finite.all():
        row = int(np.argwhere(~finite)[0][0])
        raise ValueError(
            f"`{name}` contains NaN or infinite values ({int((~finite).sum())} entries, "
            f"first in row {row}); impute or drop them before training or scoring."
        )
    if unit_interval:
        low, high = float(array.min()), float(array.max())
        if low < -UNIT_INTERVAL_TOLERANCE or high > 1 + UNIT_INTERVAL_TOLERANCE:
            raise ValueError(
                f"`{name}` has values outside [0, 1] (min {low:.4g}, max {high:.4g}); this model "
                "trains on features scaled to [0, 1], e.g. with "
                "keras_synthad.data.MinMaxScaler fitted on the training split."
            )
    return array


def check_labels(y, n: int, name: str = "y") -> np.ndarray:
    """Return `y` as an int32 vector of n zeros/ones (1 = known anomaly), or raise."""
    array = np.asarray(y)
    if array.ndim == 2 and array.shape[1] == 1:
        array = array[:, 0]
    if array.ndim != 1 or array.shape[0] != n:
        raise ValueError(f"`{name}` must be a vector of {n} labels (one per row of x); received shape {array.shape}.")
    if not np.isin(array, (0, 1)).all():
        raise ValueError(
            f"`{name}` must hold only 0 (normal/unlabelled) and 1 (known anomaly); received values {np.unique(array)[:10]}."
        )
    return array.astype(np.int32)


def check_contamination(contamination) -> float:
    value = float(contamination)
    if not 0.0 < value < 1.0:
        raise ValueError(
            "Invalid value received for argument `contamination`. Expected a fraction "
            f"in (0, 1). Received: contamination={contamination!r}"
        )
    return value


def invalid_argument(name: str, value, expected: str) -> ValueError:
    """The Keras-style error for a bad constructor argument (raise the returned error)."""
    return ValueError(f"Invalid value received for argument `{name}`. Expected {expected}. Received: {name}={value!r}")

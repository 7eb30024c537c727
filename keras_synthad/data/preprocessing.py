"""Numpy preprocessing fitted on training data only."""

from __future__ import annotations

import numpy as np


class MinMaxScaler:
    """Scale each feature to [0, 1] with the training split's min and max.

    Constant features map to 0. Rows outside the training range fall outside
    [0, 1] unless ``clip=True``; scoring accepts them, training does not.
    """

    def __init__(self, clip: bool = False):
        self.clip = clip

    def fit(self, x) -> MinMaxScaler:
        x = np.asarray(x, dtype=np.float64)
        if x.ndim < 2 or x.shape[0] == 0:
            raise ValueError(f"MinMaxScaler.fit needs a non-empty (n, ...) array; received shape {x.shape}")
        if not np.isfinite(x).all():
            raise ValueError("MinMaxScaler.fit received NaN or infinite values")
        self.min_ = x.min(axis=0)
        span = x.max(axis=0) - self.min_
        self.scale_ = np.where(span > 0, span, 1.0)
        return self

    def transform(self, x) -> np.ndarray:
        if not hasattr(self, "min_"):
            raise ValueError("MinMaxScaler is not fitted: call fit(x_train) first")
        x = np.asarray(x, dtype=np.float64)
        if x.shape[1:] != self.min_.shape:
            raise ValueError(f"MinMaxScaler was fitted on rows of shape {self.min_.shape}; received {x.shape[1:]}")
        out = (x - self.min_) / self.scale_
        return (np.clip(out, 0.0, 1.0) if self.clip else out).astype(np.float32)

    def fit_transform(self, x) -> np.ndarray:
        return self.fit(x).transform(x)

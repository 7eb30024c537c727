"""Interpolation with the nearest neighbour (DOPING's Algorithm 1) and the SMOTE-style baseline.

`inter_nn` is used twice: by DOPING in the latent space on edge vectors, and by
`SMOTEVariant` in the data space on rows drawn from the whole training set (the
unsupervised SMOTE variant DOPING compares against in §VI).
"""

from __future__ import annotations

import keras
import numpy as np
from sklearn.neighbors import NearestNeighbors

from keras_synthad.validation import check_features, invalid_argument


def nearest_other(pool: np.ndarray, index: np.ndarray) -> np.ndarray:
    """For each ``pool[index[i]]``, the index of its nearest *other* row of `pool` (Euclidean)."""
    pool = pool.reshape(pool.shape[0], -1)
    neighbours = NearestNeighbors(n_neighbors=2).fit(pool).kneighbors(pool[index], return_distance=False)
    # The query is in the pool: skip it (when duplicates tie, it may come second).
    return np.where(neighbours[:, 0] == index, neighbours[:, 1], neighbours[:, 0])


def inter_nn(pool: np.ndarray, index: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Algorithm 1 (InterNN): ``z + u * (z_NN - z)`` for ``z = pool[index]``, ``u ~ U(0, 1)``.

    Args:
        pool: (m, ...) vectors; the nearest neighbour is searched among them.
        index: (n,) rows of `pool` to interpolate from.
        u: (n,) interpolation weights in [0, 1].
    """
    samples = pool[index]
    neighbours = pool[nearest_other(pool, index)]
    u = np.asarray(u, dtype=pool.dtype).reshape((-1,) + (1,) * (pool.ndim - 1))
    return samples + u * (neighbours - samples)


def draw_indices_and_weights(count: int, population: int, seed_generator) -> tuple[np.ndarray, np.ndarray]:
    """``count`` indices in ``[0, population)`` (with replacement) and U(0, 1) weights, via keras.random."""
    index = keras.random.randint((count,), 0, population, seed=seed_generator)
    u = keras.random.uniform((count,), seed=seed_generator)
    return np.asarray(keras.ops.convert_to_numpy(index), dtype=np.int64), np.asarray(keras.ops.convert_to_numpy(u))


class SMOTEVariant:
    """Unsupervised SMOTE variant (DOPING §VI): InterNN in the data space on random training rows.

    Args:
        seed: seed of the `keras.random.SeedGenerator` drawing rows and weights.

    Example:

    ```python
    synthetic = SMOTEVariant(seed=0).augment(x_train, n=len(x_train) // 10)
    ```
    """

    def __init__(self, seed=None):
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def augment(self, x, n: int) -> np.ndarray:
        """``n`` synthetic rows interpolated between random rows of `x` and their nearest neighbours."""
        x = check_features(x, _row_shape(x), min_rows=2)
        n = check_count(n)
        if n == 0:
            return np.zeros((0,) + x.shape[1:], np.float32)
        index, u = draw_indices_and_weights(n, x.shape[0], self.seed_generator)
        return inter_nn(x, index, u).astype(np.float32)


def _row_shape(x) -> tuple[int, ...]:
    shape = np.shape(x)
    if len(shape) < 2:
        raise ValueError(f"`x` must have one row per sample, shape (n, ...); received shape {shape}.")
    return tuple(shape[1:])


def check_count(n) -> int:
    """A number of rows to synthesise: a non-negative integer."""
    try:
        valid = not isinstance(n, bool) and float(n).is_integer() and n >= 0
    except (TypeError, ValueError):
        valid = False
    if not valid:
        raise invalid_argument("n", n, "an integer >= 0")
    return int(n)

"""Downstream detectors that DOPING trains on augmented data, as Keras layers.

Each layer has ``fit(x)`` (numpy) and scores with the library's convention,
higher = more anomalous:

- `IsolationForestScorer`: scikit-learn's `IsolationForest`, fitted by
  scikit-learn, then its trees are copied into arrays and evaluated with
  `keras.ops`. Scores equal ``-IsolationForest.score_samples`` (to float32
  rounding), run inside the Keras graph on every backend (so a DOPING model
  exports to a SavedModel), and the forest is saved in the `.keras` file as a
  plain ``.npz`` of numbers, never a pickle.
- `NearestNeighborScorer`: k-nearest-neighbour distance (PyOD's KNN detector),
  the reference rows kept as a ``.npy`` asset and the distances computed with
  `keras.ops`, so it too exports.
- `EstimatorScorer`: any other scikit-learn / PyOD-style estimator. It scores in
  numpy only (no graph, no export) and is saved as a pickle inside the `.keras`
  file, which `load_model` only unpickles when the caller passes
  ``safe_mode=False`` (a pickle can run arbitrary code).
"""

from __future__ import annotations

import pickle

import keras
import numpy as np
from keras import ops
from sklearn.ensemble import IsolationForest

FOREST_FILE = "isolation_forest.npz"
ESTIMATOR_FILE = "estimator.pkl"
REFERENCE_FILE = "nearest_neighbor_reference.npy"
KNN_METHODS = ("largest", "mean")
_FOREST_KEYS = ("feature", "threshold", "left", "right", "leaf_value", "norm", "depth")


def average_path_length(n):
    """c(n) of Liu et al.: average path length of an unsuccessful BST search over n points."""
    n = np.asarray(n, dtype=np.float64)
    safe = np.maximum(n, 3.0)
    c = 2.0 * (np.log(safe - 1.0) + np.euler_gamma) - 2.0 * (safe - 1.0) / safe
    return np.where(n <= 1, 0.0, np.where(n == 2, 1.0, c))


def _floor_to_float32(values):
    """float64 thresholds -> the largest float32 not above them, so ``x32 <= t32`` iff ``x32 <= t64``."""
    rounded = values.astype(np.float32)
    above = rounded.astype(np.float64) > values
    rounded[above] = np.nextafter(rounded[above], np.float32(-np.inf))
    return rounded


def forest_arrays(forest: IsolationForest, n_features: int) -> dict[str, np.ndarray]:
    """Copy a fitted IsolationForest's trees into padded (n_trees, max_nodes) arrays.

    Leaves point to themselves, so a fixed number of descent steps (the deepest
    tree's depth) lands every row on its leaf. ``leaf_value`` is the leaf's depth
    plus c(samples in the leaf), the path length the forest averages.
    """
    trees = [estimator.tree_ for estimator in forest.estimators_]
    max_nodes = max(tree.node_count for tree in trees)
    shape = (len(trees), max_nodes)
    feature = np.zeros(shape, np.int32)
    threshold = np.zeros(shape, np.float32)
    left = np.tile(np.arange(max_nodes, dtype=np.int32), (len(trees), 1))
    right = left.copy()
    leaf_value = np.zeros(shape, np.float32)
    max_depth = 0
    for t, (tree, features) in enumerate(zip(trees, forest.estimators_features_, strict=True)):
        count = tree.node_count
        is_split = tree.children_left[:count] >= 0
        # A tree fitted on a feature subset indexes that subset; map back to columns of x.
        columns = np.asarray(features) if len(features) != n_features else np.arange(n_features)
        feature[t, :count] = np.where(is_split, columns[np.maximum(tree.feature[:count], 0)], 0)
        threshold[t, :count] = np.where(is_split, _floor_to_float32(tree.threshold[:count]), 0.0)
        left[t, :count] = np.where(is_split, tree.children_left[:count], np.arange(count))
        right[t, :count] = np.where(is_split, tree.children_right[:count], np.arange(count))
        depth = np.zeros(count, np.int64)
        for node in range(count):  # parents come before children in sklearn's node order
            if is_split[node]:
                depth[tree.children_left[node]] = depth[tree.children_right[node]] = depth[node] + 1
        leaf_value[t, :count] = depth + average_path_length(tree.n_node_samples[:count])
        max_depth = max(max_depth, int(depth.max()))
    norm = np.float32(len(trees) * average_path_length(forest.max_samples_))
    return {
        "feature": feature,
        "threshold": threshold,
        "left": left,
        "right": right,
        "leaf_value": leaf_value,
        "norm": np.asarray(norm, np.float32),
        "depth": np.asarray(max_depth, np.int32),
    }


def _flat_rows(x):
    x = np.asarray(x, dtype=np.float32)
    return x.reshape(x.shape[0], -1)


@keras.saving.register_keras_serializable(package="keras_synthad")
class IsolationForestScorer(keras.layers.Layer):
    """scikit-learn's IsolationForest, scored with `keras.ops` (higher = more anomalous).

    Args:
        n_estimators, max_samples, max_features, bootstrap: passed to
            `sklearn.ensemble.IsolationForest` (its defaults: 100, "auto", 1.0, False).
        random_state: integer seed of the forest.

    Example:

    ```python
    scorer = IsolationForestScorer(random_state=0)
    scorer.fit(x_train)
    scores = scorer(x_test)   # == -IsolationForest(...).score_samples(x_test)
    ```
    """

    def __init__(
        self, n_estimators=100, max_samples="auto", max_features=1.0, bootstrap=False, random_state=None, **kwargs
    ):
        super().__init__(**kwargs)
        self.n_estimators = int(n_estimators)
        self.max_samples = max_samples
        self.max_features = max_features
        self.bootstrap = bool(bootstrap)
        self.random_state = random_state
        self.arrays = None
        self.built = True

    @property
    def is_fitted(self) -> bool:
        return self.arrays is not None

    def make_forest(self) -> IsolationForest:
        return IsolationForest(
            n_estimators=self.n_estimators,
            max_samples=self.max_samples,
            max_features=self.max_features,
            bootstrap=self.bootstrap,
            random_state=self.random_state,
        )

    def fit(self, x):
        x = _flat_rows(x)
        forest = self.make_forest().fit(x)
        self.arrays = forest_arrays(forest, x.shape[1])
        return self

    def call(self, x):
        if not self.is_fitted:
            raise ValueError("IsolationForestScorer is not fitted: call fit(x) first.")
        a = self.arrays
        x = ops.reshape(ops.cast(x, "float32"), (ops.shape(x)[0], -1))
        n_trees, max_nodes = a["feature"].shape
        offsets = ops.expand_dims(ops.arange(n_trees, dtype="int32") * max_nodes, 0)  # (1, T)
        feature = ops.reshape(ops.convert_to_tensor(a["feature"]), (-1,))
        threshold = ops.reshape(ops.convert_to_tensor(a["threshold"]), (-1,))
        left = ops.reshape(ops.convert_to_tensor(a["left"]), (-1,))
        right = ops.reshape(ops.convert_to_tensor(a["right"]), (-1,))
        node = ops.zeros((ops.shape(x)[0], n_trees), dtype="int32")  # (n, T): every row at every root
        for _ in range(int(a["depth"])):
            index = node + offsets
            values = ops.take_along_axis(x, ops.take(feature, index), axis=1)  # (n, T)
            node = ops.where(values <= ops.take(threshold, index), ops.take(left, index), ops.take(right, index))
        path_length = ops.take(ops.reshape(ops.convert_to_tensor(a["leaf_value"]), (-1,)), node + offsets)
        return ops.power(2.0, -ops.sum(path_length, axis=1) / float(a["norm"]))

    def score(self, x) -> np.ndarray:
        return np.asarray(ops.convert_to_numpy(self(_flat_rows(x))), dtype=np.float32)

    def save_assets(self, dir_path):
        if self.is_fitted:
            np.savez(f"{dir_path}/{FOREST_FILE}", **self.arrays)

    def load_assets(self, dir_path):
        if dir_path is None:  # Keras visits a layer once per path; assets live under one
            return
        try:
            with np.load(f"{dir_path}/{FOREST_FILE}", allow_pickle=False) as stored:
                self.arrays = {key: stored[key] for key in _FOREST_KEYS}
        except FileNotFoundError:
            self.arrays = None  # saved before fitting

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "n_estimators": self.n_estimators,
                "max_samples": self.max_samples,
                "max_features": self.max_features,
                "bootstrap": self.bootstrap,
                "random_state": self.random_state,
            }
        )
        return config


@keras.saving.register_keras_serializable(package="keras_synthad")
class NearestNeighborScorer(keras.layers.Layer):
    """k-nearest-neighbour anomaly score, written with `keras.ops` (higher = more anomalous).

    The score of a row is its Euclidean distance to its ``n_neighbors``-th nearest
    reference row (``method="largest"``, PyOD's KNN default) or the mean distance to
    its ``n_neighbors`` nearest (``"mean"``). Like PyOD's ``decision_function``, a
    scored row that is itself a reference row counts as its own nearest neighbour.

    Args:
        n_neighbors: k (PyOD's default: 5).
        method: ``"largest"`` or ``"mean"``.
        max_reference: at most this many reference rows are kept (a seeded
            subsample), which bounds the memory and time of scoring.
        random_state: seed of that subsample.
    """

    def __init__(self, n_neighbors=5, method="largest", max_reference=20000, random_state=None, **kwargs):
        super().__init__(**kwargs)
        if int(n_neighbors) < 1:
            raise ValueError(
                f"Invalid value received for argument `n_neighbors`. Expected an integer >= 1. Received: n_neighbors={n_neighbors!r}"
            )
        if method not in KNN_METHODS:
            raise ValueError(
                f"Invalid value received for argument `method`. Expected one of {KNN_METHODS}. Received: method={method!r}"
            )
        self.n_neighbors = int(n_neighbors)
        self.method = method
        self.max_reference = int(max_reference)
        self.random_state = random_state
        self.reference = None
        self.built = True

    @property
    def is_fitted(self) -> bool:
        return self.reference is not None

    def fit(self, x):
        x = _flat_rows(x)
        if len(x) <= self.n_neighbors:
            raise ValueError(
                f"NearestNeighborScorer needs more than n_neighbors={self.n_neighbors} rows to fit; received {len(x)}."
            )
        if len(x) > self.max_reference:
            keep = np.random.default_rng(self.random_state).choice(len(x), self.max_reference, replace=False)
            x = x[np.sort(keep)]
        self.reference = x
        return self

    def distances(self, x):
        """Distances of `x` to its nearest reference rows, shape (n, n_neighbors), ascending."""
        reference = ops.convert_to_tensor(self.reference)
        x = ops.reshape(ops.cast(x, "float32"), (ops.shape(x)[0], -1))
        squared = (
            ops.sum(ops.square(x), axis=1, keepdims=True)
            - 2.0 * ops.matmul(x, ops.transpose(reference))
            + ops.expand_dims(ops.sum(ops.square(reference), axis=1), 0)
        )
        nearest, _ = ops.top_k(-squared, k=self.n_neighbors)
        return ops.sqrt(ops.maximum(-nearest, 0.0))

    def call(self, x):
        if not self.is_fitted:
            raise ValueError("NearestNeighborScorer is not fitted: call fit(x) first.")
        nearest = self.distances(x)
        return nearest[:, -1] if self.method == "largest" else ops.mean(nearest, axis=1)

    def score(self, x) -> np.ndarray:
        return np.asarray(ops.convert_to_numpy(self(_flat_rows(x))), dtype=np.float32)

    def save_assets(self, dir_path):
        if self.is_fitted:
            np.save(f"{dir_path}/{REFERENCE_FILE}", self.reference)

    def load_assets(self, dir_path):
        if dir_path is None:
            return
        try:
            self.reference = np.load(f"{dir_path}/{REFERENCE_FILE}", allow_pickle=False).astype(np.float32)
        except FileNotFoundError:
            self.reference = None  # saved before fitting

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "n_neighbors": self.n_neighbors,
                "method": self.method,
                "max_reference": self.max_reference,
                "random_state": self.random_state,
            }
        )
        return config


def estimator_scores(estimator, x) -> np.ndarray:
    """Scores of a fitted scikit-learn or PyOD estimator, higher = more anomalous.

    PyOD detectors (they set ``decision_scores_``) already score that way with
    ``decision_function``; scikit-learn's ``score_samples`` / ``decision_function``
    are higher for normal rows, so they are negated.
    """
    if hasattr(estimator, "decision_scores_"):
        return np.asarray(estimator.decision_function(x), dtype=np.float32).reshape(-1)
    for method in ("score_samples", "decision_function"):
        if hasattr(estimator, method):
            return -np.asarray(getattr(estimator, method)(x), dtype=np.float32).reshape(-1)
    raise ValueError(
        f"The estimator {type(estimator).__name__} has none of decision_scores_/decision_function "
        "(PyOD) or score_samples/decision_function (scikit-learn): it cannot score rows."
    )


def _loading_in_safe_mode() -> bool:
    # Keras enters its safe-mode scope while `load_model` rebuilds the layers, so the
    # constructor can see whether the caller opted out (``safe_mode=False``).
    from keras.src.saving import serialization_lib

    return serialization_lib.in_safe_mode() is not False


@keras.saving.register_keras_serializable(package="keras_synthad")
class EstimatorScorer(keras.layers.Layer):
    """Any scikit-learn / PyOD-style estimator with ``fit``; scores in numpy only.

    Saved as a pickle inside the `.keras` file. Loading that pickle needs
    ``keras.saving.load_model(path, safe_mode=False)``: only do it for files you trust.
    """

    def __init__(self, estimator=None, **kwargs):
        super().__init__(**kwargs)
        if estimator is not None and not hasattr(estimator, "fit"):
            raise ValueError(
                "Invalid value received for argument `estimator`. Expected an object with "
                f"fit(x) (scikit-learn or PyOD). Received: estimator={estimator!r}"
            )
        self.estimator = estimator
        self.fitted = False
        self._may_unpickle = not _loading_in_safe_mode()
        self.built = True

    @property
    def is_fitted(self) -> bool:
        return self.fitted

    def fit(self, x):
        self.estimator.fit(_flat_rows(x))
        self.fitted = True
        return self

    def call(self, x):
        raise ValueError(
            f"The downstream detector {type(self.estimator).__name__} is a scikit-learn/PyOD estimator: "
            "it scores in numpy through predict(), not inside a Keras graph, so the model cannot be "
            "called symbolically or exported. Use IsolationForest or a keras_synthad method for that."
        )

    def score(self, x) -> np.ndarray:
        if not self.is_fitted:
            raise ValueError("EstimatorScorer is not fitted: call fit(x) first.")
        return estimator_scores(self.estimator, _flat_rows(x))

    def save_assets(self, dir_path):
        with open(f"{dir_path}/{ESTIMATOR_FILE}", "wb") as f:
            pickle.dump({"estimator": self.estimator, "fitted": self.fitted}, f)

    def load_assets(self, dir_path):
        refusal = (
            "This model's downstream detector is a pickled scikit-learn/PyOD estimator, and "
            "unpickling can run arbitrary code. If you trust the file, load it with "
            "keras.saving.load_model(path, safe_mode=False)."
        )
        if dir_path is None:
            # Keras visits a layer once per path to it (the attribute, then `layers/`);
            # the asset lives under one, and a refusal must survive the second visit.
            if not self._may_unpickle and not self.fitted:
                raise ValueError(refusal)
            return
        if not self._may_unpickle:
            raise ValueError(refusal)
        with open(f"{dir_path}/{ESTIMATOR_FILE}", "rb") as f:
            state = pickle.load(f)
        self.estimator, self.fitted = state["estimator"], state["fitted"]

    def get_config(self):
        # The estimator itself travels as an asset (a pickle), not in the JSON config.
        return {
            "name": self.name,
            "trainable": self.trainable,
            "dtype": keras.saving.serialize_keras_object(self.dtype_policy),
        }

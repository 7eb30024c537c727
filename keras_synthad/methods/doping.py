"""DOPING (Lim et al., 2018): oversample infrequent normals from the edge of an AAE's latent space.

Algorithm 2: train an adversarial autoencoder with a Gaussian prior on the
training set; encode the training set; keep the codes at the edge of the latent
distribution, ``Z_edge = {z : alpha < ||z|| < beta}``; draw from ``Z_edge``,
interpolate each draw with its nearest latent neighbour (Algorithm 1, InterNN),
decode, and train a downstream anomaly detector on the training set plus the
synthetic rows. DOPING's score is that detector's score.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import ops
from sklearn.ensemble import IsolationForest

from keras_synthad.augmentation import check_count, draw_indices_and_weights, inter_nn
from keras_synthad.detector import AnomalyDetector
from keras_synthad.downstream import EstimatorScorer, IsolationForestScorer, NearestNeighborScorer
from keras_synthad.hyperparameters import Interval
from keras_synthad.methods.aae import AdversarialAutoencoder
from keras_synthad.validation import check_features, invalid_argument, is_array_like


def edge_bounds(norms: np.ndarray, edge_std: float = 3.0, edge_percentile: float = 90.0) -> tuple[float, float]:
    """§III-A: ``beta = mean + edge_std * std`` of the code norms; ``alpha`` = the
    ``edge_percentile``-th percentile of the norms below beta."""
    norms = np.asarray(norms, dtype=np.float64)
    beta = float(norms.mean() + edge_std * norms.std())
    below = norms[norms < beta]
    alpha = float(np.percentile(below, edge_percentile)) if below.size else beta
    return alpha, beta


def as_downstream(detector, seed=None) -> keras.layers.Layer:
    """Wrap DOPING's `detector` argument into a scoring layer (see `keras_synthad.downstream`)."""
    if detector is None or (isinstance(detector, str) and detector == "iforest"):
        return IsolationForestScorer(random_state=seed)
    if isinstance(detector, str) and detector == "knn":
        return NearestNeighborScorer(random_state=seed)
    if isinstance(detector, IsolationForest):
        params = detector.get_params()
        return IsolationForestScorer(
            **{k: params[k] for k in ("n_estimators", "max_samples", "max_features", "bootstrap", "random_state")}
        )
    if isinstance(detector, keras.layers.Layer):
        if not isinstance(detector, (AnomalyDetector, IsolationForestScorer, NearestNeighborScorer, EstimatorScorer)):
            raise ValueError(
                "Invalid value received for argument `detector`. A Keras detector must be a "
                f"keras_synthad method. Received: detector={detector!r}"
            )
        return detector
    if hasattr(detector, "fit"):
        return EstimatorScorer(detector)
    raise invalid_argument(
        "detector", detector, '"knn", "iforest", a scikit-learn/PyOD estimator or a keras_synthad method'
    )


@keras.saving.register_keras_serializable(package="keras_synthad")
class DOPING(AnomalyDetector):
    """DOPING data augmentation wrapped around a downstream anomaly detector.

    Args:
        input_shape: ``(d,)`` or ``(H, W, C)``.
        autoencoder: the `AdversarialAutoencoder` to train. ``None``: §III-A's
            (2 x 1000 ReLU networks, linear decoder output, 2-D Gaussian prior with
            standard deviation 10, Adam 1e-4).
        detector: the downstream detector trained on ``x`` plus the synthetic rows:
            ``"iforest"`` (the paper's, scikit-learn's IsolationForest, scored inside the
            Keras graph and exportable), a scikit-learn `IsolationForest` with your
            parameters, any other scikit-learn/PyOD estimator (scored in numpy; saved
            as a pickle that only ``load_model(..., safe_mode=False)`` reads back), or
            any keras_synthad method; or ``"knn"``, the k-nearest-neighbour distance
            (`NearestNeighborScorer`, k = 5, also scored in the graph). ``None``: the
            preset's (``"default"``: ``"knn"``; ``"paper"``: ``"iforest"``). On the 27
            ADBench tables of the peer benchmark (seeds 0-2) the k-NN default scored a mean
            AUROC of .861 against .820 with the forest (PyOD's KNN: .863) on normal training
            rows; with 1 % anomalies among them, .800 against the forest's .817 (k-NN
            distances are small among polluting anomalies that cluster: http .06).
        synthetic_fraction: synthetic rows per training row (§VI: 0.1).
        edge_std: beta = mean + ``edge_std`` x std of the training codes' norms (3).
        edge_percentile: alpha = this percentile of the norms below beta (90).
        seed: seed of the edge sampling and interpolation draws, and of the default
            autoencoder and forest.

    Synthetic rows are clipped to the per-feature range of the rows they were
    made from (the paper's linear decoder can overshoot it).

    Example:

    ```python
    model = keras_synthad.DOPING(input_shape=(6,), seed=0)
    model.fit(x_train, epochs=200, batch_size=128)  # AAE, augment, then the forest
    scores = model.predict(x_test)                  # the forest's score, higher = more anomalous
    x_synthetic = model.augment(x_train, n=100)
    ```
    """

    trains_on_batches = False  # Algorithm 2 encodes every training row at once

    parameter_constraints = {
        "synthetic_fraction": Interval(float, 0),
        "edge_std": Interval(float, 0),
        "edge_percentile": Interval(float, 0, 100),
    }

    def __init__(
        self,
        input_shape,
        autoencoder=None,
        detector=None,
        synthetic_fraction=0.1,
        edge_std=3.0,
        edge_percentile=90.0,
        seed=None,
        preset="default",
        **kwargs,
    ):
        super().__init__(input_shape, seed=seed, preset=preset, **kwargs)
        detector = self.apply_preset(detector=detector)["detector"]
        self.configure(locals())
        if autoencoder is None:
            autoencoder = AdversarialAutoencoder(input_shape, latent_dim=2, prior_scale=10.0, seed=seed)
        if not isinstance(autoencoder, AdversarialAutoencoder):
            raise invalid_argument("autoencoder", autoencoder, "an AdversarialAutoencoder")
        self.autoencoder = autoencoder
        self.detector = as_downstream(detector, seed)
        for name, component in (("autoencoder", self.autoencoder), ("detector", self.detector)):
            shape = getattr(component, "feature_shape", self.feature_shape)
            if tuple(shape) != self.feature_shape:
                raise ValueError(
                    f"The {name} was built for input shape {tuple(shape)}, DOPING for {self.feature_shape}."
                )
        # (alpha, beta) of the last augment() call, for analysis; NaN before it.
        self.edge_bounds = self.add_weight(
            shape=(2,), initializer=keras.initializers.Constant(np.nan), trainable=False, name="edge_bounds"
        )
        self.built = True

    def preset_values(self, preset):
        # The default recipe swaps the paper's forest for k-NN, the strongest classical
        # detector when training on normal rows (DTE, Livernoche et al., 2024).
        return {"detector": "knn" if preset == "default" else "iforest"}

    # --- training -------------------------------------------------------------------------

    def compile(self, optimizer="auto", **kwargs):
        """Compile the autoencoder (``"auto"``: Adam 1e-4 for its three roles)."""
        self.autoencoder.compile(optimizer=optimizer, **kwargs)

    def fit(self, x=None, y=None, epochs=1, batch_size=None, verbose="auto", detector_fit_kwargs=None, **kwargs):
        """Algorithm 2: train the AAE, synthesise ``synthetic_fraction * len(x)`` edge rows, fit the detector.

        Args:
            x: training rows in [0, 1], an in-memory array (DOPING encodes all of it).
            epochs, batch_size, verbose, **kwargs: the autoencoder's `fit`.
            detector_fit_kwargs: `fit` arguments of a keras_synthad downstream detector
                (``epochs``, ``batch_size``, ...).

        Returns:
            The autoencoder's `History`.
        """
        if x is not None and not is_array_like(x):
            raise ValueError(
                "DOPING.fit() needs the training set as an in-memory array: Algorithm 2 encodes all "
                "of it to find the edge of the latent distribution."
            )
        x, _ = self.check_fit_inputs(x, y, kwargs)
        self.seed_first_fit()
        history = self.autoencoder.fit(x, epochs=epochs, batch_size=batch_size, verbose=verbose, **kwargs)
        synthetic = self.augment(x, round(self.synthetic_fraction * x.shape[0]))
        self.fit_detector(np.concatenate([x, synthetic]), **(detector_fit_kwargs or {}))
        return history

    def fit_detector(self, x, **fit_kwargs):
        """Fit the downstream detector on `x` (normally the training set plus synthetic rows)."""
        if isinstance(self.detector, AnomalyDetector):
            fit_kwargs.setdefault("verbose", 0)
            self.detector.fit(x, **fit_kwargs)
        else:
            self.detector.fit(x)
        return self

    # --- Algorithm 2's sampling ----------------------------------------------------------------

    def edge_set(self, x, batch_size: int | None = None) -> tuple[np.ndarray, np.ndarray, float, float]:
        """Encode `x`; return ``(codes, edge_index, alpha, beta)`` with
        ``edge_index`` the rows whose code norm lies strictly between alpha and beta."""
        codes = self.autoencoder.encode(x, batch_size=batch_size)
        norms = np.linalg.norm(codes, axis=1)
        alpha, beta = edge_bounds(norms, self.edge_std, self.edge_percentile)
        edge_index = np.flatnonzero((norms > alpha) & (norms < beta))
        return codes, edge_index, alpha, beta

    def augment(self, x, n: int, batch_size: int | None = None) -> np.ndarray:
        """``n`` synthetic infrequent-normal rows made from `x` (Algorithm 2); only the synthetic rows.

        Draws ``n`` codes from the edge set (with replacement), interpolates each with
        its nearest latent neighbour among all of `x`'s codes (Algorithm 1), decodes
        them, and clips them to `x`'s per-feature range.
        """
        x = check_features(x, self.feature_shape, min_rows=2)
        n = check_count(n)
        codes, edge_index, alpha, beta = self.edge_set(x, batch_size=batch_size)
        self.edge_bounds.assign(np.asarray([alpha, beta], np.float32))
        if n == 0:
            return np.zeros((0,) + self.feature_shape, np.float32)
        if edge_index.size == 0:
            raise ValueError(
                f"DOPING found no code between alpha={alpha:.4g} and beta={beta:.4g}: the edge set is "
                "empty (too few rows, or all codes at the same norm). Train the autoencoder longer or "
                "pass more rows."
            )
        draw, u = draw_indices_and_weights(n, edge_index.size, self.seed_generator)
        synthetic_codes = inter_nn(codes, edge_index[draw], u)
        rows = self.autoencoder.decode(synthetic_codes, batch_size=batch_size)
        return np.clip(rows, x.min(axis=0), x.max(axis=0)).astype(np.float32)

    def sample_at_norm(self, norm: float, n: int, batch_size: int | None = None) -> np.ndarray:
        """§IV's magnitude-based sampling: decode ``n`` codes drawn uniformly from the sphere
        ``||z|| = norm`` (raw decoder output, not clipped)."""
        n = check_count(n)
        if not float(norm) >= 0:
            raise invalid_argument("norm", norm, ">= 0")
        directions = keras.random.normal((n, self.autoencoder.latent_dim), seed=self.seed_generator)
        directions = ops.convert_to_numpy(directions)
        codes = float(norm) * directions / np.linalg.norm(directions, axis=1, keepdims=True)
        return self.autoencoder.decode(codes.astype(np.float32), batch_size=batch_size)

    # --- scoring ---------------------------------------------------------------------------------

    def call(self, x, training=False):
        return ops.reshape(self.detector(x), (-1,))

    def predict(self, x, batch_size=None, verbose="auto", **kwargs):
        """The downstream detector's scores, shape (n,), higher = more anomalous."""
        if isinstance(self.detector, EstimatorScorer):
            return self.detector.score(check_features(x, self.feature_shape))
        return super().predict(x, batch_size=batch_size, verbose=verbose, **kwargs)

    # --- serialization -------------------------------------------------------------------------

    def get_config(self):
        config = super().get_config()
        config["autoencoder"] = keras.saving.serialize_keras_object(self.autoencoder)
        config["detector"] = keras.saving.serialize_keras_object(self.detector)
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        for key in ("autoencoder", "detector"):
            if isinstance(config.get(key), dict):
                config[key] = keras.saving.deserialize_keras_object(config[key])
        return super().from_config(config)

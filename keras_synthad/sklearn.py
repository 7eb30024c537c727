"""A scikit-learn / PyOD-compatible estimator over any keras_synthad method.

``SynthADDetector(method="DOPING")`` follows PyOD's detector interface, the one
users of anomaly detectors compare against: ``fit(X, y=None)`` (``y`` ignored, as
PyOD does, unless ``known_anomalies=True``), ``decision_function`` (higher = more
anomalous), ``predict`` (0 = normal, 1 = anomaly; ``return_confidence=True``),
``predict_proba`` (``"linear"`` or ``"unify"``), ``predict_confidence``, and after
fitting ``decision_scores_``, ``threshold_`` and ``labels_``. It is a
scikit-learn ``BaseEstimator`` (``get_params``/``set_params``, ``clone``, pipelines,
grid search, pickling).

Inputs are min-max scaled with the training data's statistics (the methods take
[0, 1] features; ``scale=False`` passes them as they are), and the threshold is the
method's own calibrated threshold at ``contamination``.
"""

from __future__ import annotations

import inspect

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted, column_or_1d, validate_data

METHODS = ("FenceGAN", "DOPING", "DA3D", "DHAG", "AdversarialAutoencoder")


class SynthADDetector(BaseEstimator):
    """Any keras_synthad method as a scikit-learn / PyOD detector.

    Args:
        method: the method's class name (``"DOPING"``, ``"FenceGAN"``, ``"DA3D"``,
            ``"DHAG"``, ``"AdversarialAutoencoder"``). The default, DOPING (its default
            preset: k-NN on the rows plus the AAE's edge rows), had the best mean AUROC of
            the four on the peer benchmark's 27 ADBench tables (README, "Against PyOD");
            Fence GAN and DHAG train faster (no 2 x 1000-unit autoencoder), DA3D and DHAG
            also learn from known anomalies (``y = 1``).
        method_params: constructor arguments of the method (``input_shape`` is set
            from the data), e.g. ``{"preset": "paper"}`` for the paper's settings.
        epochs, batch_size: `fit` arguments (the batch is capped at the row count).
        contamination: the expected share of anomalies in the training data; sets
            ``threshold_`` (PyOD's convention), in (0, 0.5].
        scale: min-max scale with the training statistics (the methods expect [0, 1]).
        random_state: seeds Keras (weights, sampling) for repeatable fits on CPU.
        verbose: Keras' `fit` verbosity.
        optimizer: ``"auto"`` (the paper's optimizers) or ``{role: optimizer}`` for some
            roles, e.g. ``{"discriminator": {"class_name": "Adam", "config":
            {"learning_rate": 1e-4}}}``; the others keep the paper's.
        known_anomalies: ``False`` (PyOD's convention): ``fit`` ignores ``y``, so
            ``cross_val_score(est, X, y)`` stays unsupervised. ``True``: ``y = 1`` marks
            known anomalies for the methods that learn from them (DA3D, DHAG).
    """

    def __init__(
        self,
        method="DOPING",
        method_params=None,
        epochs=50,
        batch_size=256,
        contamination=0.1,
        scale=True,
        random_state=None,
        verbose=0,
        optimizer="auto",
        known_anomalies=False,
    ):
        self.method = method
        self.method_params = method_params
        self.epochs = epochs
        self.batch_size = batch_size
        self.contamination = contamination
        self.scale = scale
        self.random_state = random_state
        self.verbose = verbose
        self.optimizer = optimizer
        self.known_anomalies = known_anomalies

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.non_deterministic = self.random_state is None
        tags.input_tags.allow_nan = False
        return tags

    def __getstate__(self):
        """Pickle the fitted model as its ``.keras`` file (backend-neutral), the rest as is."""
        state = dict(self.__dict__)
        if "model_" in state:
            import tempfile
            from pathlib import Path

            with tempfile.TemporaryDirectory() as tmp:
                path = Path(tmp) / "model.keras"
                state["model_"].save(path)
                state["model_"] = path.read_bytes()
        return state

    def __setstate__(self, state):
        if isinstance(state.get("model_"), bytes):
            import tempfile
            from pathlib import Path

            import keras

            import keras_synthad  # noqa: F401  (registers the classes load_model needs)

            with tempfile.TemporaryDirectory() as tmp:
                path = Path(tmp) / "model.keras"
                path.write_bytes(state["model_"])
                state["model_"] = keras.saving.load_model(path)
        self.__dict__.update(state)

    def _scaled(self, X):
        x = np.asarray(X, dtype=np.float32)
        if self.scale:
            x = (x - self.data_min_) / self.data_range_
        return np.ascontiguousarray(x, dtype=np.float32)

    def fit(self, X, y=None):
        """Train the method on `X`; ``y`` (1 = known anomaly) only with ``known_anomalies=True``."""
        import keras

        import keras_synthad

        if self.method not in METHODS:
            raise ValueError(f"Invalid value for `method`: {self.method!r}; expected one of {METHODS}.")
        if not 0.0 < float(self.contamination) <= 0.5:
            raise ValueError(
                f"Invalid value for `contamination`: {self.contamination!r}; expected a value in (0, 0.5]."
            )
        X = validate_data(self, X, dtype=np.float32, ensure_min_samples=2)
        method = getattr(keras_synthad, self.method)
        if self.known_anomalies and not method.supports_known_anomalies:
            supported = [m for m in METHODS if getattr(keras_synthad, m).supports_known_anomalies]
            raise ValueError(
                f"Invalid value for `known_anomalies`: {self.method} learns from normal rows only; "
                f"known anomalies need one of {supported}, or known_anomalies=False."
            )
        if not self.known_anomalies:
            y = None  # PyOD's convention: detectors ignore y
        elif y is None:
            raise ValueError("known_anomalies=True needs `y` in fit(X, y): 1 for each known anomaly, 0 otherwise.")
        if y is not None:
            y = column_or_1d(y).astype(int)
            if len(y) != len(X) or not np.isin(y, (0, 1)).all():
                raise ValueError("`y` must hold one 0 (normal/unlabelled) or 1 (known anomaly) per row of X.")
        self.data_min_ = X.min(axis=0)
        span = X.max(axis=0) - self.data_min_
        self.data_range_ = np.where(span > 0, span, 1.0).astype(np.float32)  # constant columns map to 0
        x = self._scaled(X)
        if self.random_state is not None:
            keras.utils.set_random_seed(int(self.random_state))
        params = dict(self.method_params or {})
        if "seed" in inspect.signature(method.__init__).parameters and self.random_state is not None:
            params.setdefault("seed", int(self.random_state))
        model = method(input_shape=(X.shape[1],), **params)
        model.compile(optimizer=self.optimizer)
        fit_kwargs = {"epochs": self.epochs, "batch_size": int(min(self.batch_size, len(x))), "verbose": self.verbose}
        if y is not None:
            model.fit(x, y, **fit_kwargs)
        else:
            model.fit(x, **fit_kwargs)
        self.model_ = model
        self.threshold_ = float(model.calibrate(x, contamination=float(self.contamination)))
        self.decision_scores_ = np.asarray(model.predict(x, verbose=0), dtype=np.float64).reshape(-1)
        self.labels_ = (self.decision_scores_ > self.threshold_).astype(int)
        return self

    def decision_function(self, X) -> np.ndarray:
        """Anomaly scores, higher = more anomalous."""
        check_is_fitted(self)
        X = validate_data(self, X, dtype=np.float32, reset=False)
        return np.asarray(self.model_.predict(self._scaled(X), verbose=0), dtype=np.float64).reshape(-1)

    def predict(self, X, return_confidence: bool = False):
        """0 = normal, 1 = anomaly (PyOD's convention): above ``threshold_``, or outside the
        training rows' range (the model's range guard, `AnomalyDetector.out_of_range`); with
        ``return_confidence=True`` also `predict_confidence`'s values."""
        scores = self.decision_function(X)
        outside = self.model_.out_of_range(self._scaled(X))
        labels = ((scores > self.threshold_) | outside).astype(int)
        if not return_confidence:
            return labels
        return labels, np.where(outside, 1.0, self._confidence(scores, labels))  # the guard's flags are certain

    def predict_proba(self, X, method: str = "linear", return_confidence: bool = False) -> np.ndarray:
        """``[P(normal), P(anomaly)]`` per row, from the score as PyOD computes it.

        ``"linear"``: the score min-max scaled by the training scores, clipped to [0, 1].
        ``"unify"``: ``erf((s - mean) / (std * sqrt(2)))`` of the training scores' mean and
        standard deviation, clipped to [0, 1] (Kriegel et al., 2011, "Interpreting and
        unifying outlier scores").
        """
        from scipy.special import erf

        scores = self.decision_function(X)
        train = self.decision_scores_
        if method == "linear":
            low, high = train.min(), train.max()
            anomaly = (scores - low) / (high - low if high > low else 1.0)
        elif method == "unify":
            spread = train.std()
            anomaly = erf((scores - train.mean()) / ((spread if spread > 0 else 1.0) * np.sqrt(2.0)))
        else:
            raise ValueError(f"Invalid value for `method`: {method!r}; expected 'linear' or 'unify'.")
        anomaly = np.clip(anomaly, 0.0, 1.0)
        probs = np.column_stack([1.0 - anomaly, anomaly])
        if return_confidence:
            return probs, self._confidence(scores, (scores > self.threshold_).astype(int))
        return probs

    def predict_confidence(self, X) -> np.ndarray:
        """How sure each label is, in [0, 1] (ExCeeD, Perini et al., 2020, as PyOD computes it).

        A row whose score exceeds ``k`` of the ``n`` training scores is an anomaly with
        posterior probability ``p = (1 + k) / (2 + n)``; the confidence in calling it
        anomalous is ``P(Binomial(n, p) > n - floor(n * contamination))``, and one minus
        that for rows labelled normal.
        """
        scores = self.decision_function(X)
        return self._confidence(scores, (scores > self.threshold_).astype(int))

    def _confidence(self, scores, labels) -> np.ndarray:
        from scipy.stats import binom

        train = np.sort(self.decision_scores_)
        n = len(train)
        below = np.searchsorted(train, scores, side="right")  # training scores <= each score
        posterior = (1.0 + below) / (2.0 + n)
        anomalous = binom.sf(n - int(n * float(self.contamination)), n, posterior)
        return np.where(labels == 1, anomalous, 1.0 - anomalous)

    def fit_predict(self, X, y=None) -> np.ndarray:
        """`fit`, then the training rows' labels (``labels_``)."""
        return self.fit(X, y).labels_

"""The scikit-learn / PyOD face: `SynthADDetector` over any method."""

import pickle

import keras
import numpy as np
import pytest
from sklearn.base import clone
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import check_estimator

from keras_synthad.sklearn import SynthADDetector

TINY = {
    "encirclement": "bce",
    "latent_dim": 2,
    "generator_units": [8],
    "discriminator_units": [8],
    "generator_dropout": 0.0,
}

# scikit-learn's checks that do not apply, and why:
EXPECTED_FAILURES = {
    "check_methods_sample_order_invariance": "float32 networks: the rows' order changes the last bits of a batched "
    "matmul (measured 3e-7), the check allows 1e-7",
    "check_methods_subset_invariance": "float32 networks: scoring a subset changes the last bits of a batched matmul",
}


def tiny(**kwargs) -> SynthADDetector:
    params = {"method": "FenceGAN", "method_params": TINY, "epochs": 2, "batch_size": 32, "random_state": 0}
    params.update(kwargs)
    return SynthADDetector(**params)


@pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="the wrapper's code is backend-free; slow")
def test_passes_scikit_learns_estimator_checks():
    check_estimator(tiny(), expected_failed_checks=EXPECTED_FAILURES)


def test_pyod_interface_and_separation(normal_data, far_data):
    detector = tiny(
        method="AdversarialAutoencoder",
        method_params={"latent_dim": 2, "prior_scale": 1.0, "hidden_units": [32, 32], "learning_rate": 1e-3},
        epochs=30,
        contamination=0.05,
    )
    assert detector.fit(normal_data) is detector
    assert detector.decision_scores_.shape == (len(normal_data),)
    assert abs(detector.labels_.mean() - 0.05) < 0.02
    x = np.concatenate([normal_data[:200], far_data])
    y = np.r_[np.zeros(200), np.ones(len(far_data))]
    scores = detector.decision_function(x)
    assert roc_auc_score(y, scores) > 0.9
    inside = ~detector.model_.out_of_range(detector._scaled(x))
    assert inside[:200].all() and not inside[200:].all()  # the far corners leave the training range
    labels = detector.predict(x)
    np.testing.assert_array_equal(labels[inside], (scores[inside] > detector.threshold_).astype(int))
    assert labels[~inside].all()  # the range guard flags every row outside the training range
    assert detector.predict(normal_data[:50] * 100.0).all()  # e.g. rows in other units
    proba = detector.predict_proba(x)
    assert proba.shape == (len(x), 2) and np.allclose(proba.sum(axis=1), 1.0) and (proba >= 0).all()
    restored = pickle.loads(pickle.dumps(detector))
    np.testing.assert_allclose(restored.decision_function(x), scores, rtol=1e-5, atol=1e-6)


def test_works_in_pipelines_and_clones(normal_data):
    pipeline = make_pipeline(StandardScaler(), tiny(contamination=0.1))
    labels = pipeline.fit(normal_data).predict(normal_data)
    assert labels.shape == (len(normal_data),)
    copy = clone(tiny(epochs=3))
    assert copy.get_params()["epochs"] == 3 and not hasattr(copy, "model_")


def test_bad_inputs_are_named(normal_data):
    with pytest.raises(ValueError, match="`method`"):
        tiny(method="Nope").fit(normal_data)
    with pytest.raises(ValueError, match="`contamination`"):
        tiny(contamination=0.9).fit(normal_data)
    bad = normal_data.copy()
    bad[3, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        tiny().fit(bad)
    fitted = tiny().fit(normal_data)
    with pytest.raises(ValueError, match="features"):
        fitted.decision_function(normal_data[:, :3])


def test_dhag_skips_a_last_batch_of_k_rows_or_fewer():
    # 286 rows at batch 256 leave 30 rows, fewer than K = 50: DHAG.fit alone refuses that (eq. 1).
    x = np.random.default_rng(0).random((286, 4)).astype("float32")
    params = {"k": 50, "n_perturbators": 2, "encoder_units": [8], "perturbator_units": 8}
    detector = SynthADDetector("DHAG", params, epochs=2, batch_size=256, random_state=0).fit(x)
    assert np.isfinite(detector.decision_scores_).all() and detector.labels_.shape == (286,)


def test_pyod_extras_match_pyods_own_formulas(normal_data, far_data):
    from pyod.models.base import BaseDetector

    detector = tiny(contamination=0.05).fit(normal_data)
    x = np.concatenate([normal_data[:100], far_data[:50]])
    scores = detector.decision_function(x)

    class Same(BaseDetector):  # PyOD's base class, scoring with our scores
        def __init__(self, contamination):
            super().__init__(contamination=contamination)

        def fit(self, X, y=None):
            return self

        def decision_function(self, X):
            return scores

    pyod = Same(contamination=0.05)
    pyod.decision_scores_, pyod.threshold_, pyod.labels_ = detector.decision_scores_, detector.threshold_, None
    pyod.labels_ = (pyod.decision_scores_ > pyod.threshold_).astype(int)
    pyod._mu, pyod._sigma, pyod._classes = pyod.decision_scores_.mean(), pyod.decision_scores_.std(), 2
    for method in ("linear", "unify"):
        np.testing.assert_allclose(
            detector.predict_proba(x, method=method), pyod.predict_proba(x, method=method), atol=1e-12
        )
    np.testing.assert_allclose(detector.predict_confidence(x), pyod.predict_confidence(x), atol=1e-12)
    labels, confidence = detector.predict(x, return_confidence=True)
    np.testing.assert_array_equal(labels, detector.predict(x))
    assert confidence.shape == (len(x),) and ((confidence >= 0) & (confidence <= 1)).all()
    assert confidence[100:].mean() > 0.9  # far rows: confidently anomalous
    with pytest.raises(ValueError, match="'linear' or 'unify'"):
        detector.predict_proba(x, method="sigmoid")


def test_y_is_ignored_unless_known_anomalies_are_asked_for(normal_data):
    x = normal_data[:256]
    y = np.r_[np.ones(20), np.zeros(len(x) - 20)]
    params = {"k": 16, "n_perturbators": 2, "encoder_units": [8], "perturbator_units": 8}
    plain = SynthADDetector("DHAG", params, epochs=2, batch_size=64, random_state=0).fit(x)
    with_y = SynthADDetector("DHAG", params, epochs=2, batch_size=64, random_state=0).fit(x, y)  # as cross_val_score
    np.testing.assert_allclose(with_y.decision_scores_, plain.decision_scores_, rtol=1e-5, atol=1e-6)
    known = SynthADDetector("DHAG", params, epochs=2, batch_size=64, random_state=0, known_anomalies=True).fit(x, y)
    assert not np.allclose(known.decision_scores_, plain.decision_scores_)  # y = 1 rows joined training as anomalies
    with pytest.raises(ValueError, match="`known_anomalies`: FenceGAN learns from normal rows only"):
        tiny(known_anomalies=True).fit(x, y)
    with pytest.raises(ValueError, match="needs `y`"):
        SynthADDetector("DHAG", params, known_anomalies=True).fit(x)

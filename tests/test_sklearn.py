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
    assert set(np.unique(detector.predict(x))) <= {0, 1}
    np.testing.assert_array_equal(detector.predict(x), (scores > detector.threshold_).astype(int))
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

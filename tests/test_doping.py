"""DOPING: edge sampling, InterNN, downstream detectors, round trips, bad inputs."""

import keras
import numpy as np
import pytest
from conftest import plane_data, tiny_aae, tiny_fence_gan
from sklearn.ensemble import IsolationForest

import keras_synthad as ks
from keras_synthad import metrics
from keras_synthad.augmentation import inter_nn, nearest_other
from keras_synthad.methods.doping import edge_bounds


def far_rows(n=100, seed=1):
    """Rows off the training surface (third and fourth columns inconsistent with the first two)."""
    rng = np.random.default_rng(seed)
    return np.concatenate([rng.uniform(0, 0.2, (n, 2)), rng.uniform(0.8, 1.0, (n, 2))], axis=1).astype("float32")


@pytest.fixture(scope="module")
def fitted():
    keras.utils.set_random_seed(0)
    model = ks.DOPING(input_shape=(4,), autoencoder=tiny_aae(), seed=0, preset="paper")
    model.fit(plane_data(), epochs=60, batch_size=100, verbose=0)
    return model


def test_default_preset_scores_with_nearest_neighbours_and_round_trips(tmp_path):
    keras.utils.set_random_seed(0)
    model = ks.DOPING(input_shape=(4,), autoencoder=tiny_aae(), seed=0)
    model.fit(plane_data(), epochs=5, batch_size=100, verbose=0)
    assert isinstance(model.detector, ks.NearestNeighborScorer)
    x = np.concatenate([plane_data(50, seed=3), far_rows(50)])
    scores = model.predict(x, verbose=0)
    assert metrics.roc_auc(np.r_[np.zeros(50), np.ones(50)], scores) > 0.95
    model.save(tmp_path / "knn.keras")
    restored = keras.saving.load_model(tmp_path / "knn.keras")
    assert restored.preset == "default" and isinstance(restored.detector, ks.NearestNeighborScorer)
    np.testing.assert_allclose(restored.predict(x, verbose=0), scores, atol=1e-5)


def test_augment_returns_the_requested_rows_inside_the_data_range(fitted):
    x = plane_data(500, seed=2)
    synthetic = fitted.augment(x, 123)
    assert synthetic.shape == (123, 4) and synthetic.dtype == np.float32
    assert np.all(synthetic >= x.min(axis=0)) and np.all(synthetic <= x.max(axis=0))
    assert fitted.augment(x, 0).shape == (0, 4)


def test_edge_vectors_lie_between_alpha_and_beta(fitted):
    fitted.augment(plane_data(), 1)  # records (alpha, beta) in the edge_bounds weight
    codes, edge_index, alpha, beta = fitted.edge_set(plane_data())
    norms = np.linalg.norm(codes, axis=1)
    assert 0 < edge_index.size < len(codes)
    assert np.all((norms[edge_index] > alpha) & (norms[edge_index] < beta))
    outside = np.setdiff1d(np.arange(len(codes)), edge_index)
    assert np.all((norms[outside] <= alpha) | (norms[outside] >= beta))
    np.testing.assert_allclose(keras.ops.convert_to_numpy(fitted.edge_bounds), [alpha, beta], rtol=1e-5)


def test_edge_bounds_follow_section_3a():
    norms = np.concatenate([np.arange(100.0), [1000.0]])
    alpha, beta = edge_bounds(norms)
    assert beta == pytest.approx(norms.mean() + 3 * norms.std())
    assert alpha == pytest.approx(np.percentile(norms[norms < beta], 90))


def test_synthetic_rows_come_from_the_edge(fitted):
    x = plane_data()
    codes = fitted.autoencoder.encode(fitted.augment(x, 300))
    norms = np.linalg.norm(fitted.autoencoder.encode(x), axis=1)
    # Decoded edge codes re-encode far out: most above the training codes' median norm.
    assert np.median(np.linalg.norm(codes, axis=1)) > np.median(norms)


def test_inter_nn_interpolates_towards_the_nearest_other_point():
    pool = np.array([[0.0, 0.0], [1.0, 0.0], [5.0, 5.0], [0.0, 0.0]], "float32")
    assert nearest_other(pool, np.array([2]))[0] == 1
    assert nearest_other(pool, np.array([0]))[0] == 3  # its duplicate, not itself
    out = inter_nn(pool, np.array([1, 1, 2]), np.array([0.0, 0.5, 1.0]))
    np.testing.assert_allclose(out, [[1.0, 0.0], [0.5, 0.0], [1.0, 0.0]])


def test_smote_variant_interpolates_between_training_rows():
    x = plane_data(300)
    synthetic = ks.SMOTEVariant(seed=0).augment(x, 40)
    assert synthetic.shape == (40, 4)
    assert np.all(synthetic >= x.min(axis=0) - 1e-6) and np.all(synthetic <= x.max(axis=0) + 1e-6)
    # Each synthetic row lies on a segment between two training rows: close to the data.
    nearest = np.min(np.linalg.norm(synthetic[:, None] - x[None], axis=2), axis=1)
    assert nearest.max() < 0.1
    with pytest.raises(ValueError, match="argument `n`"):
        ks.SMOTEVariant().augment(x, -1)


def test_doping_scores_anomalies_higher(fitted):
    x = np.concatenate([plane_data(200, seed=3), far_rows()])
    y = np.r_[np.zeros(200), np.ones(100)]
    scores = fitted.predict(x, verbose=0)
    assert scores.shape == (300,)
    assert metrics.roc_auc(y, scores) > 0.9


def test_isolation_forest_scorer_matches_scikit_learn():
    x, x_test = plane_data(600), far_rows(200)
    scorer = ks.IsolationForestScorer(n_estimators=30, max_features=0.75, random_state=3).fit(x)
    forest = IsolationForest(n_estimators=30, max_features=0.75, random_state=3).fit(x)
    np.testing.assert_allclose(scorer.score(x_test), -forest.score_samples(x_test), atol=1e-6)


def test_round_trip_with_the_forest(fitted, tmp_path):
    path = tmp_path / "doping.keras"
    fitted.save(path)
    restored = keras.saving.load_model(path)
    x = np.concatenate([plane_data(50), far_rows(50)])
    np.testing.assert_allclose(restored.predict(x, verbose=0), fitted.predict(x, verbose=0), atol=1e-6)
    np.testing.assert_allclose(restored.autoencoder.encode(x), fitted.autoencoder.encode(x), atol=1e-6)
    assert isinstance(restored.detector, ks.IsolationForestScorer)


def test_any_keras_synthad_method_as_detector(tmp_path):
    model = ks.DOPING(input_shape=(4,), autoencoder=tiny_aae(), detector=tiny_fence_gan(), seed=0)
    model.fit(plane_data(300), epochs=3, batch_size=100, verbose=0, detector_fit_kwargs={"epochs": 2})
    # 300 rows + 30 synthetic, batch 32: 11 steps per epoch, 2 epochs.
    assert int(model.detector.optimizer.iterations) == 2 * 11
    path = tmp_path / "doping_fence_gan.keras"
    model.save(path)
    restored = keras.saving.load_model(path)
    assert isinstance(restored.detector, ks.FenceGAN)
    x = plane_data(20, seed=5)
    np.testing.assert_allclose(restored.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-6)


def test_scikit_learn_estimator_pickle_needs_safe_mode_off(tmp_path):
    from sklearn.neighbors import LocalOutlierFactor

    model = ks.DOPING(
        input_shape=(4,), autoencoder=tiny_aae(), detector=LocalOutlierFactor(n_neighbors=10, novelty=True), seed=0
    )
    model.fit(plane_data(300), epochs=3, batch_size=100, verbose=0)
    x = np.concatenate([plane_data(100, seed=4), far_rows(100)])
    scores = model.predict(x)
    assert metrics.roc_auc(np.r_[np.zeros(100), np.ones(100)], scores) > 0.9  # sign flipped: higher = anomalous
    path = tmp_path / "doping_lof.keras"
    model.save(path)
    with pytest.raises(ValueError, match="safe_mode=False"):
        keras.saving.load_model(path)
    restored = keras.saving.load_model(path, safe_mode=False)
    np.testing.assert_allclose(restored.predict(x), scores, atol=1e-6)


def test_pyod_detector_keeps_its_score_direction():
    from pyod.models.knn import KNN

    model = ks.DOPING(input_shape=(4,), autoencoder=tiny_aae(), detector=KNN(n_neighbors=5), seed=0)
    model.fit(plane_data(300), epochs=3, batch_size=100, verbose=0)
    scores = model.predict(np.concatenate([plane_data(100, seed=4), far_rows(100)]))
    assert metrics.roc_auc(np.r_[np.zeros(100), np.ones(100)], scores) > 0.9


def test_magnitude_sampling_decodes_rings(fitted):
    rows = fitted.sample_at_norm(3.0, 64)
    assert rows.shape == (64, 4) and np.isfinite(rows).all()
    codes = fitted.autoencoder.encode(rows)
    near = fitted.autoencoder.encode(fitted.sample_at_norm(0.5, 64))
    assert np.median(np.linalg.norm(codes, axis=1)) > np.median(np.linalg.norm(near, axis=1))


def test_bad_inputs_raise(fitted):
    with pytest.raises(ValueError, match="argument `detector`"):
        ks.DOPING(input_shape=(4,), detector=42)
    with pytest.raises(ValueError, match="argument `autoencoder`"):
        ks.DOPING(input_shape=(4,), autoencoder="aae")
    with pytest.raises(ValueError, match="input shape"):
        ks.DOPING(input_shape=(4,), autoencoder=tiny_aae(width=5))
    with pytest.raises(ValueError, match="argument `synthetic_fraction`"):
        ks.DOPING(input_shape=(4,), autoencoder=tiny_aae(), synthetic_fraction=-0.1)
    with pytest.raises(ValueError, match="argument `n`"):
        fitted.augment(plane_data(10), 2.5)
    with pytest.raises(ValueError, match="NaN|finite"):
        fitted.augment(np.full((10, 4), np.nan, "float32"), 3)
    with pytest.raises(ValueError, match="wrong width"):
        fitted.predict(np.zeros((3, 5), "float32"))
    with pytest.raises(ValueError, match="in-memory array"):
        fitted.fit(iter([plane_data(10)]))
    with pytest.raises(ValueError, match="not fitted"):
        ks.IsolationForestScorer().score(plane_data(3))


def test_contamination_sweep():
    y = np.r_[np.zeros(90), np.ones(10)]
    test_scores = np.r_[np.linspace(0, 0.9, 90), np.linspace(2, 3, 10)]
    train_scores = np.linspace(0, 1, 1000)
    sweep = metrics.contamination_sweep(train_scores, test_scores, y, np.arange(0.01, 0.70, 0.02))
    assert sweep["best_f1"] == pytest.approx(1.0)  # at c = 0.01 only the anomalies pass the threshold
    assert sweep["best_g"] == pytest.approx(1.0)
    assert 0.5 < sweep["sweep_auc"] <= 1.0
    with pytest.raises(ValueError, match="contaminations"):
        metrics.contamination_sweep(train_scores, test_scores, y, [0.0, 0.5])


@pytest.mark.parametrize("method", ["largest", "mean"])
def test_nearest_neighbor_scorer_equals_pyods_knn(method):
    from pyod.models.knn import KNN

    rng = np.random.default_rng(0)
    train, test = rng.uniform(size=(300, 5)).astype("float32"), rng.uniform(size=(40, 5)).astype("float32")
    scorer = ks.NearestNeighborScorer(n_neighbors=5, method=method).fit(train)
    expected = KNN(n_neighbors=5, method=method).fit(train).decision_function(test)
    np.testing.assert_allclose(scorer.score(test), expected, rtol=1e-4, atol=1e-5)


def test_nearest_neighbor_scorer_refuses_bad_settings():
    with pytest.raises(ValueError, match="argument `n_neighbors`"):
        ks.NearestNeighborScorer(n_neighbors=0)
    with pytest.raises(ValueError, match="argument `method`"):
        ks.NearestNeighborScorer(method="median")
    with pytest.raises(ValueError, match="more than n_neighbors=5 rows"):
        ks.NearestNeighborScorer().fit(np.zeros((5, 2), "float32"))

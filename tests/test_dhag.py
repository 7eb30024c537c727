"""DHAG: K-smallest relabelling, diversifying perturbators, known anomalies, round trip, bad inputs."""

import keras
import numpy as np
import pytest
from conftest import blob_images
from keras import ops

import keras_synthad as ks
from keras_synthad import losses, metrics
from keras_synthad.data import load_adbench
from keras_synthad.methods.dhag import FullBatches

# The authors' code settings for Thyroid (Frobenius norm, signed cosine, linear head),
# with a smaller K for the small batches used here.
CODE = dict(norm="frobenius", diversity="signed", discriminator="linear", lambda_norm=1.0, lambda_div=0.1)


@pytest.fixture(scope="module")
def thyroid():
    """GOAD/NeuTraLAD split: half of the normal rows for training, z-scored with their statistics."""
    x, y = load_adbench("38_thyroid")
    rng = np.random.default_rng(0)
    normal, anomalies = x[y == 0], x[y == 1]
    order = rng.permutation(len(normal))
    train, test = normal[order[:1024]], np.concatenate([normal[order[1836:]], anomalies])
    mean, std = train.mean(0), train.std(0) + 1e-4
    y_test = np.r_[np.zeros(len(test) - len(anomalies)), np.ones(len(anomalies))]
    return ((train - mean) / std).astype("float32"), ((test - mean) / std).astype("float32"), y_test


@pytest.fixture(scope="module")
def trained(thyroid):
    keras.utils.set_random_seed(0)
    model = ks.DHAG((6,), k=50, n_perturbators=3, seed=0, preset="paper", **CODE)
    model.fit(thyroid[0], epochs=100, batch_size=256, verbose=0)
    return model


def test_exactly_k_rows_per_perturbator_are_pseudo_normal():
    norms = ops.convert_to_tensor(np.random.default_rng(0).exponential(size=(4, 64)).astype("float32"))
    labels = ops.convert_to_numpy(losses.k_smallest_labels(norms, 10))
    assert labels.shape == (4, 64) and np.all((64 - labels.sum(axis=1)) == 10)
    smallest = np.argsort(ops.convert_to_numpy(norms), axis=1)[:, :10]
    assert np.all(np.take_along_axis(labels, smallest, axis=1) == 0)
    ties = ops.convert_to_numpy(losses.k_smallest_labels(ops.ones((64,)), 10))
    assert ties.sum() == 54  # ties still give exactly K normals


def test_pseudo_labels_skip_known_anomalies():
    model = ks.DHAG((6,), k=5, n_perturbators=2, seed=0)
    eps = ops.convert_to_tensor(np.random.default_rng(1).normal(size=(2, 20, model.latent_dim)).astype("float32"))
    normal = np.ones(20, "float32")
    normal[:8] = 0.0  # eight known anomalies
    labels = ops.convert_to_numpy(model.pseudo_labels(eps, ops.convert_to_tensor(normal)))
    assert np.all((labels == 0).sum(axis=1) == 5)
    assert np.all(labels[:, :8] == 1)  # never among the K normals


def test_discriminator_separates_anomalies(trained, thyroid):
    _, test, y_test = thyroid
    scores = trained.predict(test, verbose=0)
    assert scores.shape == (len(test),) and np.all((scores >= 0) & (scores <= 1))
    assert metrics.roc_auc(y_test, scores) > 0.85


def test_stacked_perturbations_equal_each_perturbators_own_output(trained, thyroid):
    x = ops.convert_to_tensor(thyroid[0][:32])
    noises = [trained.sample_noise(x) for _ in range(trained.n_perturbators)]
    stacked = ops.convert_to_numpy(trained.perturbations(x, noises))
    assert stacked.shape == (3, 32, trained.latent_dim) and np.abs(stacked).max() > 0
    for g, noise, eps in zip(trained.perturbators, noises, stacked, strict=True):
        np.testing.assert_allclose(eps, ops.convert_to_numpy(g([x, noise])), rtol=1e-5, atol=1e-6)


def test_trivial_anomalies_mix_swapped_rows_near_the_data_with_far_gaussian_rows():
    m, d = 400, 6
    rows = (np.arange(m * d, dtype="float32").reshape(m, d) + 1) / (m * d)  # every value distinct, in (0, 1]
    model = ks.DHAG((d,), seed=0)
    assert (model.trivial_swapped, model.swap_rate) == (0.5, 0.25)
    swapped = ops.convert_to_numpy(model.swap_features(ops.convert_to_tensor(rows), 0.25))
    for j in range(d):
        assert np.isin(swapped[:, j], rows[:, j]).all()  # each column keeps its own values
    assert 0.2 < (swapped != rows).mean() < 0.3  # a quarter of the values, drawn from other rows
    assert len({tuple(r) for r in swapped} - {tuple(r) for r in rows}) > m / 2  # new combinations

    def from_the_data(trivial):
        return np.all([np.isin(trivial[:, j], rows[:, j]) for j in range(d)], axis=0)

    trivial = ops.convert_to_numpy(model.trivial_anomalies(ops.convert_to_tensor(rows), 0.5, model.swap_rate))
    assert 0.4 < from_the_data(trivial).mean() < 0.6  # the others are N(0.5, 1) rows
    assert not from_the_data(ops.convert_to_numpy(model.trivial_anomalies(ops.convert_to_tensor(rows)))).any()
    assert ks.DHAG((d,), preset="paper").trivial_swapped == 0.0


def test_perturbations_become_less_similar(thyroid):
    keras.utils.set_random_seed(0)
    model = ks.DHAG((6,), k=50, n_perturbators=3, lambda_norm=0.1, lambda_div=1.0, seed=0, preset="paper")
    before = model.perturbation_similarity(thyroid[0])
    model.fit(thyroid[0], epochs=10, batch_size=256, verbose=0)
    after = model.perturbation_similarity(thyroid[0])
    assert after < before * 0.7, (before, after)


def test_one_gradient_with_per_role_learning_rates(thyroid):
    """Algorithm 1: every network steps on L_total; the discriminator at eta_2 = 1e-5 moves far less."""
    model = ks.DHAG((6,), k=50, n_perturbators=2, seed=0, preset="paper")
    before = {v.path: ops.convert_to_numpy(v).copy() for v in model.trainable_variables}
    model.fit(thyroid[0][:256], epochs=1, batch_size=256, verbose=0)
    moved = {
        role: max(np.abs(ops.convert_to_numpy(v) - before[v.path]).max() for v in model._role_variables(role))
        for role in ("encoder", "perturbators", "discriminator")
    }
    # Adam's first step moves each weight by about its learning rate.
    assert moved["encoder"] == pytest.approx(5e-3, rel=0.05) and moved["perturbators"] == pytest.approx(5e-3, rel=0.05)
    assert moved["discriminator"] == pytest.approx(1e-5, rel=0.05)


def test_a_frozen_role_keeps_its_weights_while_the_others_train(thyroid):
    """Perturbators frozen by the user: their role has no trainable variables, and the one
    gradient of L_total still steps the encoder and the discriminator."""
    model = ks.DHAG((6,), k=50, n_perturbators=2, seed=0, preset="paper")
    for perturbator in model.perturbators:
        perturbator.trainable = False
    before = {v.path: ops.convert_to_numpy(v).copy() for v in model.weights}
    history = model.fit(thyroid[0][:512], epochs=1, batch_size=256, verbose=0)
    moved = {
        role: max(np.abs(ops.convert_to_numpy(v) - before[v.path]).max() for n in networks for v in n.weights)
        for role, networks in model.roles().items()
    }
    assert np.isfinite(history.history["loss"]).all()
    assert moved["perturbators"] == 0.0 and moved["encoder"] > 0.0 and moved["discriminator"] > 0.0


def test_a_single_perturbator_trains(thyroid):
    model = ks.DHAG((6,), k=50, n_perturbators=1, seed=0, preset="paper")  # §5.3's L = 1 ablation: no pair for L_div
    history = model.fit(thyroid[0], epochs=2, batch_size=256, verbose=0)
    assert np.isfinite(history.history["loss"]).all() and model.perturbation_similarity(thyroid[0]) == 0.0


def test_adversarial_objective_trains(thyroid):
    model = ks.DHAG((6,), k=50, n_perturbators=2, objective="adversarial", seed=0, preset="paper")
    history = model.fit(thyroid[0], epochs=2, batch_size=256, verbose=0)
    assert np.isfinite(history.history["loss"]).all()
    assert {o.name for o in model.optimizer.optimizers} == {"encoder", "perturbators", "discriminator"}


def test_known_anomalies_raise_their_own_scores(thyroid):
    train, test, y_test = thyroid
    known = test[y_test == 1][:20]
    x = np.concatenate([train, known])
    y = np.r_[np.zeros(len(train)), np.ones(len(known))]
    scores = {}
    for labelled in (False, True):
        keras.utils.set_random_seed(0)
        model = ks.DHAG((6,), k=50, n_perturbators=3, seed=0, **CODE, preset="paper")
        model.fit(x, y if labelled else None, epochs=15, batch_size=256, drop_remainder=True, verbose=0)
        scores[labelled] = model.predict(known, verbose=0).mean()
    assert scores[True] > scores[False] + 0.1, scores


def test_images_train_and_score():
    images = blob_images(256, size=28)
    model = ks.DHAG((28, 28, 1), k=20, n_perturbators=2, seed=0)
    assert model.latent_dim == 3 * 3 * 64
    model.fit(images, epochs=1, batch_size=128, verbose=0)
    assert model.predict(images[:4], verbose=0).shape == (4,)


def test_round_trip(trained, thyroid, tmp_path):
    path = tmp_path / "dhag.keras"
    trained.save(path)
    restored = keras.saving.load_model(path)
    assert isinstance(restored, ks.DHAG) and restored.k == 50 and restored.norm == "frobenius"
    np.testing.assert_allclose(
        restored.predict(thyroid[1][:50], verbose=0), trained.predict(thyroid[1][:50], verbose=0), atol=1e-6
    )


def test_full_batches_reshuffle_and_skip_the_remainder():
    data = FullBatches(np.arange(10, dtype="float32")[:, None], None, batch_size=4, seed=0)
    assert len(data) == 2 and data[0].shape == (4, 1)
    first = np.concatenate([data[0], data[1]]).ravel()
    data.on_epoch_end()
    assert len(set(first)) == 8 and not np.array_equal(first, np.concatenate([data[0], data[1]]).ravel())


@pytest.mark.parametrize("preset", ["default", "paper"])
def test_any_batch_size_trains(preset):
    """Keras' default batch of 32 on 150 rows (k = 50 or 64 > 32), and a last batch of 22 rows."""
    rows = np.random.default_rng(0).uniform(size=(278, 6)).astype("float32")
    model = ks.DHAG((6,), n_perturbators=2, seed=0, preset=preset)
    history = model.fit(rows[:150], epochs=2, verbose=0)
    assert np.isfinite(history.history["loss"]).all()
    history = model.fit(rows, epochs=1, batch_size=128, verbose=0)
    assert np.isfinite(history.history["loss"]).all()
    labels = ops.convert_to_numpy(
        model.pseudo_labels(ops.ones((1, 20, 3)) * np.arange(20.0)[None, :, None], ops.ones((20,)))
    )
    assert labels.sum() == 10  # a batch of k rows or fewer: its smaller half is labelled normal


def test_bad_inputs_raise(thyroid):
    model = ks.DHAG((6,), k=50, n_perturbators=2, seed=0, preset="paper")
    model.fit(thyroid[0][:286], epochs=1, batch_size=256, drop_remainder=True, verbose=0)
    # Fewer rows than the batch: one batch of every row (it used to leave Keras no batch at all).
    history = model.fit(thyroid[0][:140], epochs=2, batch_size=256, drop_remainder=True, verbose=0)
    assert len(history.history["loss"]) == 2 and np.isfinite(history.history["loss"]).all()
    with pytest.raises(ValueError, match="argument `objective`"):
        ks.DHAG((6,), objective="maximize")
    with pytest.raises(ValueError, match="argument `diversity`"):
        ks.DHAG((6,), diversity="euclidean")
    with pytest.raises(ValueError, match="argument `n_perturbators`"):
        ks.DHAG((6,), n_perturbators=0)
    with pytest.raises(ValueError, match="argument `input_shape`"):
        ks.DHAG((30, 30, 1))  # the encoder's and perturbators' maps disagree
    with pytest.raises(ValueError, match="wrong width"):
        model.predict(np.zeros((2, 5), "float32"))

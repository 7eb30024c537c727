"""AdversarialAutoencoder: codes follow the prior, three separate role updates, clipping, round trip."""

import math

import keras
import numpy as np
import pytest
from conftest import blob_images, plane_data, tiny_aae, tiny_conv_aae

import keras_synthad as ks


@pytest.fixture(scope="module")
def trained_aae():
    keras.utils.set_random_seed(0)
    model = tiny_aae(learning_rate=5e-4)
    model.fit(plane_data(), epochs=200, batch_size=100, verbose=0)
    return model


def test_codes_follow_the_prior(trained_aae):
    codes = trained_aae.encode(plane_data())
    assert codes.shape == (1000, 2)
    # Prior N(0, 1) per dimension (untrained codes sit in a ball of radius ~0.1). The
    # adversarial game oscillates, hence the tolerance: with a new shuffle every epoch the
    # codes' mean after 200 epochs lies within .65 of 0 on every backend at this seed.
    assert np.all(np.abs(codes.mean(axis=0)) < 0.75), codes.mean(axis=0)
    assert np.all((codes.std(axis=0) > 0.6) & (codes.std(axis=0) < 1.4)), codes.std(axis=0)
    assert abs(np.corrcoef(codes.T)[0, 1]) < 0.4


def test_decode_reconstructs(trained_aae):
    x = plane_data(200, seed=1)
    reconstruction = trained_aae.decode(trained_aae.encode(x))
    assert reconstruction.shape == x.shape
    assert np.mean((reconstruction - x) ** 2) < 0.01
    np.testing.assert_allclose(trained_aae.predict(x, verbose=0), np.mean((reconstruction - x) ** 2, axis=1), atol=1e-5)


def test_each_role_has_its_own_optimizer_state():
    model = tiny_aae()
    model.fit(plane_data(200), epochs=1, batch_size=50, verbose=0)
    inner = {o.name: o for o in model.optimizer.optimizers}
    assert set(inner) == {"reconstruction", "discriminator", "generator"}
    assert all(int(o.iterations) == 4 for o in inner.values())
    # The encoder is updated by two roles with separate Adam moments.
    encoder_vars = len(model.encoder.trainable_variables)
    slots = [v for v in inner["generator"].variables if v.path.endswith(("_momentum", "_velocity"))]
    assert len(slots) == 2 * encoder_vars
    assert int(model.optimizer.iterations) == 4


def test_discriminator_update_leaves_encoder_alone():
    model = tiny_aae()
    model.compile()
    x = keras.ops.convert_to_tensor(plane_data(64))
    before = [keras.ops.convert_to_numpy(v) for v in model.encoder.trainable_variables]
    model.update_role("discriminator", lambda: model.discriminator_loss(x, model.sample_prior(64)))
    after = [keras.ops.convert_to_numpy(v) for v in model.encoder.trainable_variables]
    for b, a in zip(before, after, strict=True):
        np.testing.assert_array_equal(b, a)


def test_wasserstein_weight_clipping_holds():
    model = tiny_aae(adversarial="wasserstein", clip="weights", clip_value=0.01)
    model.fit(plane_data(200), epochs=1, batch_size=50, verbose=0)
    for v in model.discriminator.trainable_variables:
        assert np.abs(keras.ops.convert_to_numpy(v)).max() <= 0.01 + 1e-7, v.path


def test_gradient_norm_clipping_goes_to_the_critic_optimizer():
    model = tiny_aae(adversarial="wasserstein", clip="gradient_norm", clip_value=0.05)
    optimizers = model.default_optimizers()
    assert optimizers["discriminator"].global_clipnorm == 0.05
    assert optimizers["generator"].global_clipnorm is None


@pytest.mark.parametrize("shape", [0.5, 1.0, 3.0])
def test_generalized_gaussian_prior_variance(shape):
    model = tiny_aae(prior="generalized_gaussian", prior_scale=10.0, prior_shape=shape)
    samples = keras.ops.convert_to_numpy(model.sample_prior(40000))
    expected = 100.0 * math.gamma(3.0 / shape) / math.gamma(1.0 / shape)  # alpha² Γ(3/β) / Γ(1/β)
    np.testing.assert_allclose(samples.var(axis=0), expected, rtol=0.1)
    assert abs(samples.mean()) < 0.1 * math.sqrt(expected)


def test_round_trip_keeps_weights_and_optimizer_state(tmp_path):
    model = tiny_aae()
    x = plane_data(200)
    model.fit(x, epochs=1, batch_size=50, verbose=0)
    path = tmp_path / "aae.keras"
    model.save(path)
    restored = keras.saving.load_model(path)
    assert isinstance(restored, ks.AdversarialAutoencoder)
    assert restored.get_config() == model.get_config()
    np.testing.assert_allclose(restored.encode(x), model.encode(x), atol=1e-6)
    assert {o.name: int(o.iterations) for o in restored.optimizer.optimizers} == {
        "reconstruction": 4,
        "discriminator": 4,
        "generator": 4,
    }


@pytest.mark.parametrize(
    "kwargs",
    [
        {"latent_dim": 0},
        {"prior": "laplace"},
        {"prior_scale": -1.0},
        {"hidden_units": ()},
        {"adversarial": "hinge"},
        {"clip": "value"},
        {"clip_value": 0.0},
    ],
)
def test_bad_arguments_are_named(kwargs):
    name = next(iter(kwargs))
    with pytest.raises(ValueError, match=f"argument `{name}`"):
        tiny_aae(**kwargs)


def test_bad_inputs_raise():
    model = tiny_aae()
    with pytest.raises(ValueError, match="wrong width"):
        model.encode(np.zeros((3, 5), "float32"))
    with pytest.raises(ValueError, match="`z` has the wrong width"):
        model.decode(np.zeros((3, 3), "float32"))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        model.fit(np.full((8, 4), 2.0, "float32"), epochs=1, verbose=0)
    with pytest.raises(ValueError, match="NaN|finite"):
        model.encode(np.full((2, 4), np.nan, "float32"))


def test_labeled_aae_sends_known_anomalies_to_the_outer_sphere():
    keras.utils.set_random_seed(0)
    cluster = np.random.default_rng(1).normal([0.1, 0.1, 0.9, 0.9], 0.03, (60, 4)).clip(0, 1)
    x = np.concatenate([plane_data(540), cluster]).astype("float32")  # a separate anomalous cluster
    y = np.r_[np.zeros(540), np.ones(60)].astype("float32")
    model = tiny_aae(anomaly_prior_radius=5.0, learning_rate=5e-4)
    model.fit(x, y, epochs=200, batch_size=100, verbose=0)
    norms = np.linalg.norm(model.encode(x), axis=1)
    assert np.median(norms[y == 1]) > 2.0 * np.median(norms[y == 0])
    with pytest.raises(ValueError, match="takes no labels"):
        tiny_aae().fit(x, y, epochs=1, verbose=0)


def test_convolutional_aae_mirrors_the_encoder_and_reconstructs():
    keras.utils.set_random_seed(0)
    images = blob_images(512)
    model = tiny_conv_aae(images.shape[1:], learning_rate=3e-3)
    assert model.encoder.output.shape == (None, 4)
    assert model.decoder.output.shape == (None, 12, 12, 1)
    before = float(np.mean(model.predict(images, verbose=0)))
    model.fit(images, epochs=30, batch_size=64, verbose=0)
    after = model.predict(images, verbose=0)
    assert float(np.mean(after)) < before / 4, (before, float(np.mean(after)))
    assert model.decode(model.encode(images[:5])).shape == (5, 12, 12, 1)

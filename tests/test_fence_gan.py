"""Fence GAN specifics: architectures from the paper's tables, phases, arguments."""

import keras
import numpy as np
import pytest
from conftest import fast_optimizers, tiny_fence_gan

import keras_synthad as ks


def _dense_units(network):
    return [layer.units for layer in network.layers if isinstance(layer, keras.layers.Dense)]


def test_tabular_networks_follow_table_iv():
    model = ks.FenceGAN(input_shape=(121,))
    assert (model.alpha, model.beta, model.gamma, model.latent_dim) == (0.5, 30.0, 0.5, 32)
    assert _dense_units(model.generator) == [64, 128, 121]
    assert [layer.rate for layer in model.generator.layers if isinstance(layer, keras.layers.Dropout)] == [0.2, 0.2]
    assert _dense_units(model.discriminator) == [256, 128, 128, 1]
    assert all(
        layer.negative_slope == pytest.approx(0.1)
        for layer in model.discriminator.layers
        if isinstance(layer, keras.layers.LeakyReLU)
    )


@pytest.mark.parametrize("shape, table", [((28, 28, 1), "grayscale"), ((32, 32, 3), "color")])
def test_image_networks_follow_tables_ii_and_iii(shape, table):
    model = ks.FenceGAN(input_shape=shape)
    assert model.architecture == table
    expected_latent = {"grayscale": 200, "color": 256}[table]
    assert model.latent_dim == expected_latent
    generated = model.generator(model.sample_noise(2))
    assert tuple(generated.shape) == (2, *shape)
    assert float(keras.ops.max(keras.ops.abs(generated))) <= 1.0  # tanh, i.e. the [-1, 1] model space
    assert model.predict(np.random.default_rng(0).uniform(size=(3, *shape)), verbose=0).shape == (3,)


def test_images_are_mapped_to_the_generators_range():
    model = ks.FenceGAN(input_shape=(28, 28, 1))
    x = np.array([0.0, 0.5, 1.0], "float32").reshape(3, 1, 1, 1) * np.ones((3, 28, 28, 1), "float32")
    mapped = keras.ops.convert_to_numpy(model.to_model_space(x))
    np.testing.assert_allclose(mapped[:, 0, 0, 0], [-1.0, 0.0, 1.0])


def test_image_training_runs_and_saves(tmp_path):
    model = ks.FenceGAN(input_shape=(8, 8, 1), latent_dim=8, seed=0)
    model.compile(optimizer=fast_optimizers(1e-3))
    x = np.random.default_rng(0).uniform(size=(16, 8, 8, 1)).astype("float32")
    model.fit(x, epochs=1, batch_size=8, verbose=0)
    model.save(tmp_path / "image.keras")
    restored = keras.saving.load_model(tmp_path / "image.keras")
    np.testing.assert_allclose(restored.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-5)


def test_pretraining_moves_only_the_discriminator_and_runs_once(normal_data, tmp_path):
    model = tiny_fence_gan(pretrain_epochs=2)
    model.compile(optimizer=fast_optimizers())
    before = [keras.ops.convert_to_numpy(v).copy() for v in model.generator.trainable_variables]
    model.pretrain_discriminator(normal_data, epochs=2, batch_size=128, verbose=0)
    after = [keras.ops.convert_to_numpy(v) for v in model.generator.trainable_variables]
    assert all(np.array_equal(a, b) for a, b in zip(before, after, strict=True))
    iterations = {o.name: int(o.iterations) for o in model.optimizer.optimizers}
    assert iterations == {"generator": 0, "discriminator": 8}
    # The flag is saved: a reloaded model does not pretrain again, and fit goes adversarial.
    model.save(tmp_path / "m.keras")
    restored = keras.saving.load_model(tmp_path / "m.keras")
    restored.fit(normal_data, epochs=1, batch_size=128, verbose=0)
    assert {o.name: int(o.iterations) for o in restored.optimizer.optimizers} == {"generator": 4, "discriminator": 12}


def test_first_fit_pretrains_then_trains_adversarially(normal_data):
    model = tiny_fence_gan(pretrain_epochs=1)
    model.compile(optimizer=fast_optimizers())
    history = model.fit(normal_data, epochs=2, batch_size=128, verbose=0)
    assert len(history.history["generator_loss"]) == 2
    assert {o.name: int(o.iterations) for o in model.optimizer.optimizers} == {"generator": 8, "discriminator": 12}


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(alpha=1.0), "alpha"),
        (dict(alpha=0.0), "alpha"),
        (dict(beta=-1.0), "beta"),
        (dict(gamma=0.0), "gamma"),
        (dict(gamma=1.5), "gamma"),
        (dict(latent_dim=0), "latent_dim"),
        (dict(encirclement="mse"), "encirclement"),
        (dict(pretrain_epochs=-1), "pretrain_epochs"),
        (dict(generator_dropout=1.0), "generator_dropout"),
    ],
)
def test_invalid_arguments_are_named(kwargs, message):
    with pytest.raises(ValueError, match=message):
        tiny_fence_gan(**kwargs)


@pytest.mark.parametrize("shape", [(28, 28), (0,), ("a",), (10, 10, 10, 1)])
def test_invalid_input_shapes_are_named(shape):
    with pytest.raises(ValueError, match="input_shape"):
        ks.FenceGAN(input_shape=shape)


def test_image_shapes_the_tables_cannot_build_are_named():
    with pytest.raises(ValueError, match="multiples of 4"):
        ks.FenceGAN(input_shape=(30, 30, 1))
    with pytest.raises(ValueError, match="tabular inputs only"):
        ks.FenceGAN(input_shape=(28, 28, 1), generator_units=(8,))


def test_the_papers_log_abs_encirclement_trains_too(normal_data):
    keras.utils.set_random_seed(0)
    model = tiny_fence_gan(encirclement="log_abs")
    model.compile(optimizer=fast_optimizers())
    history = model.fit(normal_data, epochs=8, batch_size=64, verbose=0)
    assert all(np.isfinite(v).all() for v in history.history.values())
    generated = keras.ops.convert_to_numpy(model.generator(model.sample_noise(256)))
    # The discriminator tells generated samples from the data: they score as more anomalous.
    assert model.predict(generated, verbose=0).mean() > model.predict(normal_data, verbose=0).mean() + 0.2

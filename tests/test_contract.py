"""The detector contract of DESIGN.md in detail, on Fence GAN: calibration, config, optimizers, bad input.

What every model class must do is checked on all of them in `test_method_contract.py`.
"""

import warnings

import keras
import numpy as np
import pytest
from conftest import fast_optimizers, tiny_fence_gan

import keras_synthad as ks
from keras_synthad.methods.fence_gan import keras2_decay


@pytest.fixture
def trained(normal_data):
    keras.utils.set_random_seed(0)
    model = tiny_fence_gan()
    model.compile(optimizer=fast_optimizers())
    model.fit(normal_data, epochs=40, batch_size=64, verbose=0)
    return model


def test_calibrate_sets_a_non_trainable_threshold_and_detect_uses_it(trained, normal_data, far_data):
    with pytest.raises(ValueError, match="calibrate"):
        trained.detect(normal_data)
    threshold = trained.calibrate(normal_data, contamination=0.1)
    assert any(w is trained.threshold for w in trained.non_trainable_weights)
    assert float(trained.threshold) == pytest.approx(threshold)
    labels = trained.detect(normal_data)
    assert labels.dtype.kind == "i" and labels.mean() == pytest.approx(0.1, abs=0.01)
    trained.calibrate(normal_data, contamination=0.1, range_margin=None)  # the threshold alone
    assert trained.detect(far_data).mean() > 0.9


def test_detect_flags_rows_outside_the_calibrated_range_and_predict_warns(trained, normal_data):
    trained.calibrate(normal_data, contamination=0.05)
    shifted = normal_data[:50] - 5.0  # unscaled rows: far below every column's range
    with pytest.warns(ks.OutOfRangeWarning, match=r"50 of 50 rows .* row 0, column 0"):
        trained.predict(shifted, verbose=0)
    with pytest.warns(ks.OutOfRangeWarning):
        assert trained.detect(shifted).tolist() == [1] * 50
    mixed = normal_data[:20].copy()
    mixed[7, 2] = 1.0 + float(normal_data[:, 2].max())  # one value past the range and its margin
    with pytest.warns(ks.OutOfRangeWarning, match=r"1 of 20 rows .* row 7, column 2"):
        trained.predict(mixed, verbose=0)
    assert trained.out_of_range(mixed).tolist() == [i == 7 for i in range(20)]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # rows inside the range: no warning
        trained.predict(normal_data, verbose=0)
    trained.calibrate(normal_data, contamination=0.05, range_margin=None)
    assert not trained.out_of_range(shifted).any()
    with pytest.raises(ValueError, match="range_margin"):
        trained.calibrate(normal_data, contamination=0.05, range_margin=-1)


def test_the_range_guard_survives_save_and_load(trained, normal_data, tmp_path):
    trained.calibrate(normal_data, contamination=0.05)
    trained.save(tmp_path / "model.keras")
    restored = keras.saving.load_model(tmp_path / "model.keras")
    assert restored.out_of_range(normal_data[:5] + 5.0).all() and not restored.out_of_range(normal_data).any()


def test_calibrating_on_batches_equals_calibrating_on_the_array(trained, normal_data):
    """A `tf.data.Dataset` or `PyDataset` (a streamed training split): the same threshold and range,
    and the first rows as warmup rows."""
    import tensorflow as tf

    class Batches(keras.utils.PyDataset):
        def __len__(self):
            return 4

        def __getitem__(self, index):
            return normal_data[index * 128 : (index + 1) * 128]

    weights = ("threshold", "range_low", "range_high")
    expected_threshold = trained.calibrate(normal_data, contamination=0.1)
    expected = [keras.ops.convert_to_numpy(getattr(trained, w)) for w in weights]
    for batches in (tf.data.Dataset.from_tensor_slices(normal_data).batch(100), Batches()):
        trained.threshold.assign(0.0)
        trained.range_low.assign(np.zeros(4, "float32"))
        assert trained.calibrate(batches, contamination=0.1) == pytest.approx(expected_threshold)
        for name, value in zip(weights, expected, strict=True):
            np.testing.assert_allclose(keras.ops.convert_to_numpy(getattr(trained, name)), value, rtol=1e-6)
        rows = keras.ops.convert_to_numpy(trained.calibration_rows)
        np.testing.assert_array_equal(rows, normal_data[: len(rows)])
    # Scores computed beforehand give the same calibration without scoring the rows again.
    scores = trained.predict(normal_data, verbose=0)
    assert trained.calibrate(Batches(), contamination=0.1, scores=scores) == pytest.approx(expected_threshold)
    assert trained.calibrate(normal_data, contamination=0.1, scores=scores) == pytest.approx(expected_threshold)
    with pytest.raises(ValueError, match="`scores`: 511 scores for 512 rows"):
        trained.calibrate(normal_data, contamination=0.1, scores=scores[:-1])


@pytest.mark.parametrize("contamination", [0, 1, -0.1, 1.5])
def test_calibrate_rejects_bad_contamination(trained, normal_data, contamination):
    with pytest.raises(ValueError, match="contamination"):
        trained.calibrate(normal_data, contamination=contamination)


def test_get_config_round_trips_every_argument():
    model = tiny_fence_gan(alpha=0.3, beta=12.0, gamma=0.7, encirclement="bce", pretrain_epochs=2, seed=5, name="fg")
    config = model.get_config()
    for key, value in dict(
        alpha=0.3,
        beta=12.0,
        gamma=0.7,
        latent_dim=4,
        encirclement="bce",
        pretrain_epochs=2,
        generator_units=[16],
        discriminator_units=[16],
        generator_dropout=0.0,
        seed=5,
        input_shape=[4],
        name="fg",
    ).items():
        assert config[key] == value, key
    assert ks.FenceGAN.from_config(config).get_config() == config


def test_compile_without_arguments_uses_the_papers_optimizers():
    model = ks.FenceGAN(input_shape=(121,), preset="paper")
    model.compile()
    generator = next(o for o in model.optimizer.optimizers if o.name == "generator")
    discriminator = next(o for o in model.optimizer.optimizers if o.name == "discriminator")
    assert isinstance(model.optimizer, keras.optimizers.MultiOptimizer)
    assert isinstance(generator, keras.optimizers.Adam) and isinstance(discriminator, keras.optimizers.SGD)
    # Table IV: Adam 1e-4 and SGD 8e-6, Keras-2 decay 1e-3 (lr / (1 + decay * step)).
    assert float(generator.learning_rate) == pytest.approx(1e-4)
    assert float(discriminator.learning_rate) == pytest.approx(8e-6)
    schedule = generator.get_config()["learning_rate"]
    assert schedule["class_name"] == "InverseTimeDecay"
    assert schedule["config"]["decay_rate"] == pytest.approx(1e-3) and schedule["config"]["decay_steps"] == 1
    assert float(keras2_decay(1e-4, 1e-3)(1000)) == pytest.approx(1e-4 / 2)


def test_fit_without_compile_uses_the_papers_optimizers(normal_data):
    model = tiny_fence_gan(preset="paper")
    model.fit(normal_data, epochs=1, batch_size=256, verbose=0)
    assert {o.name: type(o).__name__ for o in model.optimizer.optimizers} == {
        "generator": "Adam",
        "discriminator": "SGD",
    }


def test_roles_left_out_of_compile_keep_the_papers_optimizers():
    model = tiny_fence_gan()
    model.compile(optimizer={"discriminator": {"class_name": "Adam", "config": {"learning_rate": 1e-4}}})
    kinds = {o.name: (type(o).__name__, float(o.learning_rate)) for o in model.optimizer.optimizers}
    assert kinds["discriminator"] == ("Adam", pytest.approx(1e-4)) and kinds["generator"][0] == "Adam"


def test_compile_rejects_bad_optimizers_and_losses():
    model = tiny_fence_gan()
    with pytest.raises(ValueError, match=r"unknown roles: \['critic'\]"):
        model.compile(optimizer={"critic": "adam"})
    with pytest.raises(ValueError, match="optimizer"):
        model.compile(optimizer="adam")
    with pytest.raises(ValueError, match="loss"):
        model.compile(loss="mse")


def test_save_load_round_trip_without_custom_objects(trained, normal_data, tmp_path):
    trained.calibrate(normal_data, contamination=0.05)
    path = tmp_path / "model.keras"
    trained.save(path)
    restored = keras.saving.load_model(path)
    assert type(restored) is ks.FenceGAN
    np.testing.assert_allclose(
        restored.predict(normal_data, verbose=0), trained.predict(normal_data, verbose=0), atol=1e-6
    )
    np.testing.assert_array_equal(restored.detect(normal_data), trained.detect(normal_data))
    iterations = {o.name: int(o.iterations) for o in restored.optimizer.optimizers}
    assert iterations == {o.name: int(o.iterations) for o in trained.optimizer.optimizers}
    assert iterations["generator"] > 0


class TestBadInput:
    def setup_method(self):
        self.model = tiny_fence_gan()
        self.model.compile(optimizer=fast_optimizers())

    @pytest.mark.parametrize(
        "x, message",
        [
            (np.full((8, 4), np.nan, "float32"), "NaN or infinite"),
            (np.r_[np.full((7, 4), 0.5), [[0.5, np.inf, 0.5, 0.5]]], "NaN or infinite"),
            (np.zeros((0, 4)), "empty"),
            (np.zeros((8,)), "rank"),
            (np.zeros((8, 4, 1)), "rank"),
            (np.zeros((8, 5)), "width"),
            (np.full((8, 4), 1.5), r"outside \[0, 1\]"),
            (np.full((8, 4), -0.2), r"outside \[0, 1\]"),
            (np.array([["a", "b", "c", "d"]]), "numeric"),
        ],
    )
    def test_fit_names_the_problem(self, x, message):
        with pytest.raises(ValueError, match=message):
            self.model.fit(x, epochs=1, verbose=0)

    def test_fit_needs_two_rows(self):
        with pytest.raises(ValueError, match="too few rows"):
            self.model.fit(np.full((1, 4), 0.5), epochs=1, verbose=0)

    def test_validation_and_evaluate_are_refused_with_a_pointer_to_metrics(self, normal_data):
        with pytest.raises(ValueError, match="validation_data"):
            self.model.fit(normal_data, validation_data=(normal_data,), epochs=1, verbose=0)
        with pytest.raises(ValueError, match="validation_split"):
            self.model.fit(normal_data, validation_split=0.1, epochs=1, verbose=0)
        with pytest.raises(ValueError, match="keras_synthad.metrics"):
            self.model.evaluate(normal_data)

    def test_bad_labels_are_refused_before_any_pretraining(self, normal_data):
        model = tiny_fence_gan(pretrain_epochs=3)
        model.compile(optimizer=fast_optimizers())
        with pytest.raises(ValueError, match="unsupervised"):
            model.fit(normal_data, np.zeros(len(normal_data)), epochs=1, verbose=0)
        assert int(model.optimizer.iterations) == 0

    def test_fit_refuses_labels_for_an_unsupervised_method(self, normal_data):
        with pytest.raises(ValueError, match="unsupervised"):
            self.model.fit(normal_data, np.zeros(len(normal_data)), epochs=1, verbose=0)

    @pytest.mark.parametrize(
        "x, message", [(np.full((3, 4), np.nan), "NaN"), (np.zeros((3, 7)), "width"), (np.zeros((0, 4)), "empty")]
    )
    def test_predict_names_the_problem(self, x, message):
        with pytest.raises(ValueError, match=message):
            self.model.predict(x, verbose=0)

    def test_scoring_accepts_values_outside_the_unit_interval(self):
        # Test rows scaled with training statistics may fall outside [0, 1].
        assert self.model.predict(np.full((3, 4), 1.5, "float32"), verbose=0).shape == (3,)

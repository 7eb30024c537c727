"""One contract, every model class: fit, scores, calibrate/detect, the .keras file, other backends, bad input.

As Keras' ``run_layer_test`` and KerasHub's ``run_task_test``: `check_contract` runs the
same checks on each class, trained briefly on the same synthetic problem (a tight normal
cluster in [0, 1]^4, anomalies in the corners). Method-specific behaviour lives in each
method's own test file.
"""

import json
import os
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest
from conftest import BACKEND, fast_optimizers, tiny_aae, tiny_fence_gan

import keras_synthad as ks
from keras_synthad import metrics

WIDTH = 4


def normal_rows(n: int = 512, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(0.5, 0.05, (n, WIDTH)).clip(0, 1).astype("float32")


def corner_rows(n: int = 128, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (rng.choice([0.05, 0.95], size=(n, WIDTH)) + rng.normal(0, 0.01, (n, WIDTH))).astype("float32")


def fence_gan():
    model = tiny_fence_gan()
    model.compile(optimizer=fast_optimizers())
    return model, dict(epochs=40, batch_size=64)


def adversarial_autoencoder():
    return tiny_aae(), dict(epochs=30, batch_size=64)


def doping():
    return ks.DOPING(input_shape=(WIDTH,), autoencoder=tiny_aae(), seed=0), dict(epochs=5, batch_size=64)


def da3d():
    # "all": the alarm reads the encoder's activations too; the tiny AAE's 2-D code alone hides some corners.
    model = ks.DA3D(
        (WIDTH,),
        autoencoder=tiny_aae(),
        aae_epochs=10,
        alarm_units=(16, 8),
        activations="all",
        learning_rate=1e-2,
        seed=0,
    )
    return model, dict(epochs=10, batch_size=64)


def dhag():
    return ks.DHAG((WIDTH,), n_perturbators=2, seed=0), dict(epochs=10, batch_size=128)


_SCORE_ELSEWHERE = textwrap.dedent(
    """
    import json, sys
    import keras, numpy as np
    import keras_synthad  # registers the classes; no custom_objects needed
    model = keras.saving.load_model(sys.argv[1])
    x = np.load(sys.argv[2])
    print(json.dumps({"scores": model.predict(x, verbose=0).tolist(), "labels": model.detect(x).tolist()}))
    """
)


def assert_scores_identically_elsewhere(trained, x, x_normal, tmp_path, other):
    """Save `trained`, load it under backend `other` in a fresh process, compare scores and labels."""
    trained.calibrate(x_normal, contamination=0.05)
    trained.save(tmp_path / "model.keras")
    np.save(tmp_path / "x.npy", x)
    env = {**os.environ, "KERAS_BACKEND": other, "TF_CPP_MIN_LOG_LEVEL": "3"}
    done = subprocess.run(
        [sys.executable, "-c", _SCORE_ELSEWHERE, str(tmp_path / "model.keras"), str(tmp_path / "x.npy")],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    np.testing.assert_allclose(result["scores"], trained.predict(x, verbose=0), atol=1e-5)
    np.testing.assert_array_equal(result["labels"], trained.detect(x))


FACTORIES = {
    "FenceGAN": fence_gan,
    "AdversarialAutoencoder": adversarial_autoencoder,
    "DOPING": doping,
    "DA3D": da3d,
    "DHAG": dhag,
}


@pytest.fixture(scope="module", params=list(FACTORIES))
def trained(request):
    keras.utils.set_random_seed(0)
    model, fit_kwargs = FACTORIES[request.param]()
    model.fit(normal_rows(), verbose=0, **fit_kwargs)
    model.calibrate(normal_rows(), contamination=0.05)
    return model


def test_scores_are_a_float_vector_higher_in_the_corners(trained):
    normal, corners = trained.predict(normal_rows(200, seed=5), verbose=0), trained.predict(corner_rows(), verbose=0)
    assert normal.shape == (200,) and normal.dtype == np.float32 and np.isfinite(normal).all()
    assert metrics.roc_auc(np.r_[np.zeros(200), np.ones(len(corners))], np.r_[normal, corners]) > 0.9
    direct = keras.ops.convert_to_numpy(trained(normal_rows(10, seed=6)))
    np.testing.assert_allclose(direct, trained.predict(normal_rows(10, seed=6), verbose=0), rtol=1e-5, atol=1e-5)


def test_calibrated_threshold_flags_the_contamination_share_and_the_corners(trained):
    assert trained.detect(normal_rows()).mean() == pytest.approx(0.05, abs=0.01)
    with pytest.warns(ks.OutOfRangeWarning):  # the corners lie outside the normal rows' range
        corner_scores = trained.predict(corner_rows(), verbose=0)
    assert (corner_scores > float(keras.ops.convert_to_numpy(trained.threshold))).mean() > 0.8  # by score alone
    assert trained.detect(corner_rows()).mean() == 1.0  # and by the range guard
    assert set(np.unique(trained.detect(np.r_[normal_rows(), corner_rows()]))) == {0, 1}


def test_keras_file_and_config_round_trip(trained, tmp_path):
    config = trained.get_config()
    assert type(trained).from_config(config).get_config() == config
    trained.save(tmp_path / "model.keras")
    restored = keras.saving.load_model(tmp_path / "model.keras")
    assert type(restored) is type(trained) and restored.get_config() == config
    x = np.r_[normal_rows(50, seed=7), corner_rows(50)]
    np.testing.assert_allclose(restored.predict(x, verbose=0), trained.predict(x, verbose=0), atol=1e-6)
    np.testing.assert_array_equal(restored.detect(x), trained.detect(x))


BACKENDS = ("tensorflow", "jax", "torch")


@pytest.mark.parametrize("other", [BACKENDS[(BACKENDS.index(BACKEND) + 1) % 3]])  # tf -> jax -> torch -> tf
def test_scores_identically_on_another_backend(trained, tmp_path, other):
    x = np.r_[normal_rows(50, seed=8), corner_rows(50)]
    assert_scores_identically_elsewhere(trained, x, normal_rows(), tmp_path, other)


@pytest.mark.parametrize(
    "x, message",
    [
        (np.full((8, WIDTH), np.nan, "float32"), "NaN or infinite"),
        (np.zeros((8, WIDTH + 1), "float32"), "width"),
        (np.zeros((0, WIDTH), "float32"), "empty"),
    ],
)
def test_bad_rows_are_named_at_fit_and_predict(trained, x, message):
    model, _ = FACTORIES[type(trained).__name__]()
    with pytest.raises(ValueError, match=message):
        model.fit(x, epochs=1, verbose=0)
    with pytest.raises(ValueError, match=message):
        trained.predict(x, verbose=0)

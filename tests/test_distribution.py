"""Several devices: JAX's DataParallel gives the one-device update; TensorFlow's multi-replica
strategies and torch.distributed are refused with `DistributionNotSupportedError`."""

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from conftest import BACKEND, fast_optimizers, tiny_fence_gan

from keras_synthad.backend import DistributionNotSupportedError

# Run in a fresh process with two devices: the device count is fixed before Keras starts.
_TRAIN = textwrap.dedent(
    """
    import json, os, sys
    if os.environ["KERAS_BACKEND"] == "jax":
        os.environ["XLA_FLAGS"] = "--xla_force_host_platform_device_count=2"
    import keras, numpy as np
    sys.path.insert(0, sys.argv[1])
    from conftest import fast_optimizers, tiny_fence_gan
    x = np.random.default_rng(0).normal(0.5, 0.05, (512, 4)).clip(0, 1).astype("float32")

    def build():
        model = tiny_fence_gan(pretrain_epochs=0)
        model.compile(optimizer=fast_optimizers())
        return model

    def train():
        model = build()
        history = model.fit(x, epochs=2, batch_size=128, shuffle=False, verbose=0)
        devices = len(model.trainable_variables[0].value.sharding.device_set)  # where the weights live
        return {"losses": history.history, "scores": model.predict(x[:32], verbose=0).tolist(), "devices": devices}

    if os.environ["KERAS_BACKEND"] == "jax":
        one = train()  # no distribution: the first device
        keras.distribution.set_distribution(keras.distribution.DataParallel(devices=keras.distribution.list_devices("cpu")))
        print(json.dumps({"one": one, "two": train()}))
    else:
        import tensorflow as tf
        [cpu] = tf.config.list_physical_devices("CPU")
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
        with tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"]).scope():
            model = build()
        try:
            model.fit(x, epochs=1, batch_size=128, shuffle=False, verbose=0)
        except Exception as err:
            print(json.dumps({"error": type(err).__name__, "message": str(err)}))
    """
)


def train_on_two_devices() -> dict:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    env.pop("XLA_FLAGS", None)  # the script sets the device count
    done = subprocess.run(
        [sys.executable, "-c", _TRAIN, os.path.dirname(__file__)], capture_output=True, text=True, env=env, timeout=300
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.skipif(BACKEND != "jax", reason="keras.distribution's DataParallel is JAX's here")
def test_jax_data_parallel_on_two_devices_gives_the_one_device_training():
    result = train_on_two_devices()
    one, two = result["one"], result["two"]
    assert (one["devices"], two["devices"]) == (1, 2)
    for name, losses in one["losses"].items():
        np.testing.assert_allclose(two["losses"][name], losses, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(two["scores"], one["scores"], rtol=1e-4, atol=1e-5)


@pytest.mark.skipif(BACKEND != "tensorflow", reason="tf.distribute")
def test_tensorflow_mirrored_strategy_is_refused_with_the_documented_error():
    result = train_on_two_devices()
    assert result["error"] == "DistributionNotSupportedError"
    assert "2" in result["message"] and "keras.distribution.DataParallel" in result["message"]


@pytest.mark.skipif(BACKEND != "torch", reason="torch.distributed")
def test_torch_distributed_is_refused_with_the_documented_error(normal_data, monkeypatch):
    import torch

    monkeypatch.setattr(torch.distributed, "is_available", lambda: True)
    monkeypatch.setattr(torch.distributed, "is_initialized", lambda: True)
    monkeypatch.setattr(torch.distributed, "get_world_size", lambda *args, **kwargs: 2)
    model = tiny_fence_gan(pretrain_epochs=0)
    model.compile(optimizer=fast_optimizers())
    with pytest.raises(DistributionNotSupportedError, match="initialized with 2 processes"):
        model.fit(normal_data, epochs=1, verbose=0)
    assert all(int(o.iterations) == 0 for o in model.optimizer.optimizers)

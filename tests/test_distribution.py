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

# Run in a fresh process: the device count and the distribution are fixed before Keras starts.
_TRAIN = textwrap.dedent(
    """
    import json, os, sys
    devices = int(sys.argv[1])
    if os.environ["KERAS_BACKEND"] == "jax":
        os.environ["XLA_FLAGS"] = f"--xla_force_host_platform_device_count={devices}"
    import keras, numpy as np
    sys.path.insert(0, sys.argv[2])
    from conftest import fast_optimizers, tiny_fence_gan
    if os.environ["KERAS_BACKEND"] == "tensorflow":
        import tensorflow as tf
        [cpu] = tf.config.list_physical_devices("CPU")
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * devices)
    x = np.random.default_rng(0).normal(0.5, 0.05, (512, 4)).clip(0, 1).astype("float32")
    def build():
        model = tiny_fence_gan(pretrain_epochs=0)
        model.compile(optimizer=fast_optimizers())
        return model
    if os.environ["KERAS_BACKEND"] == "jax" and devices > 1:
        keras.distribution.set_distribution(keras.distribution.DataParallel(devices=keras.distribution.list_devices("cpu")))
        assert len(keras.distribution.list_devices("cpu")) == devices
    if os.environ["KERAS_BACKEND"] == "tensorflow" and devices > 1:
        with tf.distribute.MirroredStrategy([f"/cpu:{i}" for i in range(devices)]).scope():
            model = build()
        try:
            model.fit(x, epochs=1, batch_size=128, shuffle=False, verbose=0)
        except Exception as err:
            print(json.dumps({"error": type(err).__name__, "message": str(err)}))
            sys.exit(0)
    model = build()
    history = model.fit(x, epochs=2, batch_size=128, shuffle=False, verbose=0)
    result = {"losses": history.history, "scores": model.predict(x[:32], verbose=0).tolist()}
    if os.environ["KERAS_BACKEND"] == "jax":  # the devices each weight lives on (replicated by DataParallel)
        result["devices"] = len(model.trainable_variables[0].value.sharding.device_set)
    print(json.dumps(result))
    """
)


def train_on(devices: int) -> dict:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    env.pop("XLA_FLAGS", None)  # the script sets the device count
    tests = os.path.dirname(__file__)
    done = subprocess.run(
        [sys.executable, "-c", _TRAIN, str(devices), tests], capture_output=True, text=True, env=env, timeout=300
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.skipif(BACKEND != "jax", reason="keras.distribution's DataParallel is JAX's here")
def test_jax_data_parallel_on_two_devices_gives_the_one_device_training():
    one, two = train_on(1), train_on(2)
    assert (one["devices"], two["devices"]) == (1, 2)
    for name, losses in one["losses"].items():
        np.testing.assert_allclose(two["losses"][name], losses, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(two["scores"], one["scores"], rtol=1e-4, atol=1e-5)


@pytest.mark.skipif(BACKEND != "tensorflow", reason="tf.distribute")
def test_tensorflow_mirrored_strategy_is_refused_with_the_documented_error():
    result = train_on(2)
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

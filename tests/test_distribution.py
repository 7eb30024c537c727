"""Several devices: JAX's DataParallel and TensorFlow's MirroredStrategy give the one-device update;
torch.distributed is refused with `DistributionNotSupportedError`."""

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from conftest import BACKEND, fast_optimizers, tiny_fence_gan

from keras_synthad.backend import DistributionNotSupportedError
from keras_synthad.metrics import roc_auc

# Run in a fresh process with two devices: the device count is fixed before Keras starts.
_TRAIN = textwrap.dedent(
    """
    import json, os, sys
    if os.environ["KERAS_BACKEND"] == "jax":
        os.environ["XLA_FLAGS"] = "--xla_force_host_platform_device_count=2"
    import keras, numpy as np
    from keras import ops
    sys.path.insert(0, sys.argv[1])
    from conftest import fast_optimizers, tiny_fence_gan
    rng = np.random.default_rng(0)
    x = rng.normal(0.5, 0.05, (512, 4)).clip(0, 1).astype("float32")
    corners = rng.choice([0.02, 0.98], size=(64, 4)).astype("float32")

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
        from keras_synthad import networks
        from keras_synthad.detector import AnomalyDetector
        [cpu] = tf.config.list_physical_devices("CPU")
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
        mirrored = lambda: tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])

        class TwoRoleAutoencoder(AnomalyDetector):
            # A step without sampling: two roles (Adam, SGD) on a reconstruction loss, averaged weights.
            loss_names = ("encoder_loss", "decoder_loss")
            preset_names = ("default",)
            def __init__(self):
                super().__init__((4,), seed=0)
                with keras.name_scope("encoder"):
                    self.encoder = networks.mlp(4, (8,), 2, name="encoder")
                with keras.name_scope("decoder"):
                    self.decoder = networks.mlp(2, (8,), 4, name="decoder")
                self.build_weight_averages(0.9)
                self.built = True
            def preset_values(self, preset):
                return {}
            def averaged_networks(self):
                return [self.encoder, self.decoder]
            def roles(self):
                return {"encoder": [self.encoder], "decoder": [self.decoder]}
            def default_optimizers(self):
                return {"encoder": keras.optimizers.Adam(1e-2), "decoder": keras.optimizers.SGD(1e-1)}
            def call(self, x, training=False):
                x = ops.cast(x, "float32")
                return ops.mean(ops.square(self.decoder(self.encoder(x, training=training), training=training) - x), -1)
            def algorithm_step(self, x, y=None):
                loss = lambda: ops.mean(self(x, training=True))
                return {"encoder_loss": self.update_role("encoder", loss), "decoder_loss": self.update_role("decoder", loss)}

        def deterministic():
            model = TwoRoleAutoencoder()
            model.compile()
            losses = model.fit(x, epochs=2, batch_size=128, shuffle=False, verbose=0).history
            weights = [ops.convert_to_numpy(w).tolist() for w in model.trainable_weights + list(model.weight_averages)]
            steps = [int(ops.convert_to_numpy(o.iterations)) for o in model.optimizer.optimizers]
            return {"losses": losses, "weights": weights, "steps": steps}

        def replica_noise():
            strategy = mirrored()
            with strategy.scope():
                model = build()
            draws = strategy.run(tf.function(lambda: keras.random.normal((3,), seed=model.seed_generator)))
            return [ops.convert_to_numpy(d).tolist() for d in strategy.experimental_local_results(draws)]

        def fence_gan_scores():
            model = build()
            model.fit(x, epochs=8, batch_size=128, verbose=0)
            return {"normal": model.predict(x[:256], verbose=0).tolist(), "corners": model.predict(corners, verbose=0).tolist()}

        one = {"deterministic": deterministic(), "fence_gan": fence_gan_scores()}
        with mirrored().scope():
            two = {"deterministic": deterministic(), "fence_gan": fence_gan_scores()}
        print(json.dumps({"one": one, "two": two, "noise": [replica_noise(), replica_noise()]}))
    """
)


@pytest.fixture(scope="module")
def two_devices() -> dict:
    """The script's results: one device against two (JAX's DataParallel, TensorFlow's MirroredStrategy)."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    env.pop("XLA_FLAGS", None)  # the script sets the device count
    done = subprocess.run(
        [sys.executable, "-c", _TRAIN, os.path.dirname(__file__)], capture_output=True, text=True, env=env, timeout=300
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.skipif(BACKEND != "jax", reason="keras.distribution's DataParallel is JAX's here")
def test_jax_data_parallel_on_two_devices_gives_the_one_device_training(two_devices):
    one, two = two_devices["one"], two_devices["two"]
    assert (one["devices"], two["devices"]) == (1, 2)
    for name, losses in one["losses"].items():
        np.testing.assert_allclose(two["losses"][name], losses, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(two["scores"], one["scores"], rtol=1e-4, atol=1e-5)


@pytest.mark.skipif(BACKEND != "tensorflow", reason="tf.distribute")
def test_tensorflow_two_replicas_give_the_one_device_update(two_devices):
    """A step without sampling, same global batch: every role's update, step count and weight average."""
    one, two = two_devices["one"]["deterministic"], two_devices["two"]["deterministic"]
    assert one["steps"] == two["steps"] == [8, 8]
    for name, losses in one["losses"].items():
        np.testing.assert_allclose(two["losses"][name], losses, rtol=1e-5, atol=1e-6)
    for mine, theirs in zip(one["weights"], two["weights"], strict=True):
        np.testing.assert_allclose(theirs, mine, rtol=1e-5, atol=1e-6)


@pytest.mark.skipif(BACKEND != "tensorflow", reason="tf.distribute")
def test_tensorflow_replicas_draw_their_own_noise_reproducibly(two_devices):
    first, again = two_devices["noise"]
    assert len(first) == 2 and not np.allclose(first[0], first[1])  # each replica samples its own rows' noise
    np.testing.assert_array_equal(first, again)  # and the seed still fixes it


@pytest.mark.skipif(BACKEND != "tensorflow", reason="tf.distribute")
def test_tensorflow_fence_gan_on_two_replicas_learns_what_one_device_learns(two_devices):
    """With sampling the runs differ draw by draw; both fence the cluster and rank the far corners higher."""
    for run in ("one", "two"):
        scores = two_devices[run]["fence_gan"]
        y = np.r_[np.zeros(len(scores["normal"])), np.ones(len(scores["corners"]))]
        assert roc_auc(y, np.r_[scores["normal"], scores["corners"]]) > 0.9, run


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

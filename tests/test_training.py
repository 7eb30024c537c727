"""Multi-role training on every backend: one MultiOptimizer, role-separated updates,
compiled steps, seeded repeatability and BackupAndRestore."""

import keras
import numpy as np
import pytest
from conftest import BACKEND, fast_optimizers, tiny_aae, tiny_fence_gan

import keras_synthad as ks
from keras_synthad import backend, networks
from keras_synthad.backend import averages as averages_module
from keras_synthad.backend import trackers as trackers_module


def _weights(network):
    return [keras.ops.convert_to_numpy(v).copy() for v in network.trainable_variables]


def _changed(before, network):
    return any(not np.array_equal(b, a) for b, a in zip(before, _weights(network), strict=True))


def _iterations(model):
    return {o.name: int(o.iterations) for o in model.optimizer.optimizers}


def _compiled(**kwargs):
    model = tiny_fence_gan(**kwargs)
    model.compile(optimizer=fast_optimizers())
    return model


def test_both_roles_optimizers_advance_every_step(normal_data):
    model = _compiled()
    model.fit(normal_data, epochs=2, batch_size=64, verbose=0)  # 8 steps per epoch
    assert _iterations(model) == {"generator": 16, "discriminator": 16}
    assert int(model.optimizer.iterations) == 16


def test_a_generator_update_leaves_the_discriminator_alone(normal_data):
    model = _compiled()
    noise = model.sample_noise(32)
    generator, discriminator = _weights(model.generator), _weights(model.discriminator)
    model.update_role("generator", lambda: model.generator_loss(noise))
    assert _changed(generator, model.generator)
    assert not _changed(discriminator, model.discriminator)
    assert _iterations(model) == {"generator": 1, "discriminator": 0}


def test_a_discriminator_update_leaves_the_generator_alone(normal_data):
    model = _compiled()
    noise = model.sample_noise(32)
    generator, discriminator = _weights(model.generator), _weights(model.discriminator)
    model.update_role("discriminator", lambda: model.discriminator_loss(normal_data[:32], noise))
    assert _changed(discriminator, model.discriminator)
    assert not _changed(generator, model.generator)
    assert _iterations(model) == {"generator": 0, "discriminator": 1}


def test_fit_is_compiled_on_tensorflow_and_jax(normal_data, monkeypatch):
    model = _compiled()
    calls = []
    original = type(model).algorithm_step
    monkeypatch.setattr(type(model), "algorithm_step", lambda self, x, y=None: calls.append(1) or original(self, x, y))
    model.fit(normal_data, epochs=2, batch_size=64, verbose=0)  # 16 steps
    assert not model.run_eagerly
    if BACKEND == "torch":
        assert len(calls) == 16  # eager by design
    else:
        assert len(calls) <= 3  # traced once (plus a partial-batch retrace at most), not run per step


NETWORKS = {
    "mlp with dropout": lambda: networks.mlp(6, (16, 8), 2, activation="leaky_relu", dropout=0.3),
    "two-input perturbator": lambda: networks.dhag_tabular_perturbator(6, 4, units=8),
    "convolutions and batch norm": lambda: networks.dhag_image_encoder((8, 8, 1), filters=(4, 8)),
    "dense with relu": lambda: networks.dhag_tabular_encoder(6, (8, 8)),
    "dense without bias": lambda: networks.dhag_discriminator(6, (4,), linear=True),
}


@pytest.mark.parametrize("training", [False, True])
@pytest.mark.parametrize("builder", NETWORKS.values(), ids=NETWORKS.keys())
def test_networks_compute_what_keras_call_path_computes(builder, training):
    network = builder()
    rng = np.random.default_rng(0)
    inputs = [keras.ops.convert_to_tensor(rng.random((5, *t.shape[1:]), dtype=np.float32)) for t in network.inputs]
    inputs = inputs[0] if len(inputs) == 1 else inputs
    keras_path = keras.Model.__call__(network, inputs, training=training)
    shortcut = backend.run_layers(network, inputs, training=training)
    if BACKEND != "torch":
        assert shortcut is None  # compiled backends keep Keras' path
        return
    shortcut = keras.ops.convert_to_numpy(shortcut)
    if training and any(isinstance(layer, keras.layers.Dropout) for layer in network.layers):
        # Dropout draws a new mask on every call: `training` must reach it (outputs differ from inference).
        inference = keras.ops.convert_to_numpy(keras.Model.__call__(network, inputs, training=False))
        assert shortcut.shape == inference.shape and not np.allclose(shortcut, inference)
    else:
        np.testing.assert_allclose(shortcut, keras.ops.convert_to_numpy(keras_path), rtol=1e-5, atol=1e-6)
    assert backend.run_layers(network, inputs) is None  # no explicit `training`: Keras' path resolves it


def test_the_methods_seed_generator_draws_what_keras_own_draws():
    # backend.next_seed (torch: read and counted on in place) gives Keras' seeds and leaves Keras' state.
    ours, keras_own = ks.DHAG((4,), seed=3).seed_generator, keras.random.SeedGenerator(3)
    for _ in range(3):
        for draw in (keras.random.uniform, keras.random.normal):
            np.testing.assert_array_equal(
                keras.ops.convert_to_numpy(draw((5, 2), seed=ours)),
                keras.ops.convert_to_numpy(draw((5, 2), seed=keras_own)),
            )
        np.testing.assert_array_equal(
            keras.ops.convert_to_numpy(ours.state.value), keras.ops.convert_to_numpy(keras_own.state.value)
        )
    assert keras.ops.convert_to_numpy(ours.state.value).tolist() == [3, 6]


def test_weight_averages_update_by_the_moving_average_formula():
    # backend.update_averages (torch: fused foreach calls; JAX and TF: Keras assignments) against numpy.
    rng = np.random.default_rng(0)
    shapes = [(3, 4), (4,), (1,)]
    values = [rng.normal(size=s).astype("float32") for s in shapes]
    targets = [rng.normal(size=s).astype("float32") for s in shapes]
    averages = [keras.Variable(v, trainable=False) for v in values]
    variables = [keras.Variable(t) for t in targets]
    momentum = np.float32(0.9)
    backend.update_averages(averages, variables, keras.ops.convert_to_tensor(momentum))
    for average, value, target in zip(averages, values, targets, strict=True):
        want = momentum * value + (np.float32(1) - momentum) * target
        np.testing.assert_allclose(keras.ops.convert_to_numpy(average), want, rtol=1e-6, atol=1e-7)
        assert not np.allclose(want, value)  # the update moved it
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(variables[0]), targets[0])
    if BACKEND == "torch":  # the fused path gives the Keras assignments' bits
        keras_path = [keras.Variable(v, trainable=False) for v in values]
        averages_module.assign_averages(keras_path, variables, keras.ops.convert_to_tensor(momentum))
        for fused, assigned in zip(averages, keras_path, strict=True):
            np.testing.assert_array_equal(keras.ops.convert_to_numpy(fused), keras.ops.convert_to_numpy(assigned))


def test_loss_trackers_hold_the_mean_of_the_losses_seen():
    # backend.update_trackers (torch: in-place calls; JAX and TF: Keras' Mean) against numpy and Keras' Mean.
    trackers = [keras.metrics.Mean(name=name) for name in ("a", "b", "never")]
    keras_path = [keras.metrics.Mean(name=name) for name in ("a", "b", "never")]
    seen = {"a": [0.3, 1.7, -0.25], "b": [2.5, 0.125, 4.0]}
    for step in range(3):
        losses = {name: keras.ops.convert_to_tensor(np.float32(values[step])) for name, values in seen.items()}
        logs = backend.update_trackers(trackers, losses)
        trackers_module.update_trackers(keras_path, losses)
    logs = {name: float(keras.ops.convert_to_numpy(value)) for name, value in logs.items()}
    assert logs["never"] == 0.0  # no loss of that name: Keras' divide_no_nan gives 0, not NaN
    for name, values in seen.items():
        assert logs[name] == pytest.approx(np.mean(np.float32(values)), rel=1e-6)
    for fast, keras_mean in zip(trackers, keras_path, strict=True):  # the same bits as Keras' own calls
        assert float(keras.ops.convert_to_numpy(fast.result())) == float(
            keras.ops.convert_to_numpy(keras_mean.result())
        )
        assert float(keras.ops.convert_to_numpy(fast.count)) == float(keras.ops.convert_to_numpy(keras_mean.count))


@pytest.mark.skipif(BACKEND != "torch", reason="the torch backend's fused Adam")
@pytest.mark.parametrize("amsgrad", [False, True])
def test_fused_adam_updates_give_keras_adam_bits(amsgrad):
    import torch

    from keras_synthad.backend import torch as torch_backend

    rng = np.random.default_rng(0)
    shapes = [[(5, 3), (3,)], [(4,)], [(2, 2), (2,)]]  # three roles' variables
    initial = [[rng.normal(size=shape).astype("float32") for shape in role] for role in shapes]
    grads = [[rng.normal(size=shape).astype("float32") for role in shapes for shape in role] for _ in range(4)]

    def build():
        rates = [1e-3, keras.optimizers.schedules.PiecewiseConstantDecay([2], [1e-2, 1e-3]), 5e-4]
        parts = []
        for values, rate in zip(initial, rates, strict=True):
            variables = [keras.Variable(v) for v in values]
            optimizer = keras.optimizers.Adam(rate, amsgrad=amsgrad)
            optimizer.build(variables)
            parts.append((optimizer, variables))
        return parts

    fused, keras_path = build(), build()
    with torch.no_grad():
        for step_grads in grads:
            tensors = [torch.tensor(g) for g in step_grads]
            assert torch_backend.apply_adam(fused, tensors)
            start = 0
            for optimizer, variables in keras_path:
                optimizer.apply(tensors[start : start + len(variables)], variables)
                start += len(variables)
    for (fast_optimizer, fast), (optimizer, variables) in zip(fused, keras_path, strict=True):
        assert int(fast_optimizer.iterations.numpy()) == int(optimizer.iterations.numpy()) == len(grads)
        for a, b in zip(fast + fast_optimizer.variables, variables + optimizer.variables, strict=True):
            np.testing.assert_array_equal(keras.ops.convert_to_numpy(a), keras.ops.convert_to_numpy(b))
    # Anything else is left to Keras' own apply, with nothing changed: a clipped Adam, a part
    # without variables, one optimizer in two parts, a learning rate that is a callable.
    variable, other = keras.Variable(np.ones(3, "float32")), keras.Variable(np.ones(2, "float32"))
    plain, second = keras.optimizers.Adam(1e-3), keras.optimizers.Adam(1e-3)
    clipped, called = keras.optimizers.Adam(1e-3, global_clipnorm=1.0), keras.optimizers.Adam(lambda: 1e-3)
    optimizers = (plain, second, clipped, called)
    for optimizer in optimizers:
        optimizer.build([variable, other])
    refused = [
        ([(clipped, [variable])], [torch.ones(3)]),
        ([(plain, [variable]), (second, [])], [torch.ones(3)]),
        ([(plain, [variable]), (plain, [other])], [torch.ones(3), torch.ones(2)]),
        ([(called, [variable])], [torch.ones(3)]),
    ]
    for parts, step_grads in refused:
        assert not torch_backend.apply_adam(parts, step_grads)
    for optimizer in optimizers:
        assert int(optimizer.iterations.numpy()) == 0
        for slot in optimizer._momentums + optimizer._velocities:
            assert np.all(keras.ops.convert_to_numpy(slot) == 0)
    assert np.all(variable.numpy() == 1) and np.all(other.numpy() == 1)


def test_files_saved_with_plain_functional_networks_still_load(normal_data, tmp_path, monkeypatch):
    # Before `networks.Functional`, the builders returned Keras' own functional models; a .keras file
    # names the weights of networks held in lists (DHAG's perturbators) after their class.
    with monkeypatch.context() as patch:
        patch.setattr(
            networks, "Functional", lambda inputs, outputs, name=None: keras.Model(inputs, outputs, name=name)
        )
        old = ks.DHAG((normal_data.shape[1],), seed=0)
        assert type(old.perturbators[0]) is not networks.Functional
        old.fit(normal_data, epochs=1, batch_size=64, verbose=0)
        old.save(tmp_path / "old.keras")
    loaded = keras.saving.load_model(tmp_path / "old.keras")
    assert isinstance(loaded.perturbators[0], networks.Functional)
    np.testing.assert_allclose(loaded.predict(normal_data, verbose=0), old.predict(normal_data, verbose=0), rtol=1e-6)


def test_set_random_seed_makes_runs_identical(normal_data):
    def run():
        keras.utils.set_random_seed(123)
        model = tiny_fence_gan(seed=None, generator_dropout=0.2)
        model.compile(optimizer=fast_optimizers())
        model.fit(normal_data, epochs=2, batch_size=64, verbose=0)
        return model.predict(normal_data, verbose=0), _weights(model.generator)

    (scores_a, gen_a), (scores_b, gen_b) = run(), run()
    np.testing.assert_array_equal(scores_a, scores_b)
    for a, b in zip(gen_a, gen_b, strict=True):
        np.testing.assert_array_equal(a, b)


class _Interrupt(keras.callbacks.Callback):
    def __init__(self, at_epoch):
        super().__init__()
        self.at_epoch = at_epoch

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == self.at_epoch:
            raise RuntimeError("simulated crash")


def test_backup_and_restore_resumes_with_every_roles_optimizer_state(normal_data, tmp_path):
    def fresh():
        keras.utils.set_random_seed(7)
        return _compiled(seed=7)

    uninterrupted = fresh()
    uninterrupted.fit(normal_data, epochs=4, batch_size=64, shuffle=False, verbose=0)

    backup = keras.callbacks.BackupAndRestore(str(tmp_path / "backup"))
    crashed = fresh()
    with pytest.raises(RuntimeError, match="simulated crash"):
        crashed.fit(normal_data, epochs=4, batch_size=64, shuffle=False, verbose=0, callbacks=[backup, _Interrupt(2)])
    assert _iterations(crashed) == {"generator": 16, "discriminator": 16}

    resumed = fresh()  # a new process would start from here
    history = resumed.fit(normal_data, epochs=4, batch_size=64, shuffle=False, verbose=0, callbacks=[backup])
    assert len(history.history["generator_loss"]) == 2  # only epochs 3 and 4 ran
    assert _iterations(resumed) == {"generator": 32, "discriminator": 32}
    for a, b in zip(
        _weights(resumed.generator) + _weights(resumed.discriminator),
        _weights(uninterrupted.generator) + _weights(uninterrupted.discriminator),
        strict=True,
    ):
        np.testing.assert_allclose(a, b, atol=1e-5)
    np.testing.assert_allclose(
        resumed.predict(normal_data, verbose=0), uninterrupted.predict(normal_data, verbose=0), atol=1e-5
    )


@pytest.mark.parametrize("method", ["FenceGAN", "DOPING"])
def test_the_same_seed_gives_the_same_scores(method, normal_data, far_data):
    """seed= covers weight initialisation, dropout, shuffling and sampling, whatever the global state."""

    def fit_and_score(global_seed):
        keras.utils.set_random_seed(global_seed)  # a different global state before each run
        if method == "FenceGAN":
            model = ks.FenceGAN(
                input_shape=(4,), latent_dim=4, generator_units=(16,), discriminator_units=(16,), seed=3
            )
        else:
            model = ks.DOPING(input_shape=(4,), autoencoder=tiny_aae(seed=3), seed=3)
        model.fit(normal_data, epochs=2, batch_size=64, verbose=0)  # FenceGAN: dropout .2, shuffled batches
        return model.predict(np.r_[normal_data[:50], far_data[:50]], verbose=0)

    np.testing.assert_allclose(fit_and_score(1), fit_and_score(2), rtol=1e-6, atol=1e-6)


@pytest.mark.skipif(BACKEND != "tensorflow", reason="TensorFlow's array pipeline (JAX and torch use Keras' iterators)")
def test_tensorflow_array_pipeline_reshuffles_every_epoch_with_labels_aligned():
    model = tiny_aae(width=2)
    x = np.arange(20, dtype="float32").reshape(10, 2)
    y = np.arange(10, dtype="float32")

    def two_epochs():
        keras.utils.set_random_seed(0)
        kwargs = {"batch_size": 4}
        data, labels = backend.training_data(model, x, y, kwargs)
        assert labels is None and kwargs == {"shuffle": False}  # Keras gets the dataset, unshuffled
        return [[(keras.ops.convert_to_numpy(a), keras.ops.convert_to_numpy(b)) for a, b in data] for _ in range(2)]

    epochs = two_epochs()
    orders = []
    for epoch in epochs:
        assert [len(b) for _, b in epoch] == [4, 4, 2]  # the last batch partial, as Keras makes it
        for rows, labels in epoch:
            np.testing.assert_array_equal(rows[:, 0] / 2, labels)  # each row with its own label
        orders.append(np.concatenate([labels for _, labels in epoch]))
        assert sorted(orders[-1]) == list(range(10))  # every row once an epoch
    assert not np.array_equal(orders[0], orders[1])  # a new permutation every epoch
    again = two_epochs()
    for first, second in zip(epochs, again, strict=True):
        np.testing.assert_array_equal(np.concatenate([b for _, b in first]), np.concatenate([b for _, b in second]))
    weighted = {"batch_size": 4, "sample_weight": np.ones(10)}
    assert backend.training_data(model, x, y, weighted)[0] is x and "batch_size" in weighted  # Keras' own path

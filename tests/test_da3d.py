"""DA3D: frozen AAE, critic clipping, generated anomalies, known anomalies, round trip, bad inputs."""

import keras
import numpy as np
import pytest
from conftest import blob_images, tiny_conv_aae
from keras import ops

import keras_synthad as ks
from keras_synthad import losses, metrics
from keras_synthad.data import MinMaxScaler, load_adbench


def small_aae(width=6, **kwargs):
    defaults = dict(latent_dim=2, prior_scale=1.0, hidden_units=(8, 6, 3), learning_rate=1e-3, seed=0)
    defaults.update(kwargs)
    return ks.AdversarialAutoencoder((width,), **defaults)


def small_da3d(**kwargs):
    # One member: these tests are about Algorithm 1 (test_presets covers members).
    defaults = dict(autoencoder=small_aae(), aae_epochs=20, alarm_units=(32, 16), learning_rate=1e-3, members=1, seed=0)
    defaults.update(kwargs)
    return ks.DA3D((6,), **defaults)


@pytest.fixture(scope="module")
def thyroid():
    """1,000 normal and 50 anomalous thyroid rows (ODDS), scaled with the normal rows' min/max."""
    x, y = load_adbench("38_thyroid")
    scaler = MinMaxScaler(clip=True).fit(x[y == 0][:1000])
    return scaler.transform(x[y == 0][:1000]), scaler.transform(x[y == 1][:50])


@pytest.fixture(scope="module")
def trained(thyroid):
    keras.utils.set_random_seed(0)
    # The paper's alarm input (the decoder's activations), as Algorithm 1's tests below read it.
    model = small_da3d(clip="gradient_norm", activations="decoder")
    model.fit(thyroid[0], epochs=15, batch_size=100, verbose=0)
    return model


def aae_weights(model):
    return {v.path: ops.convert_to_numpy(v).copy() for v in model.autoencoder.weights}


def test_aae_is_pretrained_then_frozen(thyroid):
    keras.utils.set_random_seed(0)
    model = small_da3d()
    initial = aae_weights(model)
    model.fit(thyroid[0], epochs=1, batch_size=100, verbose=0)  # pretraining + one epoch
    pretrained = aae_weights(model)
    assert any(not np.array_equal(initial[k], pretrained[k]) for k in initial)
    assert model.autoencoder.trainable_weights == []
    model.fit(thyroid[0], epochs=2, batch_size=100, verbose=0)  # no second pretraining
    after = aae_weights(model)
    for key in pretrained:
        np.testing.assert_array_equal(pretrained[key], after[key], err_msg=key)


def test_weight_clipping_holds_after_a_step(thyroid):
    model = small_da3d(clip="weights", clip_value=0.01, aae_epochs=0)
    model.fit(thyroid[0][:200], epochs=1, batch_size=100, verbose=0)
    for v in model.critic.trainable_variables:
        assert np.abs(ops.convert_to_numpy(v)).max() <= 0.01 + 1e-7, v.path


def test_gradient_norm_clipping_is_the_critic_optimizers(trained):
    optimizers = {o.name: o for o in trained.optimizer.optimizers}  # the ones it trained with
    assert int(optimizers["critic"].iterations) > 0
    assert optimizers["critic"].global_clipnorm == 0.01
    assert optimizers["alarm"].global_clipnorm is None
    # Weights are not clipped in this mode.
    assert max(np.abs(ops.convert_to_numpy(v)).max() for v in trained.critic.trainable_variables) > 0.01


def test_generated_anomalies_score_higher_than_normals(trained, thyroid):
    codes = trained.generator(trained.sample_generator_noise(500))
    generated = ops.convert_to_numpy(ops.sigmoid(trained.alarm(trained.activations_of_code(codes))))
    normal = trained.predict(thyroid[0], verbose=0)
    assert normal.shape == (1000,) and np.all((normal >= 0) & (normal <= 1))
    assert generated.mean() > normal.mean() + 0.05, (generated.mean(), normal.mean())


def test_known_anomalies_join_the_anomalous_side(thyroid):
    normal, anomalies = thyroid
    x = np.concatenate([normal, anomalies])
    y = np.r_[np.zeros(len(normal)), np.ones(len(anomalies))]

    def auroc(labels):
        keras.utils.set_random_seed(0)
        # The encoder's activations carry more of the input than the 2-D code the
        # decoder's are a function of, so labelled anomalies can be told apart.
        model = small_da3d(clip="gradient_norm", activations="all", preset="paper")
        model.fit(x, labels, epochs=30, batch_size=100, verbose=0)
        return metrics.roc_auc(y, model.predict(x, verbose=0))

    labelled, unlabelled = auroc(y), auroc(None)
    # Measured: TensorFlow .69 against .65 (seeds 1 and 2: .81 / .74, .74 / .66), JAX .92 against
    # .86, torch .980 against .974 (its unlabelled fit already ranks these anomalies well).
    assert labelled > unlabelled and labelled > 0.6, (labelled, unlabelled)


def test_alarm_loss_labels_known_anomalies():
    logits = ops.convert_to_tensor(np.array([[4.0], [4.0]], "float32"))  # the alarm says "anomaly"
    anomalous = ops.convert_to_tensor(np.array([[9.0]], "float32"))
    as_normal = float(losses.alarm_loss(logits, np.zeros(2, "float32"), anomalous, anomalous))
    as_known = float(losses.alarm_loss(logits, np.ones(2, "float32"), anomalous, anomalous))
    assert as_known < 0.05 < as_normal  # labelled rows are targets of 1, unlabelled ones of 0


def test_alarm_loss_grades_trivial_anomalies_by_their_targets():
    normal, generated = (ops.convert_to_tensor(np.array([[v]], "float32")) for v in (-9.0, 9.0))
    labels = np.zeros(1, "float32")
    low = ops.convert_to_tensor(np.array([[-6.0], [-6.0]], "float32"))  # the alarm calls both points normal
    loss = lambda targets: float(losses.alarm_loss(normal, labels, low, generated, targets))  # noqa: E731
    assert loss(np.ones(2, "float32")) == pytest.approx(loss(None))  # targets of 1: eq. (1) as printed
    # Points graded 0 (on their row) agree with a low logit and cost almost nothing; hard targets cost 6 each.
    assert loss(np.zeros(2, "float32")) < 0.01 < 5.9 < loss(None)
    assert loss(np.zeros(2, "float32")) < loss(np.full(2, 0.5, "float32")) < loss(None)


def test_graded_anomalies_lie_between_each_row_and_its_reference_with_the_fraction_as_target():
    m, d = 2000, 4
    rng = np.random.default_rng(0)
    rows, reference = rng.uniform(size=(m, d)).astype("float32"), rng.normal(0.5, 1.0, (m, d)).astype("float32")
    model = ks.DA3D((d,), seed=0)
    assert (model.trivial_graded, ks.DA3D((d,), preset="paper").trivial_graded) == (0.5, 0.0)
    assert ks.DA3D((8, 8, 1), seed=0).trivial_graded == 0.0  # images: not measured, the paper's
    points, targets = model.graded_anomalies(ops.convert_to_tensor(rows), ops.convert_to_tensor(reference), 0.3)
    points, targets = ops.convert_to_numpy(points), ops.convert_to_numpy(targets)
    kept = targets == 1.0
    np.testing.assert_array_equal(points[kept], reference[kept])
    moved = ~kept
    assert 0.26 < moved.mean() < 0.34 and (targets[moved] > 0).all()
    np.testing.assert_allclose(points[moved], rows[moved] + targets[moved, None] * (reference - rows)[moved], atol=1e-5)
    assert 0.45 < targets[moved].mean() < 0.55  # t ~ U(0, 1)
    known = (np.arange(m) % 2).astype("float32")  # every other row a known anomaly: its points keep target 1
    _, targets = model.trivial_rows(ops.convert_to_tensor(rows), ops.convert_to_tensor(known))
    targets = ops.convert_to_numpy(targets)
    assert (targets[known == 1] == 1).all() and 0.4 < (targets[known == 0] < 1).mean() < 0.6  # the default: half
    assert (
        ks.DA3D((d,), preset="paper").trivial_rows(ops.convert_to_tensor(rows), ops.convert_to_tensor(known))[1] is None
    )


def test_simple_variant_trains_only_the_alarm(thyroid):
    model = small_da3d(generator="simple", aae_epochs=2)
    assert set(model.roles()) == {"alarm"}
    model.fit(thyroid[0][:300], epochs=1, batch_size=100, verbose=0)
    assert {o.name for o in model.optimizer.optimizers} == {"alarm"}
    assert not hasattr(model, "critic")


@pytest.mark.parametrize(
    "activations, width", [("decoder", 3 + 6 + 8), ("encoder", 8 + 6 + 3), ("all", 34), ("input", 6)]
)
def test_activation_choices(activations, width, thyroid):
    model = small_da3d(activations=activations, aae_epochs=0)
    assert model.activation_width == width
    assert model.predict(thyroid[0][:10], verbose=0).shape == (10,)


def test_an_alarm_reading_the_input_scores_the_rows_and_sees_generated_codes_decoded(thyroid):
    model = small_da3d(activations="input", aae_epochs=2)
    assert ks.DA3D((6,), seed=0).activations == "input"  # the tabular default
    model.fit(thyroid[0][:200], epochs=1, batch_size=100, verbose=0)
    x = thyroid[0][:20]
    np.testing.assert_allclose(ops.convert_to_numpy(model.activations_of_input(ops.convert_to_tensor(x))), x)
    np.testing.assert_allclose(
        model.predict(x, verbose=0),
        ops.convert_to_numpy(ops.sigmoid(model.alarm(ops.convert_to_tensor(x)))).ravel(),
        rtol=1e-5,
        atol=1e-6,
    )
    codes = ops.convert_to_tensor(np.random.default_rng(0).normal(size=(5, model.latent_dim)).astype("float32"))
    np.testing.assert_allclose(
        ops.convert_to_numpy(model.activations_of_code(codes)),
        ops.convert_to_numpy(model.autoencoder.decoder(codes)),
        rtol=1e-6,
    )


def test_round_trip(trained, thyroid, tmp_path):
    path = tmp_path / "da3d.keras"
    trained.save(path)
    restored = keras.saving.load_model(path)
    assert isinstance(restored, ks.DA3D)
    np.testing.assert_allclose(
        restored.predict(thyroid[0][:50], verbose=0), trained.predict(thyroid[0][:50], verbose=0), atol=1e-6
    )
    assert float(ops.convert_to_numpy(restored.pretrained)) == 1.0
    assert restored.autoencoder.trainable_weights == []


def member_probabilities(model, x):
    """Each member's P(anomaly) from its own alarm on its own AAE's activations, shape (members, rows)."""
    x = ops.convert_to_tensor(x)
    return np.stack(
        [
            ops.convert_to_numpy(ops.sigmoid(alarm(model.activations_of_input(x, model.autoencoder_of(m))))).ravel()
            for m, alarm in enumerate(model.alarms)
        ]
    )


def test_members_with_their_own_autoencoders_and_batch_shares(thyroid, tmp_path):
    keras.utils.set_random_seed(0)
    model = small_da3d(members=3, member_autoencoders="own", member_batches="split", aae_epochs=5)
    assert len(model.autoencoders) == 3 and [model.autoencoder_of(m) for m in range(3)] == [0, 1, 2]
    initial = [ops.convert_to_numpy(aae.encoder.weights[0]).copy() for aae in model.autoencoders]
    assert not np.allclose(initial[0], initial[1])  # each AAE from its own initial weights
    model.fit(thyroid[0][:301], epochs=2, batch_size=100, verbose=0)  # the last batch: 1 row for 3 members
    for aae, start in zip(model.autoencoders, initial, strict=True):
        assert not np.allclose(ops.convert_to_numpy(aae.encoder.weights[0]), start)  # each one pretrained
        assert aae.trainable_weights == []  # and frozen
    x = np.concatenate([thyroid[0][:20], thyroid[1][:20]])
    members = member_probabilities(model, x)
    assert np.isfinite(members).all() and not np.allclose(members[0], members[1], atol=1e-4)
    scores = model.predict(x, verbose=0)
    np.testing.assert_allclose(scores, members.mean(axis=0), atol=1e-5)
    model.save(tmp_path / "m.keras")
    restored = keras.saving.load_model(tmp_path / "m.keras")
    assert len(restored.autoencoders) == 3 and all(aae.trainable_weights == [] for aae in restored.autoencoders)
    np.testing.assert_allclose(restored.predict(x, verbose=0), scores, atol=1e-5)


def test_trivial_anomalies_mix_rows_uniform_in_the_box_with_far_and_swapped_rows():
    m, d = 600, 5
    rows = (np.arange(m * d, dtype="float32").reshape(m, d) + 1) / (m * d)  # every value distinct, in (0, 1]
    model = ks.DA3D((d,), seed=0)
    assert (model.trivial_uniform, ks.DA3D((d,), preset="paper").trivial_uniform) == (0.5, 0.0)
    assert ks.DA3D((8, 8, 1), seed=0).trivial_uniform == 0.0  # images: not measured, the paper's
    tensor = ops.convert_to_tensor(rows)

    def kinds(trivial):
        from_data = np.all([np.isin(trivial[:, j], rows[:, j]) for j in range(d)], axis=0)
        in_box = np.all((trivial >= 0) & (trivial < 1), axis=1) & ~from_data
        return from_data.mean(), in_box.mean()

    assert kinds(ops.convert_to_numpy(model.trivial_anomalies(tensor, 0.0, 0.25, 1.0))) == (0.0, 1.0)
    swapped, uniform = kinds(ops.convert_to_numpy(model.trivial_anomalies(tensor, 0.25, 0.25, 0.5)))
    # N(0.5, 1) rows fall inside the box now and then (0.38 ** 5 of them): the far quarter adds a few.
    assert 0.19 < swapped < 0.31 and 0.44 < uniform < 0.58


def test_member_share_is_every_mth_row_wrapping_round_short_batches():
    model = small_da3d(members=3, member_batches="split", aae_epochs=0)
    rows = np.arange(14, dtype="float32").reshape(7, 2)
    labels = np.arange(7, dtype="float32")
    share, share_labels = model.member_share(ops.convert_to_tensor(rows), ops.convert_to_tensor(labels), 1)
    np.testing.assert_array_equal(ops.convert_to_numpy(share_labels), [1, 4, 0])
    np.testing.assert_array_equal(ops.convert_to_numpy(share), rows[[1, 4, 0]])
    _, short = model.member_share(ops.convert_to_tensor(rows[:2]), ops.convert_to_tensor(labels[:2]), 2)
    np.testing.assert_array_equal(ops.convert_to_numpy(short), [0])


def test_bad_inputs_raise(thyroid):
    with pytest.raises(ValueError, match="argument `conv_filters`"):
        ks.AdversarialAutoencoder((6,), conv_filters=(8,))
    with pytest.raises(ValueError, match="autoencoder for input shape"):
        ks.DA3D((12, 12, 1), autoencoder=small_aae())
    with pytest.raises(ValueError, match="argument `activations`"):
        small_da3d(activations="middle")
    with pytest.raises(ValueError, match="argument `generator`"):
        small_da3d(generator="vae")
    with pytest.raises(ValueError, match="argument `autoencoder`"):
        ks.DA3D((6,), autoencoder=small_aae(width=5))
    with pytest.raises(ValueError, match="argument `member_autoencoders`"):
        small_da3d(member_autoencoders="each")
    with pytest.raises(ValueError, match="argument `member_batches`"):
        small_da3d(member_batches="halves")
    with pytest.raises(ValueError, match="argument `clip`"):
        small_da3d(clip="value")
    with pytest.raises(ValueError, match=r"argument `trivial_uniform`.*at most 1 - trivial_swapped = 0.4"):
        small_da3d(trivial_swapped=0.6, trivial_uniform=0.5)
    with pytest.raises(ValueError, match=r"aae_epochs=0\) would leave the own autoencoders of members 1-2"):
        small_da3d(members=3, member_autoencoders="own", aae_epochs=0).fit(thyroid[0][:10], epochs=1, verbose=0)
    model = small_da3d(aae_epochs=0)
    with pytest.raises(ValueError, match="labels|`y`"):
        model.fit(thyroid[0][:10], np.zeros(9), epochs=1, verbose=0)
    with pytest.raises(ValueError, match="wrong width"):
        model.predict(np.zeros((2, 5), "float32"))


@pytest.mark.parametrize("width, hidden", [(21, (42, 28, 18, 12, 8)), (1555, (600, 400, 266))])
def test_default_tabular_autoencoder_funnels_from_at_most_table_1s_widest_layer(width, hidden):
    autoencoder = ks.methods.da3d.default_autoencoder((width,))
    assert tuple(autoencoder.hidden_units) == hidden
    assert autoencoder.latent_dim == -(-width // 12)


def test_learning_rates_reach_every_optimizer(tmp_path):
    # learning_rate sets the alarm's, generator's and critic's Adam; aae_learning_rate the default AAE's.
    def rates(model):
        aae = model.autoencoder.default_optimizers().values()
        own = model.default_optimizers().values()
        return {round(float(o.learning_rate), 8) for o in aae}, {round(float(o.learning_rate), 8) for o in own}

    assert rates(ks.DA3D((6,), aae_epochs=0)) == ({1e-4}, {1e-4})  # the paper's rates, in every preset
    assert rates(ks.DA3D((6,), preset="paper", aae_epochs=0)) == ({1e-4}, {1e-4})
    model = ks.DA3D((6,), learning_rate=5e-4, aae_learning_rate=2e-4, aae_epochs=0, seed=0)
    assert rates(model) == ({2e-4}, {5e-4})
    given = ks.DA3D((6,), autoencoder=small_aae(), aae_learning_rate=0.5, aae_epochs=0)
    assert given.autoencoder.learning_rate == 1e-3  # a given autoencoder keeps its own rate
    model.save(tmp_path / "m.keras")
    restored = keras.saving.load_model(tmp_path / "m.keras")
    assert rates(restored) == ({2e-4}, {5e-4}) and restored.get_config()["aae_learning_rate"] == 2e-4
    with pytest.raises(ValueError, match="argument `aae_learning_rate`"):
        ks.DA3D((6,), aae_learning_rate=0.0)


# --- image inputs: Table 1's convolutional AAE -------------------------------------------


def test_image_inputs_get_table_1_convolutional_aae():
    model = ks.DA3D((28, 28, 1), aae_epochs=0)
    assert model.autoencoder.conv_filters == (32, 16, 8) and model.latent_dim == 16
    assert model.autoencoder.decoder_activation == "sigmoid"
    # Decoder activations: 4x4x8 + 7x7x16 + 14x14x32 (the mirror of the encoder's maps).
    assert model.activation_width == 4 * 4 * 8 + 7 * 7 * 16 + 14 * 14 * 32
    assert ks.DA3D((28, 28, 1), activations="all", aae_epochs=0).activation_width == 2 * model.activation_width


def test_image_da3d_draws_every_kind_of_trivial_anomaly_one_per_image():
    # Per-image draws broadcast over (H, W, C): the image path crashed with swapped or uniform shares before.
    images = blob_images(64)
    model = ks.DA3D(
        images.shape[1:],
        autoencoder=tiny_conv_aae(images.shape[1:]),
        aae_epochs=1,
        alarm_units=(16,),
        trivial_swapped=0.25,
        trivial_uniform=0.5,
        trivial_graded=0.5,
        seed=0,
    )
    tensor = ops.convert_to_tensor(images)
    trivial, targets = (ops.convert_to_numpy(t) for t in model.trivial_rows(tensor, ops.zeros((64,))))
    assert trivial.shape == images.shape and targets.shape == (64,)
    assert 0 < (targets < 1).sum() < 64
    # Each graded image moves the same fraction t of the way at every pixel: towards images + 1, by t.
    points, t = (ops.convert_to_numpy(v) for v in model.graded_anomalies(tensor, tensor + 1.0, 0.5))
    np.testing.assert_allclose(points - images, np.broadcast_to(t[:, None, None, None], images.shape), atol=1e-6)
    history = model.fit(images, epochs=1, batch_size=32, verbose=0)
    assert np.isfinite(history.history["alarm_loss"]).all()


def test_image_da3d_trains_on_a_frozen_conv_aae(tmp_path):
    keras.utils.set_random_seed(0)
    images = blob_images()
    autoencoder = tiny_conv_aae(images.shape[1:])
    model = ks.DA3D(
        images.shape[1:],
        autoencoder=autoencoder,
        aae_epochs=10,
        alarm_units=(32, 16),
        clip="gradient_norm",
        learning_rate=1e-3,
        seed=0,
        preset="paper",  # the algorithm's check: without the default's averaged alarm weights
    )
    model.fit(images, epochs=1, batch_size=64, verbose=0)
    pretrained = aae_weights(model)  # includes the batch-norm statistics
    model.fit(images, epochs=10, batch_size=64, verbose=0)
    for key, value in aae_weights(model).items():
        np.testing.assert_array_equal(pretrained[key], value, err_msg=key)
    codes = model.generator(model.sample_generator_noise(256))
    generated = ops.convert_to_numpy(ops.sigmoid(model.alarm(model.activations_of_code(codes))))
    normal = model.predict(images, verbose=0)
    assert generated.mean() > normal.mean() + 0.05, (generated.mean(), normal.mean())
    path = tmp_path / "da3d_images.keras"
    model.save(path)
    restored = keras.saving.load_model(path)
    np.testing.assert_allclose(restored.predict(images[:32], verbose=0), normal[:32], atol=1e-6)


def test_pretraining_is_announced_unless_silent(capsys):
    x = np.random.default_rng(0).random((64, 6)).astype("float32")
    small_da3d(aae_epochs=1, alarm_units=(4,)).fit(x, epochs=1, batch_size=32, verbose=2)
    assert "pretraining the autoencoder for 1 epochs" in capsys.readouterr().out
    small_da3d(aae_epochs=1, alarm_units=(4,)).fit(x, epochs=1, batch_size=32, verbose=0)
    assert capsys.readouterr().out == ""

"""Presets (the papers' settings and the label-free default) and the stabilisers the defaults use."""

import keras
import numpy as np
import pytest
from conftest import fast_optimizers, tiny_aae, tiny_fence_gan

import keras_synthad as ks
from keras_synthad import metrics


def build(method: str, preset: str, **kwargs):
    if method == "FenceGAN":
        return tiny_fence_gan(preset=preset)
    if method == "DHAG":
        return ks.DHAG((4,), n_perturbators=2, encoder_units=(16,), seed=0, preset=preset, **kwargs)
    if method == "DA3D":
        return ks.DA3D((4,), autoencoder=tiny_aae(), aae_epochs=1, alarm_units=(16,), seed=0, preset=preset, **kwargs)
    return ks.DOPING((4,), autoencoder=tiny_aae(), seed=0, preset=preset)


CASES = [
    (method, preset)
    for method, presets in {
        "FenceGAN": ("default", "paper", "authors_code"),
        "DHAG": ("default", "paper", "authors_code"),
        "DA3D": ("default", "paper", "authors_code"),
        "DOPING": ("default", "paper"),
    }.items()
    for preset in presets
]


@pytest.mark.parametrize("method, preset", CASES)
def test_presets_round_trip_through_keras_files(method, preset, tmp_path):
    model = build(method, preset)
    assert model.preset == preset and model.get_config()["preset"] == preset
    model.save(tmp_path / "m.keras")
    restored = keras.saving.load_model(tmp_path / "m.keras")
    assert type(restored) is type(model) and restored.preset == preset
    assert restored.get_config() == model.get_config()


def test_paper_preset_keeps_the_papers_settings_and_the_default_changes_them():
    paper, default = tiny_fence_gan(preset="paper"), tiny_fence_gan()
    assert (paper.score, paper.trivial_weight, paper.weight_averaging, paper.generator_output) == (
        "probability",
        0.0,
        0.0,
        "linear",
    )
    assert (default.score, default.generator_output) == ("logit", "sigmoid")
    assert default.trivial_weight > 0 and default.weight_averaging > 0
    dhag = ks.DHAG((4,), preset="paper")
    assert (dhag.k, dhag.norm, dhag.diversity, dhag.trivial_weight) == (50, "per_sample", "absolute", 0.0)
    assert ks.DHAG((4,), preset="authors_code").norm == "frobenius"
    assert ks.DA3D((4,), preset="authors_code").clip == "gradient_norm"
    assert ks.DA3D((4,), preset="paper").clip == "weights"
    assert isinstance(ks.DOPING((4,), preset="paper").detector, ks.IsolationForestScorer)
    # An explicit argument overrides the preset's value.
    assert ks.FenceGAN((4,), preset="paper", score="logit").score == "logit"


def test_configs_saved_before_presets_load_with_the_papers_settings():
    config = tiny_fence_gan(preset="paper").get_config()
    for key in ("preset", "generator_output", "score", "trivial_weight", "weight_averaging"):
        del config[key]
    restored = ks.FenceGAN.from_config(config)
    assert restored.preset == "paper" and restored.score == "probability" and restored.trivial_weight == 0.0


def test_unknown_presets_and_bad_stabiliser_settings_are_refused():
    with pytest.raises(ValueError, match="argument `preset`.*'papr'"):
        ks.FenceGAN((4,), preset="papr")
    with pytest.raises(ValueError, match="argument `preset`"):
        ks.DOPING((4,), preset="authors_code")  # no authors' code was published
    with pytest.raises(ValueError, match="argument `weight_averaging`"):
        tiny_fence_gan(weight_averaging=1.5)
    with pytest.raises(ValueError, match="argument `trivial_weight`"):
        ks.DHAG((4,), trivial_weight=-1.0)
    with pytest.raises(ValueError, match="argument `trivial_swapped`"):
        ks.DHAG((4,), trivial_swapped=1.5)
    with pytest.raises(ValueError, match="argument `swap_rate`"):
        ks.DHAG((4,), swap_rate=-0.1)
    with pytest.raises(ValueError, match="argument `score`"):
        tiny_fence_gan(score="odds")


class LastRawWeights(keras.callbacks.Callback):
    """The discriminator's own weights when Keras' fit loop ends (before the averages are loaded)."""

    def on_train_end(self, logs=None):
        self.raw = [keras.ops.convert_to_numpy(v).copy() for v in self.model.discriminator.trainable_variables]


def test_averaged_weights_are_the_ones_that_score_and_save(normal_data, tmp_path):
    keras.utils.set_random_seed(0)
    model = tiny_fence_gan()
    model.compile(optimizer=fast_optimizers())
    callback = LastRawWeights()
    model.fit(normal_data, epochs=3, batch_size=64, verbose=0, callbacks=[callback])
    weights = [keras.ops.convert_to_numpy(v) for v in model.discriminator.trainable_variables]
    averages = [keras.ops.convert_to_numpy(v) for v in model.weight_averages]
    for weight, average in zip(weights, averages, strict=True):
        np.testing.assert_array_equal(weight, average)
    assert any(not np.allclose(w, r) for w, r in zip(weights, callback.raw, strict=True))
    scores = model.predict(normal_data[:16], verbose=0)
    logits = keras.ops.convert_to_numpy(model.discriminator(normal_data[:16])).reshape(-1)
    np.testing.assert_allclose(scores, -logits, atol=1e-5)
    model.save(tmp_path / "m.keras")
    restored = keras.saving.load_model(tmp_path / "m.keras")
    np.testing.assert_allclose(restored.predict(normal_data[:16], verbose=0), scores, atol=1e-5)


def test_without_weight_averaging_no_averages_are_kept():
    assert tiny_fence_gan(weight_averaging=0).weight_averages == ()
    assert tiny_fence_gan(preset="paper").weight_averages == ()


def test_default_fence_gan_generates_inside_the_unit_box(normal_data):
    keras.utils.set_random_seed(0)
    model = tiny_fence_gan()
    model.compile(optimizer=fast_optimizers(5e-2))
    model.fit(normal_data, epochs=3, batch_size=64, verbose=0)
    samples = keras.ops.convert_to_numpy(model.generator(model.sample_noise(512)))
    assert samples.min() >= 0.0 and samples.max() <= 1.0


@pytest.mark.parametrize("method", ["FenceGAN", "DHAG"])
def test_default_recipes_rank_far_rows_above_normal_ones(method, normal_data, far_data):
    keras.utils.set_random_seed(0)
    model = build(method, "default")
    if method == "FenceGAN":
        model.compile(optimizer=fast_optimizers(1e-3))  # Adam 1e-4 needs more steps than a unit test takes
    model.fit(normal_data, epochs=40, batch_size=32, verbose=0)  # 640 steps
    scores = model.predict(np.concatenate([normal_data[:256], far_data]), verbose=0)
    assert metrics.roc_auc(np.r_[np.zeros(256), np.ones(len(far_data))], scores) > 0.9


def member_probabilities(model, x) -> np.ndarray:
    """Each member's P(anomaly) of the rows `x`, shape (members, rows)."""
    if isinstance(model, ks.DHAG):
        codes = [encoder(model.inputs_of(x)) for encoder in model.encoders]
        logits = [discriminator(c) for discriminator, c in zip(model.discriminators, codes, strict=True)]
    else:
        x = keras.ops.convert_to_tensor(x)
        logits = [alarm(model.activations_of_input(x, model.autoencoder_of(m))) for m, alarm in enumerate(model.alarms)]
    return np.stack([keras.ops.convert_to_numpy(keras.ops.sigmoid(v)).reshape(-1) for v in logits])


@pytest.mark.parametrize("method", ["DHAG", "DA3D"])
def test_members_train_apart_and_score_with_their_mean_probability(method, normal_data, tmp_path):
    assert build(method, "paper").members == 1 and build(method, "default").members == 1
    model = build(method, "default", members=3)
    first_layers = [n.trainable_variables[0] for n in (model.encoders if method == "DHAG" else model.alarms)]
    before = [keras.ops.convert_to_numpy(v).copy() for v in first_layers]
    model.fit(normal_data[:256], epochs=2, batch_size=64, verbose=0)
    for variable, start in zip(first_layers, before, strict=True):
        assert not np.allclose(keras.ops.convert_to_numpy(variable), start)  # every member trained
    x = normal_data[:16]
    members = member_probabilities(model, x)
    assert not np.allclose(members[0], members[1], atol=1e-4)  # different initial weights
    scores = model.predict(x, verbose=0)
    np.testing.assert_allclose(scores, members.mean(axis=0), atol=1e-5)
    model.save(tmp_path / "m.keras")
    np.testing.assert_allclose(keras.saving.load_model(tmp_path / "m.keras").predict(x, verbose=0), scores, atol=1e-5)

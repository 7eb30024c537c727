import numpy as np
import pytest
from keras import ops

from keras_synthad import losses


def _logit(p):
    return np.log(p / (1 - p)).astype("float32")


@pytest.mark.parametrize("kind", ["log_abs", "bce"])
def test_encirclement_is_smallest_at_alpha(kind):
    alpha = 0.3
    probs = np.array([0.05, 0.2, 0.29, 0.3, 0.31, 0.5, 0.9])
    values = [
        float(losses.encirclement_loss(ops.convert_to_tensor(_logit(np.full((4, 1), p))), alpha, kind)) for p in probs
    ]
    assert int(np.argmin(values)) == 3


def test_encirclement_log_abs_matches_eq3():
    p = np.array([0.1, 0.4, 0.8], dtype="float32")
    expected = np.mean(np.log(np.abs(0.5 - p)))
    assert float(losses.encirclement_loss(_logit(p), 0.5)) == pytest.approx(expected, rel=1e-5)


def test_encirclement_rejects_unknown_kind():
    with pytest.raises(ValueError, match="kind"):
        losses.encirclement_loss(np.zeros((2, 1), "float32"), 0.5, kind="mse")


def test_dispersion_is_inverse_mean_distance_to_centre():
    points = np.array([[0, 0], [2, 0], [0, 2], [2, 2]], dtype="float32")  # centre (1, 1), distances sqrt(2)
    assert float(losses.dispersion_loss(points)) == pytest.approx(1 / np.sqrt(2), rel=1e-5)
    spread = float(losses.dispersion_loss(points * 3))
    assert spread == pytest.approx(1 / (3 * np.sqrt(2)), rel=1e-5)


def test_dispersion_flattens_images():
    images = np.zeros((2, 2, 2, 1), "float32")
    images[1] = 1.0  # distance between the two flattened images: 2, to the centre: 1
    assert float(losses.dispersion_loss(images)) == pytest.approx(1.0, rel=1e-5)


def test_weighted_discriminator_loss_matches_eq6():
    d_real = np.array([0.9, 0.6], dtype="float32")
    d_fake = np.array([0.2, 0.7], dtype="float32")
    gamma = 0.5
    expected = np.mean(-np.log(d_real) - gamma * np.log(1 - d_fake))
    got = float(losses.weighted_discriminator_loss(_logit(d_real), _logit(d_fake), gamma))
    assert got == pytest.approx(expected, rel=1e-5)


def test_generator_loss_is_eq5():
    logits = _logit(np.array([[0.3], [0.6]]))
    generated = np.array([[0, 0], [1, 1]], dtype="float32")
    expected = float(losses.encirclement_loss(logits, 0.5)) + 30 * float(losses.dispersion_loss(generated))
    assert float(losses.fence_gan_generator_loss(logits, generated, 0.5, 30.0)) == pytest.approx(expected, rel=1e-6)


def test_dispersion_of_a_single_sample_is_zero_not_huge():
    assert float(losses.dispersion_loss(np.ones((1, 3), "float32"))) == 0.0


def _np(value):
    return float(ops.convert_to_numpy(value))


def test_latent_losses_match_their_formulas():
    prior, codes = np.array([2.0, -1.0], "float32"), np.array([0.5, 3.0], "float32")
    softplus = lambda v: np.log1p(np.exp(v))  # noqa: E731
    # bce: -log D(z) - log(1 - D(E(x))) with D = sigmoid(logit)
    assert _np(losses.latent_discriminator_loss(prior, codes)) == pytest.approx(
        softplus(-prior).mean() + softplus(codes).mean(), rel=1e-5
    )
    assert _np(losses.latent_generator_loss(codes)) == pytest.approx(softplus(-codes).mean(), rel=1e-5)
    # wasserstein: mean C(E(x)) - mean C(z); the generator maximises C(E(x))
    assert _np(losses.latent_discriminator_loss(prior, codes, "wasserstein")) == pytest.approx(1.75 - 0.5)
    assert _np(losses.latent_generator_loss(codes, "wasserstein")) == pytest.approx(-1.75)
    with pytest.raises(ValueError, match="argument `kind`"):
        losses.latent_generator_loss(codes, "hinge")


def test_da3d_critic_and_generator_losses_are_eqs_2_and_3():
    wide, generated, normal = (np.array(v, "float32") for v in ([1.0, 3.0], [0.5, 1.5], [4.0, 2.0]))
    # eq. (2): C(n_h) - lambda_g C(G(n)) - lambda_n C(E(x)) = 2 - 0.5 * 1 - 0.25 * 3
    assert _np(losses.da3d_critic_loss(wide, generated, normal, 0.5, 0.25)) == pytest.approx(0.75)
    # eq. (3): sigmoid(alarm logit) + C(G(n)); logit 0 -> 0.5
    assert _np(losses.da3d_generator_loss(np.zeros(2, "float32"), generated)) == pytest.approx(1.5)


def test_dhag_norm_losses_per_row_and_frobenius():
    eps = np.array([[[3.0, 4.0], [0.0, 0.0]], [[0.0, 1.0], [6.0, 8.0]]], "float32")  # (L=2, m=2, k=2)
    assert _np(losses.dhag_norm_loss(eps)) == pytest.approx((5 + 0 + 1 + 10) / 4, rel=1e-5)
    assert _np(losses.dhag_norm_loss(eps, "frobenius")) == pytest.approx(np.sqrt(25 + 1 + 100), rel=1e-5)
    weights = np.array([1.0, 0.0], "float32")  # the second row (a known anomaly) left out
    assert _np(losses.dhag_norm_loss(eps, weights=weights)) == pytest.approx((5 + 1) / 2, rel=1e-5)


def test_dhag_diversity_is_zero_for_orthogonal_and_one_for_parallel_perturbations():
    orthogonal = np.array([[[1.0, 0.0]], [[0.0, 2.0]]], "float32")  # L=2, m=1
    parallel = np.array([[[1.0, 1.0]], [[-2.0, -2.0]]], "float32")
    assert _np(losses.dhag_diversity_loss(orthogonal)) == pytest.approx(0.0, abs=1e-6)
    assert _np(losses.dhag_diversity_loss(parallel)) == pytest.approx(1.0, abs=1e-6)  # |cos| = 1
    assert _np(losses.dhag_diversity_loss(parallel, "signed")) == pytest.approx(-1.0, abs=1e-6)  # opposite
    assert _np(losses.dhag_diversity_loss(orthogonal[:1])) == 0.0  # one perturbator: no pair

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

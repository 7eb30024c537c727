"""Every loss of the four papers, as a pure `keras.ops` function.

Discriminators here output *logits*; probabilities are ``sigmoid(logit)`` and
``log D = -softplus(-logit)``, ``log(1 - D) = -softplus(logit)``, which is the
paper's formula computed without overflow.
"""

from __future__ import annotations

from keras import ops

ENCIRCLEMENT_KINDS = ("log_abs", "bce")


def encirclement_loss(fake_logits, alpha: float, kind: str = "log_abs", epsilon: float = 1e-7):
    """Fence GAN encirclement loss, eq. (3): ``mean_i log|alpha - D(G(z_i))|``.

    Minimal when the generated samples sit on the discriminator's alpha-level set.

    Args:
        fake_logits: discriminator logits of generated samples, shape (n, 1) or (n,).
        alpha: target discriminator score in (0, 1).
        kind: ``"log_abs"`` is the paper's eq. (3) (``epsilon`` keeps the log finite
            when a score hits alpha exactly); ``"bce"`` is the authors' code, binary
            cross-entropy of D(G(z)) against the soft target alpha. Both are
            minimised at D(G(z)) = alpha; their gradients differ.
    """
    fake_logits = ops.reshape(fake_logits, (-1,))
    if kind == "log_abs":
        return ops.mean(ops.log(ops.abs(alpha - ops.sigmoid(fake_logits)) + epsilon))
    if kind == "bce":
        return ops.mean(alpha * ops.softplus(-fake_logits) + (1.0 - alpha) * ops.softplus(fake_logits))
    raise ValueError(
        f"Invalid value received for argument `kind`. Expected one of {ENCIRCLEMENT_KINDS}. Received: kind={kind!r}"
    )


def dispersion_loss(generated):
    """Fence GAN dispersion loss, eq. (4): ``1 / mean_i ||G(z_i) - mu||_2``.

    ``mu`` is the batch centre of the generated samples; samples of any rank are
    flattened, so for images the L2 norm runs over all pixels. A batch of one
    sample gives 0 (eq. 4 is undefined there).
    """
    flat = ops.reshape(generated, (ops.shape(generated)[0], -1))
    centre = ops.mean(flat, axis=0, keepdims=True)
    distances = ops.sqrt(ops.sum(ops.square(flat - centre), axis=1) + 1e-12)
    # One sample has no spread to measure (the loss would be 1e6): count it as 0.
    return ops.where(ops.shape(flat)[0] > 1, 1.0 / ops.mean(distances), 0.0)


def fence_gan_generator_loss(fake_logits, generated, alpha: float, beta: float, kind: str = "log_abs"):
    """Fence GAN generator loss, eq. (5): ``EL + beta * DL``."""
    return encirclement_loss(fake_logits, alpha, kind) + beta * dispersion_loss(generated)


def weighted_discriminator_loss(real_logits, fake_logits, gamma: float):
    """Fence GAN discriminator loss, eq. (6): ``mean_i [-log D(x_i) - gamma log(1 - D(G(z_i)))]``."""
    real_logits = ops.reshape(real_logits, (-1,))
    fake_logits = ops.reshape(fake_logits, (-1,))
    return ops.mean(ops.softplus(-real_logits)) + gamma * ops.mean(ops.softplus(fake_logits))


# --- adversarial autoencoder (DOPING §III-A; Makhzani et al.'s AAE) -------------------

ADVERSARIAL_KINDS = ("bce", "wasserstein")


def reconstruction_loss(x, reconstruction):
    """AAE reconstruction phase: mean squared error between ``x`` and ``decoder(encoder(x))``."""
    return ops.mean(ops.square(ops.cast(x, "float32") - reconstruction))


def latent_discriminator_loss(prior_scores, code_scores, kind: str = "bce"):
    """AAE regularization phase, discriminator update: prior samples are "real", codes "fake".

    ``"bce"`` (DOPING): ``-log D(z_prior) - log(1 - D(E(x)))`` on logits.
    ``"wasserstein"`` (the WGAN critic DA3D's code uses): ``mean C(E(x)) - mean C(z_prior)``.
    """
    prior_scores = ops.reshape(prior_scores, (-1,))
    code_scores = ops.reshape(code_scores, (-1,))
    if kind == "bce":
        return ops.mean(ops.softplus(-prior_scores)) + ops.mean(ops.softplus(code_scores))
    if kind == "wasserstein":
        return ops.mean(code_scores) - ops.mean(prior_scores)
    raise ValueError(
        f"Invalid value received for argument `kind`. Expected one of {ADVERSARIAL_KINDS}. Received: kind={kind!r}"
    )


def latent_generator_loss(code_scores, kind: str = "bce"):
    """AAE regularization phase, encoder-as-generator update: make codes pass for prior samples.

    ``"bce"``: ``-log D(E(x))`` (non-saturating); ``"wasserstein"``: ``-mean C(E(x))``.
    """
    code_scores = ops.reshape(code_scores, (-1,))
    if kind == "bce":
        return ops.mean(ops.softplus(-code_scores))
    if kind == "wasserstein":
        return -ops.mean(code_scores)
    raise ValueError(
        f"Invalid value received for argument `kind`. Expected one of {ADVERSARIAL_KINDS}. Received: kind={kind!r}"
    )

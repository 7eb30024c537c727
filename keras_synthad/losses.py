"""Every loss of the four papers, as a pure `keras.ops` function.

Discriminators here output *logits*; probabilities are ``sigmoid(logit)`` and
``log D = -softplus(-logit)``, ``log(1 - D) = -softplus(logit)``, which is the
paper's formula computed without overflow.
"""

from __future__ import annotations

from keras import ops

from keras_synthad.validation import invalid_argument

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
    raise invalid_argument("kind", kind, f"one of {ADVERSARIAL_KINDS}")


def latent_generator_loss(code_scores, kind: str = "bce"):
    """AAE regularization phase, encoder-as-generator update: make codes pass for prior samples.

    ``"bce"``: ``-log D(E(x))`` (non-saturating); ``"wasserstein"``: ``-mean C(E(x))``.
    """
    code_scores = ops.reshape(code_scores, (-1,))
    if kind == "bce":
        return ops.mean(ops.softplus(-code_scores))
    if kind == "wasserstein":
        return -ops.mean(code_scores)
    raise invalid_argument("kind", kind, f"one of {ADVERSARIAL_KINDS}")


# --- DA3D (Schulze et al., 2022) ---------------------------------------------------------


def alarm_loss(normal_logits, labels, trivial_logits, generated_logits):
    """DA3D alarm loss, eq. (1): cross-entropy with training rows -> 0 (known anomalies,
    ``labels == 1``, -> 1), trivial anomalies -> 1 and generated anomalies -> 1.

    Eq. (1) as printed minimises ``log(1 - f(x)) + log f(n_x) + log f(h~)``, which would
    push the targets the other way; the text (normal -> 0, anomalies -> 1) and A3, which
    DA3D extends, use the cross-entropy implemented here.
    """
    normal_logits = ops.reshape(normal_logits, (-1,))
    labels = ops.reshape(ops.cast(labels, normal_logits.dtype), (-1,))
    # BCE(logit, t) = t softplus(-logit) + (1 - t) softplus(logit)
    normal = ops.mean(labels * ops.softplus(-normal_logits) + (1.0 - labels) * ops.softplus(normal_logits))
    trivial = ops.mean(ops.softplus(-ops.reshape(trivial_logits, (-1,))))
    generated = ops.mean(ops.softplus(-ops.reshape(generated_logits, (-1,))))
    return normal + trivial + generated


def da3d_critic_loss(wide_scores, generated_scores, normal_scores, lambda_generated: float, lambda_normal: float):
    """DA3D critic loss, eq. (2): ``C(n_h) - lambda_g C(G(n_gen)) - lambda_n C(E(x))``.

    Low critic values mark the wide Gaussian ``n_h``; generated and normal codes are
    pushed high, so the generator (eq. 3, minimising ``C``) explores away from the
    normal codes while staying inside the wide Gaussian.
    """
    return (
        ops.mean(wide_scores) - lambda_generated * ops.mean(generated_scores) - lambda_normal * ops.mean(normal_scores)
    )


def da3d_generator_loss(alarm_logits, critic_scores):
    """DA3D generator loss, eq. (3): ``f_alarm(a(f_dec(G(n)))) + C(G(n))`` (alarm as a probability)."""
    return ops.mean(ops.sigmoid(ops.reshape(alarm_logits, (-1,)))) + ops.mean(critic_scores)

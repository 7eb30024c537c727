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


def fake_term(logits):
    """``mean_i -log(1 - D(v_i))`` from D's logits: the loss of calling the rows `v` fake."""
    return ops.mean(ops.softplus(ops.reshape(logits, (-1,))))


def weighted_discriminator_loss(real_logits, fake_logits, gamma: float):
    """Fence GAN discriminator loss, eq. (6): ``mean_i [-log D(x_i) - gamma log(1 - D(G(z_i)))]``."""
    real_logits = ops.reshape(real_logits, (-1,))
    return ops.mean(ops.softplus(-real_logits)) + gamma * fake_term(fake_logits)


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


def alarm_loss(normal_logits, labels, trivial_logits, generated_logits, trivial_targets=None):
    """DA3D alarm loss, eq. (1): cross-entropy with training rows -> 0 (known anomalies,
    ``labels == 1``, -> 1), trivial anomalies -> 1 (or to their `trivial_targets` in [0, 1],
    the graded ones of `AnomalyDetector.graded_anomalies`) and generated anomalies -> 1.

    Eq. (1) as printed minimises ``log(1 - f(x)) + log f(n_x) + log f(h~)``, which would
    push the targets the other way; the text (normal -> 0, anomalies -> 1) and A3, which
    DA3D extends, use the cross-entropy implemented here.
    """
    normal_logits = ops.reshape(normal_logits, (-1,))
    labels = ops.reshape(ops.cast(labels, normal_logits.dtype), (-1,))
    normal = ops.mean(_bce_with_logits(normal_logits, labels))
    if trivial_targets is None:
        trivial = anomalous_term(trivial_logits)
    else:
        trivial_logits = ops.reshape(trivial_logits, (-1,))
        targets = ops.reshape(ops.cast(trivial_targets, trivial_logits.dtype), (-1,))
        trivial = ops.mean(_bce_with_logits(trivial_logits, targets))
    return normal + trivial + anomalous_term(generated_logits)


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


# --- DHAG (Algorithm 1, eqs. 1-2, §4.4) ---------------------------------------------------

DHAG_NORMS = ("per_sample", "frobenius")
DHAG_DIVERSITIES = ("absolute", "signed")


def k_smallest_labels(norms, k: int):
    """Eq. (1): pseudo-labels of one perturbator's batch, 0 for the `k` smallest ``||eps||``, 1 for the rest.

    `norms` has shape (m,) or (L, m) (ranked along the last axis). The ranks are a
    permutation of 0..m-1, so exactly `k` rows get 0 even when norms tie.
    """
    ranks = ops.argsort(ops.argsort(norms))
    return ops.cast(ranks >= k, "float32")


def _bce_with_logits(logits, targets):
    # CE(sigmoid(logit), y) = y * softplus(-logit) + (1 - y) * softplus(logit)
    return targets * ops.softplus(-logits) + (1.0 - targets) * ops.softplus(logits)


def _masked_mean(values, weights):
    """Mean of `values` (..., m) over rows with weight 1; `weights` (m,) or None (all rows)."""
    if weights is None:
        return ops.mean(values)
    rows = ops.mean(ops.reshape(values, (-1, ops.shape(weights)[0])), axis=0)
    return ops.sum(rows * weights) / ops.maximum(ops.sum(weights), 1.0)


def dhag_ce_loss(original_logits, perturbed_logits, pseudo_labels, weights=None):
    """L_ce: ``mean_i CE(f(z_i), 0) + 1/L sum_l mean_i CE(f(z_i + eps_l,i), y~_l,i)``.

    Args:
        original_logits: discriminator logits of the unperturbed codes, shape (m,) or (m, 1).
        perturbed_logits: shape (L, m), logits of the perturbed codes per perturbator.
        pseudo_labels: shape (L, m), eq. (1)'s labels.
        weights: ``None``, or shape (m,) with 0 for rows left out (known anomalies).
    """
    original = _masked_mean(_bce_with_logits(ops.reshape(original_logits, (-1,)), 0.0), weights)
    return original + _masked_mean(_bce_with_logits(perturbed_logits, pseudo_labels), weights)


def known_anomaly_loss(original_logits, known):
    """§4.4: ``1/N_s sum_j CE(f(f(x_j)), 1)`` over the known anomalies (rows with `known` = 1)."""
    terms = _bce_with_logits(ops.reshape(original_logits, (-1,)), 1.0)
    return ops.sum(terms * known) / ops.maximum(ops.sum(known), 1.0)


def anomalous_term(anomaly_logits):
    """``mean_i CE(P(anomaly | v_i), 1)``: the loss of calling the rows `v` anomalous (P from logits)."""
    return ops.mean(ops.softplus(-ops.reshape(anomaly_logits, (-1,))))


def dhag_norm_loss(perturbations, kind: str = "per_sample", weights=None):
    """L_norm. ``"per_sample"``: the paper's ``mean_{i,l} ||eps_l,i||_2``; ``"frobenius"``:
    the authors' code, one Frobenius norm of all stacked perturbations (shape (L, m, k))."""
    if kind == "per_sample":
        return _masked_mean(ops.sqrt(ops.sum(ops.square(perturbations), axis=-1) + 1e-12), weights)
    if kind == "frobenius":
        if weights is not None:
            perturbations = perturbations * ops.reshape(weights, (1, -1, 1))
        return ops.sqrt(ops.sum(ops.square(perturbations)) + 1e-12)
    raise invalid_argument("norm", kind, f"one of {DHAG_NORMS}")


def pairwise_cosine(perturbations):
    """Cosine similarity of every perturbator pair per row: shape (m, L, L) from (L, m, k)."""
    unit = perturbations / (ops.sqrt(ops.sum(ops.square(perturbations), axis=-1, keepdims=True)) + 1e-12)
    by_row = ops.transpose(unit, (1, 0, 2))  # (m, L, k)
    return ops.matmul(by_row, ops.transpose(by_row, (0, 2, 1)))


def dhag_diversity_loss(perturbations, kind: str = "absolute", weights=None):
    """L_div: ``mean_i 1/(L(L-1)) sum_{l != k} sim(eps_l,i, eps_k,i)``.

    ``"absolute"`` uses ``|cos|``, which is smallest for orthogonal perturbations (the
    directions §4.2 asks to be distinct); ``"signed"`` is the plain cosine of the formula
    and the authors' code, which is smallest for opposite directions.
    """
    if kind not in DHAG_DIVERSITIES:
        raise invalid_argument("diversity", kind, f"one of {DHAG_DIVERSITIES}")
    if perturbations.shape[0] < 2:
        return ops.convert_to_tensor(0.0)  # one perturbator: no pair to compare
    cosine = pairwise_cosine(perturbations)
    if kind == "absolute":
        cosine = ops.abs(cosine)
    n = ops.shape(perturbations)[0]
    off_diagonal = ops.sum(cosine, axis=(1, 2)) - ops.trace(cosine, axis1=1, axis2=2)  # per row
    return _masked_mean(off_diagonal, weights) / ops.cast(n * (n - 1), "float32")

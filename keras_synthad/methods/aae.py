"""Adversarial autoencoder (Makhzani et al., 2016), as DOPING (§III-A) and DA3D use it.

An autoencoder whose codes are pushed towards a chosen prior p(z) by a latent
discriminator. Each training step has the AAE's two phases on one mini-batch:

1. reconstruction: encoder + decoder minimise the reconstruction error;
2. regularization: the discriminator learns to tell prior samples from codes,
   then the encoder, acting as generator, learns to fool it.

After training, codes of the training data follow the prior, so the latent
space has a known shape (a Gaussian with a well-defined edge) whatever the
data's distribution. The anomaly score is the reconstruction error.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import ops

from keras_synthad import losses, networks
from keras_synthad.detector import AnomalyDetector
from keras_synthad.hyperparameters import ActivationName, Interval, Options, OrNone, Units
from keras_synthad.validation import check_features, invalid_argument

PRIORS = ("gaussian", "generalized_gaussian")
CLIP_KINDS = ("weights", "gradient_norm")


def _apply_in_batches(network, array: np.ndarray, batch_size: int | None) -> np.ndarray:
    # Eager calls: encode/decode are one-off passes over arrays of any length, and
    # a traced predict function per new length would retrace on TensorFlow.
    step = batch_size or 4096
    parts = [ops.convert_to_numpy(network(array[i : i + step], training=False)) for i in range(0, len(array), step)]
    return np.concatenate(parts).astype(np.float32)


@keras.saving.register_keras_serializable(package="keras_synthad")
class AdversarialAutoencoder(AnomalyDetector):
    """Adversarial autoencoder with a configurable prior and adversarial objective.

    Roles (three updates per step, each with its own optimizer state):
    ``"reconstruction"`` (encoder + decoder), ``"discriminator"`` (latent
    discriminator or critic) and ``"generator"`` (the encoder again).

    Args:
        input_shape: ``(d,)`` or ``(H, W, C)`` (images are flattened by the dense
            encoder, or read by the convolutional one, see ``conv_filters``).
        latent_dim: code size (DOPING: 2; its MNIST variant: 8).
        prior: ``"gaussian"``, N(0, prior_scale²) per dimension, or
            ``"generalized_gaussian"`` (DOPING §V-C, eq. 2), density proportional to
            ``exp(-(|z| / prior_scale) ** prior_shape)`` per dimension; shape 2 is a
            Gaussian with standard deviation ``prior_scale / sqrt(2)``.
        prior_scale: the prior's standard deviation (Gaussian) or scale alpha
            (generalized Gaussian). DOPING: 10.
        prior_shape: beta of the generalized Gaussian (DOPING §V-C sweeps 0.5-3).
        hidden_units: hidden sizes of the encoder, decoder and discriminator
            (DOPING: two layers of 1000 ReLU units). With ``conv_filters``, the
            discriminator's only.
        conv_filters: ``None`` for dense networks, or, for images, the filters of a
            convolutional encoder and its mirrored decoder (DA3D Table 1:
            ``(32, 16, 8)`` with a 16-channel code, see `networks.aae_conv_encoder`).
        decoder_activation: ``None`` for the paper's linear output, or e.g.
            ``"sigmoid"`` for data in [0, 1].
        adversarial: ``"bce"`` (DOPING: a discriminator with cross-entropy) or
            ``"wasserstein"`` (a WGAN critic, as DA3D's code uses).
        clip: critic constraint in ``"wasserstein"`` mode: ``"weights"`` clips every
            critic weight to ``[-clip_value, clip_value]`` after each update (WGAN);
            ``"gradient_norm"`` gives the critic's default optimizer
            ``global_clipnorm=clip_value`` (DA3D's code).
        clip_value: the clipping bound (0.01).
        learning_rate: Adam learning rate of the ``"auto"`` optimizers (DOPING: 1e-4).
        anomaly_prior_radius: ``None`` for the unlabeled AAE. A radius R makes it
            DOPING §IV's *labeled* AAE: ``fit(x, y)`` takes y = 1 for anomalies, the
            discriminator sees the one-hot label next to the code, and anomalies'
            prior is the sphere ``||z|| = R`` (§IV: 100) while normals keep ``prior``.
        seed: seed of the prior sampler.

    Example:

    ```python
    aae = keras_synthad.AdversarialAutoencoder(input_shape=(6,), latent_dim=2, prior_scale=10.0)
    aae.fit(x_normal, epochs=100, batch_size=128)   # compiles with Adam 1e-4
    codes = aae.encode(x_normal)                    # ~ N(0, 10^2 I)
    rows = aae.decode(codes)
    ```
    """

    loss_names = ("reconstruction_loss", "discriminator_loss", "generator_loss")
    parameter_constraints = {
        "latent_dim": Interval(int, 1),
        "prior": Options(*PRIORS),
        "prior_scale": Interval(float, 0, closed="neither"),
        "prior_shape": Interval(float, 0, closed="neither"),
        "hidden_units": Units(),
        "conv_filters": OrNone(Units()),
        "decoder_activation": OrNone(ActivationName()),
        "adversarial": Options(*losses.ADVERSARIAL_KINDS),
        "clip": Options(*CLIP_KINDS),
        "clip_value": Interval(float, 0, closed="neither"),
        "learning_rate": Interval(float, 0, closed="neither"),
        "anomaly_prior_radius": OrNone(Interval(float, 0, closed="neither")),
    }

    def __init__(
        self,
        input_shape,
        latent_dim=2,
        prior="gaussian",
        prior_scale=10.0,
        prior_shape=2.0,
        hidden_units=(1000, 1000),
        conv_filters=None,
        decoder_activation=None,
        adversarial="bce",
        clip="weights",
        clip_value=0.01,
        learning_rate=1e-4,
        anomaly_prior_radius=None,
        seed=None,
        **kwargs,
    ):
        super().__init__(input_shape, seed=seed, **kwargs)
        if conv_filters is not None and self.data_kind != "image":
            raise invalid_argument(
                "conv_filters", conv_filters, f"None for input shape {self.feature_shape} (convolutions need (H, W, C))"
            )
        self.configure(locals())
        self.supports_known_anomalies = self.labeled
        with keras.name_scope("reconstruction"):
            if self.conv_filters is None:
                self.encoder = networks.aae_encoder(self.feature_shape, self.hidden_units, self.latent_dim)
                self.decoder = networks.aae_decoder(
                    self.latent_dim, self.hidden_units, self.feature_shape, self.decoder_activation
                )
            else:
                self.encoder = networks.aae_conv_encoder(self.feature_shape, self.conv_filters, self.latent_dim)
                self.decoder = networks.aae_conv_decoder(
                    self.latent_dim, self.conv_filters, self.feature_shape, self.decoder_activation
                )
        with keras.name_scope("discriminator"):
            # The labeled AAE's discriminator also sees the one-hot label (normal, anomaly).
            discriminator_inputs = self.latent_dim + (2 if self.labeled else 0)
            self.discriminator = networks.mlp(discriminator_inputs, self.hidden_units, 1, name="discriminator")
        self.built = True

    @property
    def labeled(self) -> bool:
        return self.anomaly_prior_radius is not None

    # --- contract ------------------------------------------------------------------

    def roles(self):
        return {
            "reconstruction": [self.encoder, self.decoder],
            "discriminator": [self.discriminator],
            "generator": [self.encoder],
        }

    def default_optimizers(self):
        critic_clipnorm = (
            self.clip_value if self.adversarial == "wasserstein" and self.clip == "gradient_norm" else None
        )
        return {
            "reconstruction": keras.optimizers.Adam(self.learning_rate),
            "discriminator": keras.optimizers.Adam(self.learning_rate, global_clipnorm=critic_clipnorm),
            "generator": keras.optimizers.Adam(self.learning_rate),
        }

    def call(self, x, training=False):
        x = ops.cast(x, "float32")
        reconstruction = self.decoder(self.encoder(x, training=training), training=training)
        squared = ops.reshape(ops.square(x - reconstruction), (ops.shape(x)[0], -1))
        return ops.mean(squared, axis=1)  # reconstruction error per sample

    # --- public encode / decode / prior ----------------------------------------------------

    def encode(self, x, batch_size: int | None = None) -> np.ndarray:
        """Codes of `x`, shape (n, latent_dim), as a numpy array."""
        return _apply_in_batches(self.encoder, check_features(x, self.feature_shape), batch_size)

    def decode(self, z, batch_size: int | None = None) -> np.ndarray:
        """Rows decoded from codes `z` of shape (n, latent_dim), as a numpy array."""
        return _apply_in_batches(self.decoder, check_features(z, (self.latent_dim,), name="z"), batch_size)

    def sample_prior(self, n, labels=None):
        """``n`` draws from the prior, shape (n, latent_dim) (a tensor).

        For the labeled AAE, rows whose ``labels`` is 1 are drawn from the anomaly sphere.
        """
        shape = (n, self.latent_dim)
        if self.prior == "gaussian":
            z = keras.random.normal(shape, stddev=self.prior_scale, seed=self.seed_generator)
        else:
            # Generalized Gaussian: |z| = scale * G ** (1 / shape) with G ~ Gamma(1 / shape), random sign.
            magnitude = keras.random.gamma(shape, alpha=1.0 / self.prior_shape, seed=self.seed_generator)
            sign = ops.sign(keras.random.uniform(shape, minval=-1.0, maxval=1.0, seed=self.seed_generator))
            z = self.prior_scale * sign * ops.power(magnitude, 1.0 / self.prior_shape)
        if labels is None or not self.labeled:
            return z
        direction = keras.random.normal(shape, seed=self.seed_generator)
        ring = self.anomaly_prior_radius * direction / ops.norm(direction, axis=1, keepdims=True)
        return ops.where(ops.reshape(labels, (-1, 1)) > 0.5, ring, z)

    def _with_label(self, codes, labels):
        if not self.labeled:
            return codes
        labels = ops.reshape(ops.cast(labels, codes.dtype), (-1, 1))
        return ops.concatenate([codes, 1.0 - labels, labels], axis=1)

    # --- the AAE's training step ------------------------------------------------------------

    def reconstruction_loss(self, x):
        reconstruction = self.decoder(self.encoder(x, training=True), training=True)
        return losses.reconstruction_loss(x, reconstruction)

    def discriminator_loss(self, x, prior_samples, labels=None):
        """The codes are held fixed: no gradient flows into the encoder."""
        codes = ops.stop_gradient(self.encoder(x, training=False))
        prior_scores = self.discriminator(self._with_label(prior_samples, labels), training=True)
        code_scores = self.discriminator(self._with_label(codes, labels), training=True)
        return losses.latent_discriminator_loss(prior_scores, code_scores, self.adversarial)

    def generator_loss(self, x, labels=None):
        code_scores = self.discriminator(self._with_label(self.encoder(x, training=True), labels), training=True)
        return losses.latent_generator_loss(code_scores, self.adversarial)

    def clip_critic_weights(self):
        """WGAN weight clipping: every critic weight into ``[-clip_value, clip_value]``."""
        networks.clip_weights(self.discriminator, self.clip_value)

    def algorithm_step(self, x, y=None):
        x = ops.cast(x, "float32")
        if self.labeled:
            # No labels: every row is normal.
            y = ops.zeros((ops.shape(x)[0],)) if y is None else ops.reshape(ops.cast(y, "float32"), (-1,))
        logs = {}
        # Reconstruction phase: update encoder and decoder on the reconstruction error.
        logs["reconstruction_loss"] = self.update_role("reconstruction", lambda: self.reconstruction_loss(x))
        # Regularization phase (a): the discriminator tells prior samples from codes.
        prior_samples = self.sample_prior(ops.shape(x)[0], y)
        logs["discriminator_loss"] = self.update_role(
            "discriminator", lambda: self.discriminator_loss(x, prior_samples, y)
        )
        if self.adversarial == "wasserstein" and self.clip == "weights":
            self.clip_critic_weights()
        # Regularization phase (b): the encoder, as generator, makes its codes pass for prior samples.
        logs["generator_loss"] = self.update_role("generator", lambda: self.generator_loss(x, y))
        return logs

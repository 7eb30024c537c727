"""DA3D (Schulze et al., 2022): an alarm network on a frozen AAE, trained against generated latent anomalies.

The anomaly detector is ``f_AD = f_alarm ∘ a(f_dec) ∘ f_enc``: an adversarial
autoencoder (AAE) trained on normal data and then frozen, and an alarm network
reading the AAE's hidden activations. The alarm learns (eq. 1) that training rows
are normal and that trivial anomalies ``n_x ~ N(0.5, 1)`` in the input space and
generated anomalies ``h~`` in the code space are anomalous. The anomaly generator
``f_gen`` (noise -> code) fools the alarm and a critic (eq. 3); the critic (a WGAN
critic, eq. 2) keeps generated codes away from the normal codes and inside the
wider Gaussian ``n_h ~ N(0, sigma^2)``. The score is the alarm's P(anomaly).
"""

from __future__ import annotations

import math

import keras
from keras import ops

from keras_synthad import losses, networks
from keras_synthad.detector import AnomalyDetector
from keras_synthad.hyperparameters import WEIGHT_AVERAGING, Interval, Options, Units
from keras_synthad.methods.aae import AdversarialAutoencoder
from keras_synthad.validation import invalid_argument

ACTIVATIONS = ("decoder", "encoder", "all", "input")
GENERATORS = ("gan", "simple")
CLIP_KINDS = ("weights", "gradient_norm")
MEMBER_AUTOENCODERS = ("shared", "own")
MEMBER_BATCHES = ("shared", "split")
ALARM_UNITS = (1000, 500, 200, 75)
GENERATOR_UNITS = (50, 40, 30, 20)
CRITIC_UNITS = (40, 20, 10, 5)
LEAKY_SLOPE = 0.3  # Keras' LeakyReLU default; the paper names no slope


PAPER = dict(
    aae_epochs=100,
    activations="decoder",
    alarm_units=ALARM_UNITS,
    generator="gan",
    noise_dim=8,
    sigma=2.0,
    lambda_normal=2.0,
    lambda_generated=2.0,
    clip="weights",
    clip_value=0.01,
    dropout=0.1,
    learning_rate=1e-4,
    aae_learning_rate=1e-4,
    weight_averaging=0.0,
    trivial_swapped=0.0,
    trivial_uniform=0.0,
    trivial_graded=0.0,
    swap_rate=0.25,
    members=1,
    member_autoencoders="shared",
    member_batches="shared",
)
# The label-free default recipe (see the class docstring).
DEFAULT_RECIPE = dict(clip="gradient_norm", weight_averaging=0.99)
# Measured on tables only: the alarm reads the rows themselves and is a quarter of the paper's size;
# half of the trivial anomalies are uniform in the box, and half are graded on the way to the rows.
DEFAULT_TABULAR = dict(
    DEFAULT_RECIPE, activations="input", alarm_units=(256, 128, 64, 32), trivial_uniform=0.5, trivial_graded=0.5
)

# The widest first encoder layer of Table 1 (Census); the default tabular funnel never starts wider.
MAX_TABULAR_WIDTH = 600
IMAGE_FILTERS = (32, 16, 8)  # Table 1, images: 32C3-16C3-8C3, code 16C3
IMAGE_CODE = 16
IMAGE_DISCRIMINATOR = CRITIC_UNITS  # §4.1: the AAE's discriminator is 40-20-10-5 for all data sets


def default_autoencoder(input_shape, seed=None, learning_rate=1e-4) -> AdversarialAutoencoder:
    """An AAE shaped like the paper's Table 1, unit-variance Gaussian prior (§3.1), whose
    ``"auto"`` optimizers are Adam at `learning_rate`.

    Images ``(H, W, C)``: Table 1's convolutional AAE (filters 32-16-8, a 16-d code,
    sigmoid output for pixels in [0, 1]) with §4.1's 40-20-10-5 discriminator. Tabular
    ``(d,)``: a dense funnel from about twice the input width (at most
    `MAX_TABULAR_WIDTH`, Table 1's widest layer) down to a small code. Uncapped, a
    1,555-column table (ADBench InternetAds) got a 3,110-unit first layer and 32 million
    weights, and one fit of about 1,000 steps took 40 minutes on a CPU core.
    """
    if len(input_shape) == 3:
        return AdversarialAutoencoder(
            input_shape,
            latent_dim=IMAGE_CODE,
            prior_scale=1.0,
            hidden_units=IMAGE_DISCRIMINATOR,
            conv_filters=IMAGE_FILTERS,
            decoder_activation="sigmoid",
            learning_rate=learning_rate,
            seed=seed,
        )
    width = int(input_shape[0])
    code = max(2, math.ceil(width / 12))
    hidden = []
    size = min(max(2 * width, 8), MAX_TABULAR_WIDTH)
    while size > 2 * code and len(hidden) < 5:
        hidden.append(size)
        size = max(size * 2 // 3, 2 * code)
    return AdversarialAutoencoder(
        input_shape,
        latent_dim=code,
        prior_scale=1.0,
        hidden_units=hidden or (8,),
        learning_rate=learning_rate,
        seed=seed,
    )


def set_trainable(layer: keras.Layer, value: bool) -> None:
    """Set ``trainable`` on `layer` and every nested layer.

    Keras skips the propagation to sublayers when a model was built with
    ``trainable=False`` (as a deserialized frozen AAE is) and is set to False again.
    """
    layer.trainable = value
    for sublayer in getattr(layer, "layers", []):
        set_trainable(sublayer, value)


@keras.saving.register_keras_serializable(package="keras_synthad")
class DA3D(AnomalyDetector):
    """DA3D anomaly detector.

    Presets (``preset=``; any argument passed explicitly overrides its preset value):

    - ``"paper"``: §4.1 (generator + critic with weight clipping at 0.01).
    - ``"authors_code"``: the code clips the critic's gradient norm instead.
    - ``"default"``: the code's gradient-norm clipping (the weight-clipped critic
      stayed inert) and Polyak-averaged alarm weights for scoring. Images: the alarm
      reads the decoder's activations (the paper). Tables: the alarm reads the rows
      themselves (``activations="input"``; generated codes are decoded into rows, so
      the AAE shapes the generated anomalies and scoring is the alarm alone), an alarm
      of 256-128-64-32 units instead of 1000-500-200-75, half of eq. (1)'s trivial
      anomalies uniform in [0, 1]^d (``trivial_uniform=0.5``: against rows that cover
      the box the alarm learns where in it the rows are dense), and half of them graded
      on the way from their row (``trivial_graded=0.5``: target ``t`` at ``x + t (n_x -
      x)``, so the score rises with the distance from the rows). Peer benchmark, seeds
      0-2, mean AUROC on the 9 tuning tables / the 18 untouched ones / all 27: .903 /
      .771 / .815 (IForest .905 / .765 / .812; ``benchmarks/results/peers``). The
      steps before it, on the tuning tables: the paper's preset .772 (seed 0), the
      clipping and averaging .803, the encoder's activations too (``"all"``) .820, the
      smaller alarm .830 (seeds 0-2: .847), the uniform rows .861 (all 27: .788), the
      rows as the alarm's input .879 (all 27: .802), the graded rows .903. The 27 tables'
      InternetAds (1,555 flag columns) went from chance (.487) to .780 with the rows as
      input (.747 graded); mammography fell from .836 to .682 and came back to .786
      with the graded rows, donors .847 → .918, waveform .673 → .788; thyroid lost
      .974 → .938 and cover .964 → .922. Tried and not kept
      (``benchmarks/results/tuning/README.md``): every
      network at 5e-4 instead of 1e-4 (better on the tuning tables, worse on the
      untouched ones: ``da3d_rates_peers.json``; ``learning_rate`` and
      ``aae_learning_rate`` stay), three members with an AAE each
      (``da3d_own_members_peers.json``; ``members``, ``member_autoencoders`` and
      ``member_batches`` stay as options), coins in binary columns
      (``da3d_coin_peers.json``), swapped, jittered and out-of-box trivial rows; on
      the rows, the paper's simple variant (tuning tables .885, untouched .758, all 27
      .800: ``da3d_simple_peers.json``), three members, the alarm at 5e-4, three
      quarters of the trivial rows uniform, the AAE's activations beside the rows, four
      trivial rows a row, and rows moved off the training rows by about a neighbour's
      distance (optdigits and pageblocks up, glass inverted); with the graded rows, as
      many graded points again as a fourth term of eq. (1) beside every trivial row
      (level with the share: .904 against .903).

    Args:
        input_shape: ``(d,)`` or ``(H, W, C)``; the default autoencoder is chosen from it.
        autoencoder: the `AdversarialAutoencoder` to pretrain on normal data and then
            freeze. ``None``: `default_autoencoder` (pass Table 1's sizes for a
            paper reproduction).
        aae_epochs: epochs of AAE pretraining run by the first ``fit`` (a separate
            ``fit`` of the autoencoder; a saved flag stops a reloaded model from
            pretraining again). 0 when you pretrain it yourself.
        activations: which AAE activations the alarm reads: ``"decoder"`` (the
            paper), ``"encoder"`` or ``"all"``. Generated codes reach the
            encoder's activations through the decoder (decode, then encode).
            ``"input"``: the rows themselves (generated codes decoded into rows);
            the AAE then shapes the generated anomalies only, and scoring is the
            alarm alone.
        alarm_units: hidden sizes of the alarm network (paper: 1000-500-200-75;
            100-50-25-10 for Mammography).
        generator: ``"gan"`` (generator + critic, Algorithm 1) or ``"simple"``
            (``n_h`` decoded directly, no generator or critic).
        noise_dim: generator input size (8).
        sigma: standard deviation of ``n_h`` (2).
        lambda_normal, lambda_generated: eq. (2)'s weights (2, 2).
        clip: ``"weights"``, WGAN weight clipping of the critic to
            ``[-clip_value, clip_value]`` after each update (the paper), or
            ``"gradient_norm"``, the authors' code: the critic's default optimizer
            gets ``global_clipnorm=clip_value``.
        clip_value: 0.01.
        dropout: dropout between the layers of alarm, generator and critic (0.1).
        learning_rate: Adam learning rate of the alarm, generator and critic (1e-4).
        aae_learning_rate: Adam learning rate of the default autoencoder's ``"auto"``
            optimizers (1e-4). Unused when you pass ``autoencoder``: its own
            ``learning_rate`` applies.
        weight_averaging: momentum of the moving average of the alarm's weights used
            for scoring (0: off).
        trivial_swapped: share of eq. (1)'s trivial anomalies that are the batch's rows
            with swapped features (`swap_features`: near the data) instead of ``n_x ~
            N(0.5, 1)`` (0: the paper and the default; .5 and .25 ranked worse on the
            tuning tables, .821 and .826 against .847, glass inverted at .33 and .27).
        trivial_uniform: share of eq. (1)'s trivial anomalies drawn uniformly from [0, 1]^d,
            the box the rows are scaled to, instead of ``n_x ~ N(0.5, 1)`` (0: the paper
            and images; .5: the tabular default). Against such rows the alarm learns where
            in the box the normal rows are dense, which far rows cannot teach it.
        trivial_graded: share of eq. (1)'s trivial anomalies moved onto the segment from
            their row ``x`` to them, ``x + t (n_x - x)`` with ``t ~ U(0, 1)``, whose target
            in eq. (1) is ``t`` instead of 1 (`AnomalyDetector.graded_anomalies`; 0: the paper
            and images; .5: the tabular default). Points near the rows are a little
            anomalous, points further out more so: the alarm learns a score that rises with
            the distance from the rows, where hard-labelled rows near the data (swapped,
            jittered or moved rows) inverted small tables.
        swap_rate: probability that `swap_features` replaces a value (.25).
        members: how many (alarm, generator, critic) triples train side by side on the
            frozen AAE from different initial weights; the score is their mean
            P(anomaly) (1: the paper). ``alarm``, ``generator`` and ``critic`` are the
            first member's.
        member_autoencoders: ``"shared"`` (every member reads `autoencoder`) or
            ``"own"``: members 1.. each get an AAE of the same architecture from their
            own initial weights, pretrained like the first and read only by their
            member (`autoencoders`; ``autoencoder`` is the first member's).
        member_batches: ``"shared"`` (every member trains on the whole batch) or
            ``"split"``: member m trains on rows m, m + M, ... of each batch
            (`member_share`), so M members cost about one member's arithmetic.
        seed: seed of the noise draws.
        preset: ``"default"``, ``"paper"`` or ``"authors_code"`` (see above).

    ``fit(x, y)`` accepts y = 1 for known anomalies (the labelled setting of A3):
    they join the anomalous side of eq. (1) and are left out of AAE pretraining.
    """

    supports_known_anomalies = True
    preset_names = ("default", "paper", "authors_code")
    loss_names = ("alarm_loss", "generator_loss", "critic_loss")
    parameter_constraints = {
        "aae_epochs": Interval(int, 0),
        "activations": Options(*ACTIVATIONS),
        "alarm_units": Units(),
        "generator": Options(*GENERATORS),
        "noise_dim": Interval(int, 1),
        "sigma": Interval(float, 0, closed="neither"),
        "lambda_normal": Interval(float, 0),
        "lambda_generated": Interval(float, 0),
        "clip": Options(*CLIP_KINDS),
        "clip_value": Interval(float, 0, closed="neither"),
        "dropout": Interval(float, 0, 1, closed="left"),
        "learning_rate": Interval(float, 0, closed="neither"),
        "aae_learning_rate": Interval(float, 0, closed="neither"),
        "weight_averaging": WEIGHT_AVERAGING,
        "trivial_swapped": Interval(float, 0, 1),
        "trivial_uniform": Interval(float, 0, 1),
        "trivial_graded": Interval(float, 0, 1),
        "swap_rate": Interval(float, 0, 1),
        "members": Interval(int, 1),
        "member_autoencoders": Options(*MEMBER_AUTOENCODERS),
        "member_batches": Options(*MEMBER_BATCHES),
    }
    stored_as = {"generator": "generator_kind"}  # `generator` is the network

    def __init__(
        self,
        input_shape,
        autoencoder=None,
        aae_epochs=None,
        activations=None,
        alarm_units=None,
        generator=None,
        noise_dim=None,
        sigma=None,
        lambda_normal=None,
        lambda_generated=None,
        clip=None,
        clip_value=None,
        dropout=None,
        learning_rate=None,
        aae_learning_rate=None,
        weight_averaging=None,
        trivial_swapped=None,
        trivial_uniform=None,
        trivial_graded=None,
        swap_rate=None,
        members=None,
        member_autoencoders=None,
        member_batches=None,
        seed=None,
        preset="default",
        **kwargs,
    ):
        super().__init__(input_shape, seed=seed, preset=preset, **kwargs)
        self.configure(locals())
        if isinstance(autoencoder, dict):
            autoencoder = keras.saving.deserialize_keras_object(autoencoder)
        if autoencoder is None:
            autoencoder = default_autoencoder(input_shape, seed, self.aae_learning_rate)
        self.autoencoder = autoencoder
        if not isinstance(self.autoencoder, AdversarialAutoencoder):
            raise invalid_argument("autoencoder", self.autoencoder, "an AdversarialAutoencoder")
        if tuple(self.autoencoder.feature_shape) != self.feature_shape:
            raise invalid_argument(
                "autoencoder", self.autoencoder.feature_shape, f"an autoencoder for input shape {self.feature_shape}"
            )
        if self.trivial_swapped + self.trivial_uniform > 1:
            raise invalid_argument(
                "trivial_uniform",
                self.trivial_uniform,
                f"at most 1 - trivial_swapped = {1 - self.trivial_swapped:g} (the two are shares of one term)",
            )
        # With member_autoencoders="own", members 1.. each get an AAE of the same
        # architecture from their own initial weights (the first member's is `autoencoder`;
        # a seeded AAE seeds its initial weights, so each one's seed is offset by its member).
        own = self.member_autoencoders == "own"
        config = self.autoencoder.get_config()
        offset = lambda m: None if config.get("seed") is None else int(config["seed"]) + m  # noqa: E731
        self.extra_autoencoders = [
            AdversarialAutoencoder.from_config(dict(config, seed=offset(m)))
            for m in range(1, self.members if own else 1)
        ]
        # The AAEs are trained by their own fits (pretraining) and frozen for DA3D's.
        for autoencoder in self.autoencoders:
            set_trainable(autoencoder, False)
        self.latent_dim = self.autoencoder.latent_dim
        self._build_activation_models()
        # Each member (alarm, generator, critic) trains on the same frozen AAE from its own initial
        # weights; the score is the members' mean P(anomaly). Each network is built under its
        # role's scope, which routes it to the role's optimizer.
        self.alarms, self.generators, self.critics = [], [], []
        for member in range(self.members):
            scope = f"member_{member}" if member else ""
            with keras.name_scope("alarm"), keras.name_scope(scope):
                self.alarms.append(self._leaky_mlp(self.activation_width, self.alarm_units, 1, "alarm"))
            if self.generator_kind == "gan":
                with keras.name_scope("generator"), keras.name_scope(scope):
                    self.generators.append(
                        self._leaky_mlp(self.noise_dim, GENERATOR_UNITS, self.latent_dim, "generator")
                    )
                with keras.name_scope("critic"), keras.name_scope(scope):
                    self.critics.append(self._leaky_mlp(self.latent_dim, CRITIC_UNITS, 1, "critic"))
        self.pretrained = self.add_weight(shape=(), initializer="zeros", trainable=False, name="pretrained")
        self.build_weight_averages(self.weight_averaging)
        self.built = True

    def preset_values(self, preset):
        values = dict(PAPER)
        if preset == "authors_code":  # the authors' code clips the critic's gradient norm, not its weights
            values["clip"] = "gradient_norm"
        if preset == "default":
            values.update(DEFAULT_TABULAR if self.data_kind == "tabular" else DEFAULT_RECIPE)
        return values

    @property
    def alarm(self) -> keras.Model:
        """The first member's alarm (the only one with ``members=1``)."""
        return self.alarms[0]

    @property
    def generator(self) -> keras.Model:
        """The first member's generator (``generator="gan"`` only)."""
        return self._first("generators")

    @property
    def critic(self) -> keras.Model:
        """The first member's critic (``generator="gan"`` only)."""
        return self._first("critics")

    def _first(self, networks: str) -> keras.Model:
        if not getattr(self, networks):
            raise AttributeError(f"DA3D(generator={self.generator_kind!r}) has no {networks[:-1]}")
        return getattr(self, networks)[0]

    @property
    def autoencoders(self) -> list:
        """Every frozen AAE: one, or one per member with ``member_autoencoders="own"``."""
        return [self.autoencoder, *self.extra_autoencoders]

    def autoencoder_of(self, member: int) -> int:
        """The index in `autoencoders` of the AAE that `member`'s alarm reads."""
        return member if self.extra_autoencoders else 0

    def averaged_networks(self):
        return list(self.alarms)

    def _leaky_mlp(self, inputs: int, units, outputs: int, name: str) -> keras.Model:
        # §4.1: Leaky ReLU hidden layers, 10 % dropout between layers.
        return networks.mlp(
            inputs, units, outputs, activation="leaky_relu", negative_slope=LEAKY_SLOPE, dropout=self.dropout, name=name
        )

    def _build_activation_models(self):
        # a(.): the hidden activations of each frozen AAE's encoder and/or decoder.
        # Convolutional maps are flattened (`_concat`). The first AAE's models keep
        # their attribute names (the weight paths of files saved with one AAE).
        self.encoder_activations, self.decoder_activations = self._activation_models(self.autoencoder)
        self.extra_encoder_activations, self.extra_decoder_activations = [], []
        for autoencoder in self.extra_autoencoders:
            encoder_activations, decoder_activations = self._activation_models(autoencoder)
            self.extra_encoder_activations.append(encoder_activations)
            self.extra_decoder_activations.append(decoder_activations)
        widths = {
            "decoder": sum(math.prod(t.shape[1:]) for t in self.decoder_activations.outputs),
            "encoder": sum(math.prod(t.shape[1:]) for t in self.encoder_activations.outputs),
        }
        widths["all"] = widths["decoder"] + widths["encoder"]
        widths["input"] = math.prod(self.feature_shape)
        self.activation_width = widths[self.activations]

    @staticmethod
    def _activation_models(autoencoder):
        encoder, decoder = autoencoder.encoder, autoencoder.decoder
        return (
            networks.Functional(encoder.inputs, networks.hidden_outputs(encoder)),
            networks.Functional(decoder.inputs, networks.hidden_outputs(decoder)),
        )

    def _views(self, index: int):
        """(AAE, its encoder's activations, its decoder's activations) of `autoencoders[index]`."""
        if index == 0:
            return self.autoencoder, self.encoder_activations, self.decoder_activations
        i = index - 1
        return self.extra_autoencoders[i], self.extra_encoder_activations[i], self.extra_decoder_activations[i]

    # --- contract -------------------------------------------------------------------

    def roles(self):
        if self.generator_kind == "simple":
            return {"alarm": self.alarms}
        return {"alarm": self.alarms, "generator": self.generators, "critic": self.critics}

    def default_optimizers(self):
        optimizers = {"alarm": keras.optimizers.Adam(self.learning_rate)}
        if self.generator_kind == "gan":
            clipnorm = self.clip_value if self.clip == "gradient_norm" else None
            optimizers["generator"] = keras.optimizers.Adam(self.learning_rate)
            optimizers["critic"] = keras.optimizers.Adam(self.learning_rate, global_clipnorm=clipnorm)
        return optimizers

    def _concat(self, tensors):
        tensors = tensors if isinstance(tensors, (list, tuple)) else [tensors]
        flat = [ops.reshape(t, (ops.shape(t)[0], -1)) if len(t.shape) > 2 else t for t in tensors]
        return ops.concatenate(flat, axis=1) if len(flat) > 1 else flat[0]

    def activations_of_input(self, x, index=0):
        """a(f_dec) ∘ f_enc (or the encoder's, or both; or `x` itself) of `autoencoders[index]` for input rows `x`."""
        if self.activations == "input":
            return self._concat(x)
        autoencoder, encoder_activations, decoder_activations = self._views(index)
        parts = []
        if self.activations in ("encoder", "all"):
            parts.append(self._concat(encoder_activations(x, training=False)))
        if self.activations in ("decoder", "all"):
            code = autoencoder.encoder(x, training=False)
            parts.append(self._concat(decoder_activations(code, training=False)))
        return self._concat(parts)

    def activations_of_code(self, h, index=0):
        """a(f_dec(h)) for codes `h` (other modes: decode, then read the input's activations)."""
        autoencoder, _, decoder_activations = self._views(index)
        if self.activations == "decoder":
            return self._concat(decoder_activations(h, training=False))
        return self.activations_of_input(autoencoder.decoder(h, training=False), index)

    def call(self, x, training=False):
        x = ops.cast(x, "float32")
        activations = [self.activations_of_input(x, i) for i in range(len(self.autoencoders))]
        probabilities = [
            ops.sigmoid(alarm(activations[self.autoencoder_of(m)], training=training))
            for m, alarm in enumerate(self.alarms)
        ]
        return ops.reshape(self.member_mean(probabilities), (-1,))

    # --- Algorithm 1 -------------------------------------------------------------------------

    def sample_generator_noise(self, n):
        return keras.random.normal((n, self.noise_dim), seed=self.seed_generator)

    def sample_wide_codes(self, n):
        """n_h ~ N(0, sigma^2): the critic's "stay in boundaries" samples, the simple generator's codes."""
        return keras.random.normal((n, self.latent_dim), stddev=self.sigma, seed=self.seed_generator)

    def trivial_rows(self, rows, labels):
        """Eq. (1)'s trivial anomalies for the batch `rows` and their targets (None: every one 1).

        ``n_x ~ N(0.5, 1)``, or a row with swapped features or uniform in [0, 1]^d
        (`trivial_swapped`, `trivial_uniform`); a `trivial_graded` share of them moved onto
        the segment from their row, with a target graded by the distance moved (1 on the way
        from a known anomaly, ``labels == 1``).
        """
        reference = self.trivial_anomalies(rows, self.trivial_swapped, self.swap_rate, self.trivial_uniform)
        if not self.trivial_graded:
            return reference, None
        points, targets = self.graded_anomalies(rows, reference, self.trivial_graded)
        return points, ops.maximum(targets, labels)

    def alarm_loss(
        self, normal_activations, labels, trivial_activations, generated_codes, member=0, trivial_targets=None
    ):
        """Eq. (1): normal rows -> 0 (known anomalies -> 1), trivial (or their graded targets) and generated
        anomalies -> 1.

        The rows come as the member's frozen AAE's activations (`activations_of_input`), computed once a step.
        """
        alarm = self.alarms[member]
        normal_logits = alarm(normal_activations, training=True)
        trivial_logits = alarm(trivial_activations, training=True)
        generated_logits = alarm(self.activations_of_code(generated_codes, self.autoencoder_of(member)), training=True)
        return losses.alarm_loss(normal_logits, labels, trivial_logits, generated_logits, trivial_targets)

    def generator_loss(self, noise, member=0):
        """Eq. (3): make the alarm call generated anomalies normal, and fool the critic."""
        codes = self.generators[member](noise, training=True)
        alarm_logits = self.alarms[member](self.activations_of_code(codes, self.autoencoder_of(member)), training=True)
        return losses.da3d_generator_loss(alarm_logits, self.critics[member](codes, training=True))

    def critic_loss(self, normal_codes, noise, wide_codes, member=0):
        """Eq. (2) with the generator and encoder held fixed (`normal_codes`: the encoder's codes of the rows)."""
        critic = self.critics[member]
        generated = ops.stop_gradient(self.generators[member](noise, training=False))
        return losses.da3d_critic_loss(
            critic(wide_codes, training=True),
            critic(generated, training=True),
            critic(normal_codes, training=True),
            self.lambda_generated,
            self.lambda_normal,
        )

    def clip_critic_weights(self):
        for critic in self.critics:
            networks.clip_weights(critic, self.clip_value)

    def member_share(self, x, labels, member: int):
        """`member`'s share of the batch (``member_batches="split"``): rows member, member + M, ...

        Every member gets ceil(n / M) rows, wrapping around to the batch's first rows, so
        a batch of fewer than M rows still gives each member at least one.
        """
        n = ops.shape(x)[0]
        count = (n + self.members - 1) // self.members  # static where the batch size is (JAX)
        index = ops.mod(ops.arange(count, dtype="int32") * self.members + member, n)
        return ops.take(x, index, axis=0), ops.take(labels, index, axis=0)

    def algorithm_step(self, x, y=None):
        x = ops.cast(x, "float32")
        labels = ops.zeros((ops.shape(x)[0],)) if y is None else ops.reshape(ops.cast(y, "float32"), (-1,))
        members = range(self.members)
        # The rows each member trains on: the whole batch, or its own share of it.
        if self.member_batches == "split":
            shares = [self.member_share(x, labels, m) for m in members]
            share = lambda m: m  # noqa: E731
        else:
            shares, share = [(x, labels)], lambda m: 0  # noqa: E731
        # Sample trivial anomalies n_x ~ N(.5, 1) (or rows with swapped features, uniform in [0, 1]^d or
        # graded on the way to their row: `trivial_rows`), wide codes n_h ~ N(0, sigma^2), generator noise.
        trivial, targets = zip(*(self.trivial_rows(rows, labels) for rows, labels in shares), strict=True)
        wide_codes = [self.sample_wide_codes(ops.shape(rows)[0]) for rows, _ in shares]
        # Each frozen AAE's view of its members' rows (one AAE and one batch: shared by every member).
        view = lambda m: (self.autoencoder_of(m), share(m))  # noqa: E731
        views = sorted({view(m) for m in members})
        normal_activations = {v: ops.stop_gradient(self.activations_of_input(shares[v[1]][0], v[0])) for v in views}
        trivial_activations = {v: ops.stop_gradient(self.activations_of_input(trivial[v[1]], v[0])) for v in views}
        logs = {}
        if self.generator_kind == "simple":
            generated = [wide_codes[share(m)] for m in members]
        else:
            noises = [self.sample_generator_noise(ops.shape(shares[share(m)][0])[0]) for m in members]
            generated = [ops.stop_gradient(self.generators[m](noises[m], training=False)) for m in members]
        # Train the alarm on eq. (1).
        logs["alarm_loss"] = self.update_role(
            "alarm",
            lambda: self.member_mean(
                [
                    self.alarm_loss(
                        normal_activations[view(m)],
                        shares[share(m)][1],
                        trivial_activations[view(m)],
                        generated[m],
                        m,
                        targets[share(m)],
                    )
                    for m in members
                ]
            ),
        )
        if self.generator_kind == "gan":
            # Train the generator on eq. (3), then the critic on eq. (2), clipped.
            normal_codes = {v: self.autoencoders[v[0]].encoder(shares[v[1]][0], training=False) for v in views}
            logs["generator_loss"] = self.update_role(
                "generator", lambda: self.member_mean([self.generator_loss(noises[m], m) for m in members])
            )
            logs["critic_loss"] = self.update_role(
                "critic",
                lambda: self.member_mean(
                    [self.critic_loss(normal_codes[view(m)], noises[m], wide_codes[share(m)], m) for m in members]
                ),
            )
            if self.clip == "weights":
                self.clip_critic_weights()
        return logs

    def before_fit(self, x, y, kwargs):
        """The first ``fit`` pretrains the AAE on the normal rows (``aae_epochs``) before Algorithm 1."""
        if float(ops.convert_to_numpy(self.pretrained)):
            return x, y
        if self.aae_epochs:
            self.pretrain_autoencoder(
                x if y is None else x[y == 0],
                epochs=self.aae_epochs,
                **{k: kwargs[k] for k in ("batch_size", "verbose", "shuffle") if k in kwargs},
            )
        elif self.extra_autoencoders:
            raise ValueError(
                f"DA3D(aae_epochs=0) would leave the own autoencoders of members 1-{self.members - 1} untrained "
                "(member_autoencoders='own'). Pass aae_epochs > 0 to let the "
                "first fit pretrain every autoencoder, call model.pretrain_autoencoder(x_normal, epochs) before "
                "fit, or pass member_autoencoders='shared' (or members=1) to use only your pretrained autoencoder."
            )
        return x, y

    def pretrain_autoencoder(self, x, epochs: int, **fit_kwargs):
        """Train each AAE alone on normal rows `x`, then freeze it again (announced unless ``verbose=0``).

        Returns the first AAE's history.
        """
        count = len(self.autoencoders)
        which = "the autoencoder" if count == 1 else f"each of the {count} autoencoders"
        self.announce_phase(
            f"pretraining {which} for {epochs} epochs (aae_epochs; once, before Algorithm 1)", fit_kwargs
        )
        histories = []
        for autoencoder in self.autoencoders:
            set_trainable(autoencoder, True)
            try:
                histories.append(autoencoder.fit(x, epochs=epochs, **fit_kwargs))
            finally:
                set_trainable(autoencoder, False)
                self.train_function = None
        self.pretrained.assign(1.0)
        return histories[0]

    def _autoencoder_config(self):
        # Without the AAE's compile config: it is frozen, its optimizer state is not needed.
        config = keras.saving.serialize_keras_object(self.autoencoder)
        config.pop("compile_config", None)
        return config

    def get_config(self):
        config = super().get_config()
        config["autoencoder"] = self._autoencoder_config()
        return config

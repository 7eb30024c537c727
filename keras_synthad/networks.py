"""Network builders from the papers' architecture tables.

Each builder returns a functional `Functional` (a `keras.Model`). Discriminators end in a linear
unit (a logit); the methods apply the sigmoid, so losses stay numerically stable.
Build them under ``keras.name_scope(role)`` so their variables belong to that role.

The autoencoder builders name the layers whose outputs are hidden activations
``hidden_<i>``; `hidden_outputs` reads them (DA3D's alarm network uses them).
"""

from __future__ import annotations

import keras
from keras import layers, ops

from keras_synthad import backend


@keras.saving.register_keras_serializable(package="keras_synthad")
class Functional(keras.Model):
    """A functional `keras.Model` whose calls take the backend's `run_layers` shortcut.

    On torch, which runs eagerly, a call with an explicit ``training`` runs each
    layer's ``call`` in order instead of Keras' per-layer ``__call__`` (the same
    arithmetic on the same variables, without the bookkeeping that costs more than a
    small layer's matrix product). JAX and TensorFlow trace the graph once, so they
    keep Keras' path. The class keeps Keras' name ``Functional``: a ``.keras`` file
    stores the weights of networks held in lists under their class's name, so files
    saved with plain functional networks load unchanged.
    """

    def __call__(self, *args, **kwargs):
        outputs = backend.run_layers(self, *args, **kwargs)
        return super().__call__(*args, **kwargs) if outputs is None else outputs


def _activation(name: str, negative_slope: float):
    if name == "leaky_relu":
        return layers.LeakyReLU(negative_slope=negative_slope)
    return layers.Activation(name)


def mlp(
    input_dim: int,
    units,
    output_units: int,
    activation: str = "relu",
    negative_slope: float = 0.1,
    dropout: float = 0.0,
    output_activation: str | None = None,
    name: str | None = None,
) -> keras.Model:
    """Dense stack ``units`` -> ``output_units``; dropout after every hidden layer."""
    inputs = keras.Input((input_dim,))
    h = inputs
    for n in units:
        h = layers.Dense(n)(h)
        h = _activation(activation, negative_slope)(h)
        if dropout:
            h = layers.Dropout(dropout)(h)
    outputs = layers.Dense(output_units, activation=output_activation)(h)
    return Functional(inputs, outputs, name=name)


def _check_divisible(image_shape, factor: int, table: str):
    height, width, _ = image_shape
    if height % factor or width % factor:
        raise ValueError(
            f"{table} upsamples by {factor}: image height and width must be multiples of "
            f"{factor}. Received: input_shape={tuple(image_shape)}"
        )


def fence_gan_mnist_generator(latent_dim: int, image_shape, name: str = "generator") -> keras.Model:
    """Fence GAN Table II generator: Dense 1024 (BN, ReLU), Dense (H/4)(W/4)128 (BN, ReLU),
    ConvT 64 4x4/2 (BN, ReLU), ConvT C 4x4/2 tanh. Weights ~ N(0, 0.02) as in the authors' code."""
    _check_divisible(image_shape, 4, "Fence GAN Table II")
    height, width, channels = image_shape
    init = keras.initializers.RandomNormal(stddev=0.02)
    inputs = keras.Input((latent_dim,))
    h = layers.Dense(1024, activation="relu", kernel_initializer=init)(inputs)
    h = layers.BatchNormalization()(h)
    h = layers.Dense((height // 4) * (width // 4) * 128, activation="relu", kernel_initializer=init)(h)
    h = layers.BatchNormalization()(h)
    h = layers.Reshape((height // 4, width // 4, 128))(h)
    h = layers.Conv2DTranspose(64, 4, strides=2, padding="same", activation="relu", kernel_initializer=init)(h)
    h = layers.BatchNormalization()(h)
    outputs = layers.Conv2DTranspose(
        channels, 4, strides=2, padding="same", activation="tanh", kernel_initializer=init
    )(h)
    return Functional(inputs, outputs, name=name)


def fence_gan_mnist_discriminator(image_shape, name: str = "discriminator") -> keras.Model:
    """Fence GAN Table II discriminator: Conv 64 4x4/2, Conv 64 4x4/2, Dense 1024
    (LeakyReLU 0.1 each), Dense 1 (logit)."""
    init = keras.initializers.RandomNormal(stddev=0.02)
    inputs = keras.Input(tuple(image_shape))
    h = inputs
    for _ in range(2):
        h = layers.Conv2D(64, 4, strides=2, padding="same", kernel_initializer=init)(h)
        h = layers.LeakyReLU(negative_slope=0.1)(h)
    h = layers.Flatten()(h)
    h = layers.Dense(1024, kernel_initializer=init)(h)
    h = layers.LeakyReLU(negative_slope=0.1)(h)
    outputs = layers.Dense(1, kernel_initializer=init)(h)
    return Functional(inputs, outputs, name=name)


def fence_gan_cifar_generator(latent_dim: int, image_shape, name: str = "generator") -> keras.Model:
    """Fence GAN Table III generator: Dense (H/16)(W/16)256, then ConvT 128, 64, 32, C
    (5x5, stride 2); BN + LeakyReLU 0.2 between, tanh output."""
    _check_divisible(image_shape, 16, "Fence GAN Table III")
    height, width, channels = image_shape
    init = "glorot_normal"
    inputs = keras.Input((latent_dim,))
    h = layers.Dense((height // 16) * (width // 16) * 256, kernel_initializer=init)(inputs)
    h = layers.Reshape((height // 16, width // 16, 256))(h)
    for filters in (None, 128, 64, 32):
        if filters is not None:
            h = layers.Conv2DTranspose(filters, 5, strides=2, padding="same", kernel_initializer=init)(h)
        h = layers.BatchNormalization()(h)
        h = layers.LeakyReLU(negative_slope=0.2)(h)
    h = layers.Conv2DTranspose(channels, 5, strides=2, padding="same", kernel_initializer=init)(h)
    outputs = layers.Activation("tanh")(h)
    return Functional(inputs, outputs, name=name)


def fence_gan_cifar_discriminator(image_shape, name: str = "discriminator") -> keras.Model:
    """Fence GAN Table III discriminator: Conv 32, 64, 128 (5x5/2, BN, LeakyReLU 0.2),
    Conv 256 (LeakyReLU 0.2), Dropout 0.2, Dense 1 (logit)."""
    init = "glorot_normal"
    inputs = keras.Input(tuple(image_shape))
    h = inputs
    for filters in (32, 64, 128, 256):
        h = layers.Conv2D(filters, 5, strides=2, padding="same", kernel_initializer=init)(h)
        if filters != 256:
            h = layers.BatchNormalization()(h)
        h = layers.LeakyReLU(negative_slope=0.2)(h)
    h = layers.Flatten()(h)
    h = layers.Dropout(0.2)(h)
    outputs = layers.Dense(1, kernel_initializer=init)(h)
    return Functional(inputs, outputs, name=name)


HIDDEN_PREFIX = "hidden_"


def aae_encoder(feature_shape, units, latent_dim: int, name: str = "encoder") -> keras.Model:
    """DOPING §III-A encoder: flatten, Dense ``units`` (ReLU), linear code of size ``latent_dim``."""
    inputs = keras.Input(tuple(feature_shape))
    h = layers.Flatten()(inputs) if len(feature_shape) > 1 else inputs
    for i, n in enumerate(units):
        h = layers.Dense(n, activation="relu", name=f"{HIDDEN_PREFIX}{i}")(h)
    outputs = layers.Dense(latent_dim)(h)
    return Functional(inputs, outputs, name=name)


def aae_decoder(
    latent_dim: int, units, feature_shape, output_activation: str | None = None, name: str = "decoder"
) -> keras.Model:
    """DOPING §III-A decoder: Dense ``units`` (ReLU), output linear (the paper) or e.g. sigmoid."""
    inputs = keras.Input((latent_dim,))
    h = inputs
    for i, n in enumerate(units):
        h = layers.Dense(n, activation="relu", name=f"{HIDDEN_PREFIX}{i}")(h)
    size = 1
    for s in feature_shape:
        size *= int(s)
    outputs = layers.Dense(size, activation=output_activation)(h)
    if len(feature_shape) > 1:
        outputs = layers.Reshape(tuple(feature_shape))(outputs)
    return Functional(inputs, outputs, name=name)


CONV_SLOPE = 0.01  # LeakyReLU slope of the convolutional AAE (DCGAN-style; DA3D's code uses .01)


def conv_sizes(image_shape, n_layers: int) -> list[tuple[int, int]]:
    """Spatial sizes after each stride-2 "same" convolution: ``[(H, W), (ceil(H/2), ceil(W/2)), ...]``."""
    sizes = [tuple(int(s) for s in image_shape[:2])]
    for _ in range(n_layers):
        sizes.append(tuple(-(-s // 2) for s in sizes[-1]))
    return sizes


def aae_conv_encoder(image_shape, filters, latent_dim: int, name: str = "encoder") -> keras.Model:
    """DA3D Table 1 image encoder (``32C3-16C3-8C3-16C3``): 3x3 stride-2 convolutions with
    ``filters`` (batch norm, LeakyReLU), then a linear convolution covering the whole remaining
    map down to a 1x1 code of ``latent_dim`` channels, returned flat ``(latent_dim,)``.

    The last convolution spans the full remaining map (4x4 for 28x28 inputs) rather than
    Table 1's 3x3, so the code has ``latent_dim`` entries for any image size.
    """
    inputs = keras.Input(tuple(image_shape))
    h = inputs
    for i, f in enumerate(filters):
        h = layers.Conv2D(f, 3, strides=2, padding="same")(h)
        h = layers.BatchNormalization()(h)
        h = layers.LeakyReLU(negative_slope=CONV_SLOPE, name=f"{HIDDEN_PREFIX}{i}")(h)
    last = conv_sizes(image_shape, len(filters))[-1]
    h = layers.Conv2D(latent_dim, last, padding="valid")(h)
    outputs = layers.Flatten()(h)
    return Functional(inputs, outputs, name=name)


def aae_conv_decoder(
    latent_dim: int, filters, image_shape, output_activation: str | None = None, name: str = "decoder"
) -> keras.Model:
    """The mirror of `aae_conv_encoder`: the code is spread to the encoder's last map with
    ``filters[-1]`` channels, then 3x3 stride-2 transposed convolutions with the remaining
    filters in reverse and finally the image's channels. After each one the map is cropped to
    the size the encoder had at that depth (28 -> 14 -> 7 -> 4 is mirrored 4 -> 7 -> 14 -> 28)."""
    sizes = conv_sizes(image_shape, len(filters))
    channels = int(image_shape[-1])
    inputs = keras.Input((latent_dim,))
    h = layers.Reshape((1, 1, latent_dim))(inputs)
    h = layers.Conv2DTranspose(filters[-1], sizes[-1], padding="valid")(h)
    h = layers.BatchNormalization()(h)
    h = layers.LeakyReLU(negative_slope=CONV_SLOPE, name=f"{HIDDEN_PREFIX}0")(h)
    previous = sizes[-1]
    stages = list(zip(list(reversed(filters[:-1])) + [channels], reversed(sizes[:-1]), strict=True))
    for i, (f, target) in enumerate(stages):
        h = layers.Conv2DTranspose(f, 3, strides=2, padding="same")(h)
        # A stride-2 "same" transposed convolution doubles the map; crop back to the mirror size.
        extra = (2 * previous[0] - target[0], 2 * previous[1] - target[1])
        if extra != (0, 0):
            h = layers.Cropping2D(((0, extra[0]), (0, extra[1])))(h)
        if i < len(stages) - 1:
            h = layers.BatchNormalization()(h)
            h = layers.LeakyReLU(negative_slope=CONV_SLOPE, name=f"{HIDDEN_PREFIX}{i + 1}")(h)
        previous = target
    outputs = layers.Activation(output_activation)(h) if output_activation else h
    return Functional(inputs, outputs, name=name)


def hidden_outputs(network: keras.Model) -> list:
    """Outputs of the layers an autoencoder builder named ``hidden_<i>``, in order."""
    return [layer.output for layer in network.layers if layer.name.startswith(HIDDEN_PREFIX)]


def clip_weights(network: keras.Model, bound: float) -> None:
    """WGAN weight clipping: every trainable weight of `network` into ``[-bound, bound]``."""
    for variable in network.trainable_variables:
        variable.assign(keras.ops.clip(variable, -bound, bound))


# --- DHAG (§5 "Implementation"; layer sizes from the authors' DRAG code) -----------------------


def dhag_tabular_encoder(input_dim: int, units=(64, 64, 64, 64), name: str = "encoder") -> keras.Model:
    """MLP encoder: Dense ``units`` with ReLU, the last one's output is the code."""
    inputs = keras.Input((input_dim,))
    h = inputs
    for n in units:
        h = layers.Dense(n, activation="relu")(h)
    return Functional(inputs, h, name=name)


def dhag_tabular_perturbator(
    input_dim: int, latent_dim: int, units: int = 64, name: str = "perturbator"
) -> keras.Model:
    """1-D CNN perturbator: the row and its noise value (``d + 1`` channels of a one-step
    sequence) -> Conv1D(units, 1, no bias) -> ReLU -> Conv1D(latent_dim, 1) = the perturbation."""
    x = keras.Input((input_dim,))
    noise = keras.Input((1,))
    h = layers.Reshape((1, input_dim + 1))(layers.Concatenate()([x, noise]))
    h = layers.Conv1D(units, 1, use_bias=False, activation="relu")(h)
    h = layers.Conv1D(latent_dim, 1)(h)
    return Functional([x, noise], layers.Flatten()(h), name=name)


def dhag_tabular_perturbations(perturbators, x, noises):
    """Every `dhag_tabular_perturbator`'s output at once, shape (L, m, latent_dim).

    The same arithmetic as calling each perturbator on ``[x, noise_l]``, written as two
    batched matrix products over the L stacked kernels: one call per step instead of L
    (torch dispatches each layer call; JAX and TensorFlow compile either form).
    """
    convs = [[layer for layer in p.layers if isinstance(layer, layers.Conv1D)] for p in perturbators]
    # Kernels of width-1 convolutions are (1, in, out); concatenated: (L, in, out). (TensorFlow's
    # stack does not take Keras variables.)
    hidden = ops.concatenate([h.kernel for h, _ in convs], axis=0)  # (L, d + 1, units)
    out = ops.concatenate([o.kernel for _, o in convs], axis=0)  # (L, units, latent_dim)
    bias = ops.concatenate([o.bias[None] for _, o in convs], axis=0)  # (L, latent_dim)
    d = hidden.shape[1] - 1  # the row width (the kernels know it when the input does not)
    # [x, noise_l] @ W_l = x @ W_l[:d] + noise_l * W_l[d]
    h = ops.einsum("md,ldu->lmu", x, hidden[:, :d]) + ops.stack(noises) * hidden[:, d:]
    return ops.einsum("lmu,luk->lmk", ops.relu(h), out) + bias[:, None, :]


def dhag_image_encoder(image_shape, filters=(16, 32, 64), name: str = "encoder") -> keras.Model:
    """LeNet-style encoder: per block Conv 5x5 (no bias), batch norm without scale/offset,
    LeakyReLU .01, max-pool 2; the flattened last map is the code (576 values for 28x28)."""
    inputs = keras.Input(tuple(image_shape))
    h = inputs
    for f in filters:
        h = layers.Conv2D(f, 5, padding="same", use_bias=False)(h)
        h = layers.BatchNormalization(epsilon=1e-4, center=False, scale=False)(h)
        h = layers.LeakyReLU(negative_slope=0.01)(h)
        h = layers.MaxPooling2D(2)(h)
    return Functional(inputs, layers.Flatten()(h), name=name)


def dhag_image_perturbator(image_shape, filters=(16, 32, 64), name: str = "perturbator") -> keras.Model:
    """2-D CNN perturbator: image + a noise channel -> Conv 9x9 (instance norm, ReLU) ->
    Conv 3x3/2 (instance norm, ReLU) -> Conv 3x3/2 -> max-pool 2, flattened to the code size."""
    image = keras.Input(tuple(image_shape))
    noise = keras.Input((*image_shape[:2], 1))
    h = layers.Concatenate()([image, noise])
    h = layers.Conv2D(filters[0], 9, padding="same")(h)
    h = layers.GroupNormalization(groups=filters[0])(h)  # one group per channel: instance norm
    h = layers.ReLU()(h)
    h = layers.Conv2D(filters[1], 3, strides=2, padding="same")(h)
    h = layers.GroupNormalization(groups=filters[1])(h)
    h = layers.ReLU()(h)
    h = layers.Conv2D(filters[2], 3, strides=2, padding="same")(h)
    h = layers.MaxPooling2D(2)(h)
    return Functional([image, noise], layers.Flatten()(h), name=name)


def dhag_discriminator(latent_dim: int, units=(32,), linear: bool = False, name: str = "discriminator"):
    """Code -> logit. ``linear=False``: Dense ``units`` with ReLU (the paper's MLP);
    ``linear=True``: the authors' code, the same sizes without activations or biases."""
    inputs = keras.Input((latent_dim,))
    h = inputs
    for n in units:
        h = layers.Dense(n, use_bias=not linear, activation=None if linear else "relu")(h)
    return Functional(inputs, layers.Dense(1, use_bias=not linear)(h), name=name)

"""TensorFlow: one GradientTape per role update; Keras compiles the step.

Under a ``tf.distribute`` strategy with several replicas (``MirroredStrategy`` over
GPUs or logical CPUs) Keras runs the step once per replica on that replica's share
of the global batch, and each inner optimizer sums the replicas' gradients. So every
role's loss is divided by the number of replicas before it is differentiated (the
summed gradient is then the one-device gradient of the global batch), and every
replica draws its own noise (`replica_seed`).
"""

import keras
import numpy as np
import tensorflow as tf

from keras_synthad.backend import trackers
from keras_synthad.backend.averages import assign_averages


def check_distribution(model):
    """Nothing to refuse: replica strategies get per-replica loss scaling and noise (tested on
    two logical CPUs against one device)."""


def replicas() -> int:
    """The number of replicas the current step's global batch is split over (1 outside a strategy)."""
    return tf.distribute.get_strategy().num_replicas_in_sync


def next_seed(generator, ordered=True):
    """Keras' ``SeedGenerator.next``, made different on every replica (`replica_seed`)."""
    return replica_seed(keras.random.SeedGenerator.next(generator, ordered))


def replica_seed(seed):
    """`seed` ([seed, counter]) made different on every replica, and still reproducible from it."""
    context = tf.distribute.get_replica_context()
    if context is None or context.num_replicas_in_sync == 1:
        return seed
    replica = tf.cast(context.replica_id_in_sync_group, seed.dtype)
    return seed + tf.stack([replica * 1_000_003, tf.zeros_like(replica)])  # a large odd stride apart


def train_step(model, data):
    return model.run_algorithm_step(data)


def update_role(model, variables, optimizer, loss_fn):
    count = replicas()
    with tf.GradientTape() as tape:
        loss = loss_fn()
        scaled = loss / count if count > 1 else loss  # the optimizer sums the replicas' gradients
    grads = tape.gradient(scaled, variables)
    optimizer.apply(grads, variables)
    return loss


def run_layers(network, inputs, training=None, **kwargs):
    """None: Keras' own call path (traced once into the compiled step, so it costs nothing per step)."""
    return None


def update_averages(averages, variables, momentum):
    """The moving averages as Keras assignments (traced once into the compiled step)."""
    assign_averages(averages, variables, momentum)


#: ``fit`` arguments that `training_data` leaves to Keras' own array pipeline.
KERAS_ARRAY_ARGUMENTS = ("sample_weight", "class_weight", "steps_per_epoch")


def training_data(model, x, y, kwargs):
    """Arrays as a `tf.data.Dataset` that reads its batches in the training thread.

    Keras turns arrays into a pipeline with a parallel map, prefetching and
    autotuning, whose threads compete with the step for the CPU; on one core the
    step then waits on them (Keras' pipeline against this one, the papers'
    networks, one pinned core: DOPING's autoencoder 103.4 against 63.8 ms a step,
    DA3D 104.1 against 78.6, DHAG 13.4 against 8.5; see the benchmarks page).
    This dataset makes batches as Keras' does (``batch_size``, default 32, the last
    one partial; ``shuffle``, default True) with autotuning off and no background
    thread, and it draws a new permutation every epoch, reproducible from
    TensorFlow's global seed. (Keras' TensorFlow pipeline repeats its first
    permutation in every epoch once a global seed is set; its JAX and torch
    iterators reshuffle, as this one does.)
    Returns ``(x, y)`` and edits `kwargs` (``batch_size`` and ``shuffle`` go into
    the dataset); anything else (datasets, ``shuffle="batch"``, sample weights, a
    replica strategy) goes to Keras unchanged.
    """
    arrays = (x,) if y is None else (x, y)
    if (
        not all(isinstance(a, np.ndarray) for a in arrays)
        or kwargs.get("shuffle", True) == "batch"
        or any(kwargs.get(name) is not None for name in KERAS_ARRAY_ARGUMENTS)
        or model.distribute_strategy.num_replicas_in_sync > 1
    ):
        return x, y
    batch_size = int(kwargs.pop("batch_size", None) or 32)
    shuffle = bool(kwargs.pop("shuffle", True))
    kwargs["shuffle"] = False  # the dataset shuffles (Keras warns that it ignores shuffle=True)
    rows = x.shape[0]
    full = rows // batch_size * batch_size

    def epoch(seed):
        # One epoch's batches of row indices: a permutation drawn once for the whole epoch.
        order = tf.argsort(tf.random.stateless_uniform([rows], seed=tf.stack([seed, 0]))) if shuffle else tf.range(rows)
        batches = tf.data.Dataset.from_tensor_slices(tf.reshape(order[:full], (-1, batch_size)))
        return batches.concatenate(tf.data.Dataset.from_tensors(order[full:])) if full < rows else batches

    # A new seed every epoch (Dataset.random), reproducible from TensorFlow's global seed.
    indices = tf.data.Dataset.random(rerandomize_each_iteration=True).take(1).flat_map(epoch)
    indices = indices.apply(tf.data.experimental.assert_cardinality(-(-rows // batch_size)))
    tensors = tuple(tf.convert_to_tensor(a) for a in arrays)
    batches = tf.data.Dataset.zip((indices, tf.data.Dataset.from_tensors(tensors).repeat()))

    def gather(index, data):
        picked = tuple(tf.gather(a, index) for a in data)
        return picked if len(picked) > 1 else picked[0]

    options = tf.data.Options()
    options.autotune.enabled = False
    options.experimental_optimization.apply_default_optimizations = False
    return batches.map(gather).with_options(options), None


update_trackers = trackers.update_trackers  # Keras' Mean calls, traced into the step

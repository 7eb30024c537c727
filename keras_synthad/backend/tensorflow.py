"""TensorFlow: one GradientTape per role update; Keras compiles the step.

Under a ``tf.distribute`` strategy with several replicas (``MirroredStrategy`` over
GPUs or logical CPUs) Keras runs the step once per replica on that replica's share
of the global batch, and each inner optimizer sums the replicas' gradients. So every
role's loss is divided by the number of replicas before it is differentiated (the
summed gradient is then the one-device gradient of the global batch), and every
replica draws its own noise (`replica_seed`).
"""

import tensorflow as tf


def check_distribution(model):
    """Nothing to refuse: replica strategies get per-replica loss scaling and noise (tested on
    two logical CPUs against one device)."""


def replicas() -> int:
    """The number of replicas the current step's global batch is split over (1 outside a strategy)."""
    return tf.distribute.get_strategy().num_replicas_in_sync


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

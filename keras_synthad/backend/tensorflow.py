"""TensorFlow: one GradientTape per role update; Keras compiles the step."""

import tensorflow as tf

from keras_synthad.backend.errors import DistributionNotSupportedError


def check_distribution(model):
    """Refuse tf.distribute strategies with several replicas: the role losses are not scaled per replica."""
    strategy = model.distribute_strategy  # the strategy the model was built under, else the current one
    if strategy is not None:
        replicas = strategy.num_replicas_in_sync
        if replicas > 1:
            raise DistributionNotSupportedError(
                f"keras_synthad's multi-role step does not support tf.distribute strategies with several replicas "
                f"yet (this one has {replicas}): the losses are not divided by the number of replicas and "
                "keras.random draws the same noise on every replica, so updates would be wrong. Train on one "
                "device, or use the JAX backend with keras.distribution.DataParallel (README, 'Several devices')."
            )


def train_step(model, data):
    return model.run_algorithm_step(data)


def update_role(model, variables, optimizer, loss_fn):
    with tf.GradientTape() as tape:
        loss = loss_fn()
    grads = tape.gradient(loss, variables)
    optimizer.apply(grads, variables)
    return loss

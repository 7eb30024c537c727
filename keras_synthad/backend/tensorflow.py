"""TensorFlow: one GradientTape per role update; Keras compiles the step."""

import tensorflow as tf


def train_step(model, data):
    return model.run_algorithm_step(data)


def update_role(model, variables, optimizer, loss_fn):
    with tf.GradientTape() as tape:
        loss = loss_fn()
    grads = tape.gradient(loss, variables)
    optimizer.apply(grads, variables)
    return loss

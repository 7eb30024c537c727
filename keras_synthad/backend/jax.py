"""JAX: a pure, jitted step over the trainer's state.

Keras' JAX trainer jits ``train_step(state, data)`` where ``state`` holds the
values of the model's trainable, non-trainable, optimizer and metric variables.
The method's algorithm is written once with ``keras.ops`` and reads and assigns
ordinary Keras variables, so the whole step runs inside a
``keras.StatelessScope`` that maps every variable to its value in ``state``:
reads see the traced values and assignments (optimizer slots, the
``SeedGenerator`` state, batch-norm statistics, metrics) are recorded in the
scope and returned as the new state. Each role update differentiates with
``jax.value_and_grad`` in a nested scope, then lets the role's inner optimizer
(one member of the model's ``MultiOptimizer``) apply the gradients inside the
outer scope, which is what ``Optimizer.stateless_apply`` does internally.
"""

import jax
import keras
from keras import StatelessScope

from keras_synthad.backend import trackers
from keras_synthad.backend.averages import assign_averages


def check_distribution(model):
    """Nothing to refuse: ``keras.distribution.DataParallel`` shards each batch and the compiled step
    all-reduces every role's gradients (tested on two devices against one)."""


def replicas() -> int:
    """1: under ``keras.distribution`` the step sees the global batch (the compiled step is sharded)."""
    return 1


def next_seed(generator, ordered=True):
    """Keras' ``SeedGenerator.next``: the step draws the global batch's noise once."""
    return keras.random.SeedGenerator.next(generator, ordered)


def _state_groups(model):
    return (
        model.trainable_variables,
        model.non_trainable_variables,
        model.optimizer.variables,
        model.metrics_variables,
    )


def train_step(model, state, data):
    groups = _state_groups(model)
    mapping = [
        pair for variables, values in zip(groups, state, strict=True) for pair in zip(variables, values, strict=True)
    ]
    with StatelessScope(state_mapping=mapping) as scope:
        logs = model.run_algorithm_step(data)
    new_state = tuple([scope.get_current_value(v) for v in variables] for variables in groups)
    return logs, new_state


def update_role(model, variables, optimizer, loss_fn):
    role_ids = {id(v) for v in variables}
    others = [v for group in _state_groups(model) for v in group if id(v) not in role_ids]
    # Inside the outer scope, ``.value`` is the current (traced) value.
    other_values = [v.value for v in others]

    def loss_and_updates(role_values):
        mapping = list(zip(variables, role_values, strict=True)) + list(zip(others, other_values, strict=True))
        with StatelessScope(state_mapping=mapping) as scope:
            loss = loss_fn()
        return loss, [scope.get_current_value(v) for v in others]

    (loss, updates), grads = jax.value_and_grad(loss_and_updates, has_aux=True)([v.value for v in variables])
    for v, new in zip(others, updates, strict=True):  # RNG state, batch-norm statistics
        v.assign(new)
    optimizer.apply(grads, variables)
    return loss


def run_layers(network, inputs, training=None, **kwargs):
    """None: Keras' own call path (traced once into the compiled step, so it costs nothing per step)."""
    return None


def update_averages(averages, variables, momentum):
    """The moving averages as Keras assignments (traced once into the compiled step)."""
    assign_averages(averages, variables, momentum)


def training_data(model, x, y, kwargs):
    """``(x, y)`` unchanged: Keras' own array iterator feeds the step."""
    return x, y


update_trackers = trackers.update_trackers  # Keras' Mean calls, traced into the step

"""Gradient mechanics per backend: the only package that imports TF, JAX or torch.

Each backend module defines the same functions:

- ``train_step(model, *args)``: what Keras' trainer calls. It runs the method's
  backend-neutral ``model.run_algorithm_step(data)`` and returns what that
  backend's trainer expects (``logs`` on TensorFlow and torch, ``(logs, state)``
  on JAX).
- ``update_role(model, variables, optimizer, loss_fn)``: "update this role's
  variables on this loss". ``loss_fn()`` takes no argument and returns a scalar
  loss built with ``keras.ops``; the function differentiates it with respect to
  ``variables`` only, applies ``optimizer`` to them and returns the loss.
- ``check_distribution(model)``: called before training; raises `DistributionNotSupportedError`
  where the backend's data-parallel setup would train wrongly (JAX's
  ``keras.distribution.DataParallel`` and TensorFlow's replica strategies are supported;
  torch.distributed is refused).
- ``replicas()``: how many replicas the step's global batch is split over (TensorFlow's
  strategies run the step once per replica on its share; JAX and torch see the whole batch).
- ``next_seed(generator, ordered=True)``: Keras' ``SeedGenerator.next`` for the methods'
  generator, made different on every replica (TensorFlow) or cheaper (torch).
- ``run_layers(network, inputs, training=None, **kwargs)``: a functional network's
  outputs computed by calling its layers' ``call`` directly, or None for Keras' own
  ``__call__`` (only torch, which runs eagerly, takes the shortcut; see
  `keras_synthad.networks.Functional`).
- ``update_averages(averages, variables, momentum)``: ``average = momentum * average +
  (1 - momentum) * variable`` for each pair (JAX and TensorFlow: Keras assignments traced
  into the step, `averages.assign_averages`; torch, which runs eagerly: fused calls over
  all the tensors instead of a few operations per variable).
- ``update_trackers(trackers, losses)``: each loss added to the `keras.metrics.Mean`
  tracker of its name, and the trackers' results as the step's logs (JAX and TensorFlow:
  Keras' calls, `trackers.update_trackers`; torch: in-place calls on the same tensors).
- ``training_data(model, x, y, kwargs)``: the ``(x, y)`` that ``fit`` hands to Keras
  for checked arrays (TensorFlow: a `tf.data.Dataset` without background threads;
  JAX and torch: unchanged).
"""

import importlib

import keras

from keras_synthad.backend.errors import DistributionNotSupportedError

_BACKEND = keras.backend.backend()

if _BACKEND not in ("tensorflow", "jax", "torch"):  # pragma: no cover - Keras itself rejects other names first
    raise ImportError(
        f"keras_synthad supports the tensorflow, jax and torch backends. Received: KERAS_BACKEND={_BACKEND!r}"
    )
_module = importlib.import_module(f"keras_synthad.backend.{_BACKEND}")
check_distribution = _module.check_distribution
next_seed = _module.next_seed
replicas = _module.replicas
run_layers = _module.run_layers
train_step = _module.train_step
training_data = _module.training_data
update_averages = _module.update_averages
update_trackers = _module.update_trackers
update_role = _module.update_role

__all__ = [
    "DistributionNotSupportedError",
    "check_distribution",
    "next_seed",
    "replicas",
    "run_layers",
    "train_step",
    "training_data",
    "update_averages",
    "update_role",
    "update_trackers",
]

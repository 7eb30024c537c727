"""PyTorch: eager autograd, gradients zeroed before every backward pass."""

import functools
import inspect
import weakref

import keras
import torch

from keras_synthad.backend import trackers as keras_trackers
from keras_synthad.backend.averages import assign_averages
from keras_synthad.backend.errors import DistributionNotSupportedError


def check_distribution(model):
    """Refuse torch.distributed: each process's optimizers would apply its own gradients only."""
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        world = torch.distributed.get_world_size()
        if world > 1:
            raise DistributionNotSupportedError(
                f"keras_synthad trains in one process on the torch backend, and torch.distributed is initialized "
                f"with {world} processes: Keras' torch backend has no keras.distribution support, and each role's "
                "optimizer would apply this process's gradients only, without averaging them. Train in one "
                "process, or use the JAX backend with keras.distribution.DataParallel (README, 'Several devices')."
            )


def replicas() -> int:
    """1: one process trains on the whole batch."""
    return 1


def _stores_its_value(*variables) -> bool:
    """Whether every variable's value is the tensor it stores, so in-place torch calls on it
    update the variable (not so in a stateless scope, where the value is the scope's)."""
    return all(v.value is getattr(v, "_value", None) for v in variables)


def next_seed(generator, ordered=True):
    """The seed of `generator`'s next draw, as Keras' ``SeedGenerator.next`` gives it, and cheaper.

    One process draws all the noise, so the seed is not made per replica. Keras' torch
    random functions use a seed only as ``int(first + second) & 0xFFFFFFFF``, so the
    pair comes back as Python integers, read off the state and counted on in place
    (Keras' own ``next`` runs four tensor operations and a variable assignment: about
    60 us, against a few for these; a DHAG step draws five times). Same state, same
    seeds, same draws. Keras' unordered path (its global generator) and stateless scopes
    (where the state's value is the scope's, not the variable's) keep Keras' ``next``.
    """
    state = generator.state.value
    if not ordered or not _stores_its_value(generator.state) or state.dtype != torch.int32 or state.shape != (2,):
        return keras.random.SeedGenerator.next(generator, ordered)
    first, second = state.tolist()
    with torch.no_grad():
        state[1] += 1
    return first, second


def update_averages(averages, variables, momentum):
    """``average = momentum * average + (1 - momentum) * variable``, as fused ``torch._foreach`` calls.

    The same arithmetic in the same order as the Keras assignments of the other backends
    (`assign_averages`, so the same bits), in three calls over all the tensors instead of four
    operations and an assignment per variable: DHAG averages ten tensors, and Keras' way cost
    about 0.5-1 ms of its step. In a stateless scope, where a variable's value is the scope's
    and not the tensor it stores, the Keras assignments.
    """
    averages, variables = list(averages), list(variables)
    if not _stores_its_value(*averages, *variables):
        assign_averages(averages, variables, momentum)
        return
    targets = [a.value for a in averages]
    with torch.no_grad():
        torch._foreach_mul_(targets, momentum)
        torch._foreach_add_(targets, torch._foreach_mul([v.value for v in variables], 1.0 - momentum))


def update_trackers(trackers, losses):
    """Keras' ``Mean.update_state`` and ``result`` for scalar losses, as in-place torch calls.

    ``total += loss``, ``count += 1``, then ``total / count`` (0 while ``count`` is 0): the
    arithmetic of Keras' `Mean` on the same float32 tensors, so the same bits, without the
    dtype and shape handling of its dozen Keras operations (about 130 us a tracker a step on
    a CPU core, against 16). Other trackers, other losses and stateless scopes take Keras' path.
    """
    if any(type(t) is not keras.metrics.Mean for t in trackers) or not _stores_its_value(
        *(v for t in trackers for v in (t.total, t.count))
    ):
        return keras_trackers.update_trackers(trackers, losses)
    logs = {}
    with torch.no_grad():
        for tracker in trackers:
            loss = losses.get(tracker.name)
            if isinstance(loss, torch.Tensor) and loss.ndim == 0 and loss.dtype == tracker.total.value.dtype:
                tracker.total.value.add_(loss)
                tracker.count.value.add_(1.0)
            elif loss is not None:
                tracker.update_state(loss)
            total, count = tracker.total.value, tracker.count.value
            logs[tracker.name] = torch.where(count == 0, 0, torch.divide(total, torch.where(count == 0, 1.0, count)))
    return logs


def train_step(model, data):
    return model.run_algorithm_step(data)


def update_role(model, variables, optimizer, loss_fn):
    # Zero every gradient, not only this role's: the previous role's backward
    # pass also wrote into these variables' ``.grad``.
    model.zero_grad(set_to_none=True)
    loss = loss_fn()
    loss.backward()
    grads = [v.value.grad for v in variables]
    with torch.no_grad():
        if not apply_adam(getattr(optimizer, "parts", [(optimizer, variables)]), grads):
            optimizer.apply(grads, variables)
    return loss.detach()


def apply_adam(parts, grads) -> bool:
    """Keras' torch Adam (and AMSGrad) update of every ``(optimizer, variables)`` part, as one set
    of fused ``torch._foreach`` calls over all the parts' tensors; False (nothing done) where
    an optimizer is not a plain built Adam. `grads` are the parts' gradients, in order.

    Keras applies each optimizer in turn, and each ``apply`` first filters, unscales, clips
    and decays (none of which a plain Adam does) and looks up its slots through Keras'
    variable bookkeeping: on DHAG's three roles that is about a fifth of its step. Here
    the step size of each optimizer is Keras' expression on the same float32 tensors, the
    moments and variables get Keras' ``_foreach`` arithmetic in Keras' order (the parts'
    tensors are disjoint), and each iteration count goes up by one: the same bits.
    """
    variables = [v for _, part in parts for v in part]
    if (
        len(grads) != len(variables)
        or any(g is None for g in grads)
        or not all(part for _, part in parts)  # Keras applies nothing to a part without variables
        or len({id(optimizer) for optimizer, _ in parts}) != len(parts)  # Keras would step it twice
        or not all(_is_plain_adam(optimizer, part) for optimizer, part in parts)
        or len({(o.beta_1, o.beta_2, o.epsilon, o.amsgrad) for o, _ in parts}) != 1
    ):
        return False
    if not _stores_its_value(*variables):
        return False
    values = [v._value for v in variables]  # the tensors `_stores_its_value` just compared
    slots = [_adam_slots(optimizer, part) for optimizer, part in parts]
    if any(slot is None for slot in slots):
        return False
    step_sizes = [_adam_step_size(optimizer) for optimizer, _ in parts]  # before any state changes
    first = parts[0][0]
    m_list = [m for moments, _, _ in slots for m in moments]
    v_list = [v for _, velocities, _ in slots for v in velocities]
    torch._foreach_mul_(m_list, first.beta_1)
    torch._foreach_add_(m_list, grads, alpha=1 - first.beta_1)
    torch._foreach_mul_(v_list, first.beta_2)
    torch._foreach_add_(v_list, torch._foreach_mul(grads, grads), alpha=1 - first.beta_2)
    if first.amsgrad:
        v_hat_list = [v for _, _, hats in slots for v in hats]
        torch._foreach_maximum_(v_hat_list, v_list)
        v_list = v_hat_list
    steps = []
    for step_size, (moments, _, _) in zip(step_sizes, slots, strict=True):
        steps += torch._foreach_mul(moments, step_size)
    torch._foreach_add_(
        values,
        torch._foreach_div(steps, torch._foreach_add(torch._foreach_sqrt(v_list), first.epsilon)),
        alpha=-1,
    )
    for optimizer, _ in parts:
        optimizer.iterations.value.add_(1)
    return True


def _is_plain_adam(optimizer, variables) -> bool:
    # Keras' optimizer attributes, read with defaults that send anything unexpected (another
    # Keras version's optimizer, say) to Keras' own apply.
    unset = ("clipnorm", "global_clipnorm", "clipvalue", "weight_decay", "loss_scale_factor")
    numbers = ("beta_1", "beta_2", "epsilon")
    return (
        type(optimizer).__module__ == "keras.src.backend.torch.optimizers.torch_adam"
        and isinstance(optimizer, keras.optimizers.Adam)
        and getattr(optimizer, "built", False)
        # A rate or a schedule of the optimizer's own iterations (a callable may read anything).
        and isinstance(
            getattr(optimizer, "_learning_rate", None),
            (keras.Variable, keras.optimizers.schedules.LearningRateSchedule),
        )
        and getattr(optimizer, "use_ema", True) is False
        and not getattr(optimizer, "gradient_accumulation_steps", True)
        and all(getattr(optimizer, name, 0) is None for name in unset)
        and all(type(getattr(optimizer, name, None)) in (int, float) for name in numbers)
        and _stores_its_value(optimizer.iterations)
        and all(v.dtype == "float32" and v.constraint is None and not v.overwrite_with_gradient for v in variables)
    )


def _adam_slots(optimizer, variables):
    """(momentums, velocities, velocity maxima or []) of `variables`, as tensors; None where
    one is unknown to the optimizer or Keras keeps its slots elsewhere."""
    indices = getattr(optimizer, "_trainable_variables_indices", None)
    names = ("_momentums", "_velocities", "_velocity_hats") if optimizer.amsgrad else ("_momentums", "_velocities")
    slots = [getattr(optimizer, name, None) for name in names]
    if indices is None or any(slot is None for slot in slots):
        return None
    keys = [id(v) for v in variables]  # Keras' `_var_key`
    if any(key not in indices for key in keys):
        return None
    tensors = [[slot[indices[key]].value for key in keys] for slot in slots]
    return tuple(tensors) if optimizer.amsgrad else (*tensors, [])


def _adam_step_size(optimizer):
    # Keras' torch Adam: lr * sqrt(1 - beta_2^t) / (1 - beta_1^t), t = iterations + 1, in float32.
    dtype = torch.float32
    lr = torch.as_tensor(_tensor(optimizer.learning_rate)).to(dtype)
    step = (optimizer.iterations.value + 1).to(dtype)
    beta_1_power = torch.pow(torch.tensor(optimizer.beta_1, dtype=dtype, device=step.device), step)
    beta_2_power = torch.pow(torch.tensor(optimizer.beta_2, dtype=dtype, device=step.device), step)
    return lr * torch.sqrt(1 - beta_2_power) / (1 - beta_1_power)


# Built networks -> their layers in execution order, or None where the shortcut does not apply.
_PLANS = weakref.WeakKeyDictionary()


def run_layers(network, inputs, training=None, **kwargs):
    """Run a built functional `network` by calling each layer's ``call`` in order, or None.

    Torch runs eagerly, so Keras' per-layer ``__call__`` bookkeeping (argument and
    dtype handling, name scopes, call context) runs on every step and costs more than
    a small layer's arithmetic: a cProfile of Fence GAN's step put two thirds of it
    there. A layer's ``call`` is the same arithmetic on the same variables. None (use
    Keras' path) unless ``training`` is given, the inputs are float32 torch tensors
    and every layer is a built float32 layer without an activity regularizer
    (no masks reach it: plain tensors carry none). A pointwise ``Conv1D`` (kernel 1,
    stride 1: DHAG's tabular perturbators) runs as the matrix product it is, without
    torch's convolution and Keras' layout transposes around it.
    """
    if kwargs or not isinstance(training, bool):
        return None
    flat = list(inputs) if isinstance(inputs, (list, tuple)) else [inputs]
    if len(flat) != len(network.inputs) or not all(
        isinstance(t, torch.Tensor) and t.dtype == torch.float32 for t in flat
    ):
        return None
    if network not in _PLANS:
        _PLANS[network] = _plan(network)
    plan = _PLANS[network]
    if plan is None:
        return None
    tensors = {id(symbol): value for symbol, value in zip(network.inputs, flat, strict=True)}
    for call, node, takes_training in plan:
        args, call_kwargs = node.arguments.fill_in(tensors)
        if takes_training:
            call_kwargs["training"] = training
        outputs = call(*args, **call_kwargs)
        for symbol, value in zip(
            node.outputs, outputs if isinstance(outputs, (list, tuple)) else [outputs], strict=True
        ):
            tensors[id(symbol)] = value
    outputs = [tensors[id(symbol)] for symbol in network.outputs]
    return outputs[0] if len(outputs) == 1 else outputs


def _plan(network):
    if not network.built or not hasattr(network, "_nodes_by_depth"):
        return None
    plan = []
    for depth in sorted(network._nodes_by_depth, reverse=True):
        for node in network._nodes_by_depth[depth]:
            if node.is_input:
                continue
            layer = node.operation
            plain = (
                isinstance(layer, keras.Layer)
                and not isinstance(layer, keras.Model)
                and layer.built
                and layer.dtype_policy.name == "float32"
                and getattr(layer, "activity_regularizer", None) is None
            )
            if not plain:
                return None
            call = layer.call
            if _is_pointwise_conv(layer):
                call = functools.partial(_pointwise_conv, layer)
            elif _is_plain_dense(layer):
                call = functools.partial(_dense, layer)
            plan.append((call, node, "training" in inspect.signature(layer.call).parameters))
    return plan


def _is_pointwise_conv(layer) -> bool:
    return (
        isinstance(layer, keras.layers.Conv1D)
        and tuple(layer.kernel_size) == (1,)
        and tuple(layer.strides) == (1,)
        and layer.groups == 1
        and layer.data_format == "channels_last"
    )


def _is_plain_dense(layer) -> bool:
    return (
        type(layer) is keras.layers.Dense
        and layer.quantization_mode is None
        and not layer.lora_enabled
        and layer.activation in _TORCH_ACTIVATIONS
    )


def _dense(layer, inputs, training=None):
    # Dense.call's arithmetic (matmul, bias, activation) on the same torch kernels, without the
    # dtype resolution that keras.ops.matmul runs on every call (about 35 us of its 60 here).
    outputs = torch.matmul(inputs, _tensor(layer.kernel))
    if layer.bias is not None:
        outputs = torch.add(outputs, _tensor(layer.bias))
    activation = _TORCH_ACTIVATIONS[layer.activation]
    return outputs if activation is None else activation(outputs)


#: Keras activations whose torch backend function is one torch call (Dense's ``activation``).
_TORCH_ACTIVATIONS = {
    keras.activations.linear: None,
    keras.activations.relu: torch.relu,  # with its defaults (Dense passes none), ``torch.relu``
}


def _tensor(value):
    return value.value if isinstance(value, keras.Variable) else value


def _pointwise_conv(layer, inputs):
    # (batch, steps, channels) @ (channels, filters): Conv1D.call's arithmetic for a kernel of size 1.
    outputs = torch.matmul(inputs, _tensor(layer.kernel)[0])
    if layer.use_bias:
        outputs = outputs + _tensor(layer.bias)
    return layer.activation(outputs) if layer.activation is not None else outputs


def training_data(model, x, y, kwargs):
    """``(x, y)`` unchanged: Keras' own array iterator feeds the step."""
    return x, y

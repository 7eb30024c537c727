"""PyTorch: eager autograd, gradients zeroed before every backward pass."""

import torch

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


def replica_seed(seed):
    """`seed` unchanged: one process draws all the noise."""
    return seed


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
        optimizer.apply(grads, variables)
    return loss.detach()

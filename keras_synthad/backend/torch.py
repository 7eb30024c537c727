"""PyTorch: eager autograd, gradients zeroed before every backward pass."""

import torch


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

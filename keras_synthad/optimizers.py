"""One `keras.optimizers.MultiOptimizer` carrying every role's optimizer state.

Each role (generator, discriminator, ...) gets its own inner optimizer, named after
the role, and owns the variables created under ``keras.name_scope(role)``. Keeping
them in one optimizer object means the JAX trainer jits, and `.keras` files and
`BackupAndRestore` checkpoints store, every role's state together.
"""

from __future__ import annotations

import keras


def role_pattern(role: str) -> str:
    """Regex matching the paths of variables created under ``name_scope(role)``."""
    return f"(.*/)?{role}/.*"


def multi_role_optimizer(optimizers: dict[str, keras.optimizers.Optimizer]) -> keras.optimizers.MultiOptimizer:
    """Combine ``{role: optimizer}`` into one MultiOptimizer; inner optimizers are renamed to their role."""
    roles = list(optimizers)
    for role in roles:
        optimizers[role].name = role
    *mapped, last = roles
    optimizer_map = keras.optimizers.OptimizerMap(
        default_optimizer=optimizers[last],
        optimizer_map={role_pattern(role): optimizers[role] for role in mapped},
    )
    return keras.optimizers.MultiOptimizer(optimizer_map, name="multi_role")


def inner_optimizer(multi: keras.optimizers.MultiOptimizer, role: str) -> keras.optimizers.Optimizer:
    """The inner optimizer of `role`, found by name (`MultiOptimizer.optimizers` is not in constructor order)."""
    for optimizer in multi.optimizers:
        if optimizer.name == role:
            return optimizer
    raise ValueError(
        f"The model's optimizer has no inner optimizer for role {role!r}; "
        f"found {[o.name for o in multi.optimizers]}. Compile with optimizer='auto' "
        "or a dict {role: optimizer}."
    )

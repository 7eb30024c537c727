"""Moving averages of weights with Keras assignments: the backends' shared path."""


def assign_averages(averages, variables, momentum) -> None:
    """``average = momentum * average + (1 - momentum) * variable`` for each pair, as Keras
    assignments: traced once into the compiled step on JAX and TensorFlow, and torch's path
    inside a stateless scope."""
    for average, variable in zip(averages, variables, strict=True):
        average.assign(momentum * average + (1.0 - momentum) * variable)

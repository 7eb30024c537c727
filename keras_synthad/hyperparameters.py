"""Hyperparameters declared once per class, as scikit-learn's ``_parameter_constraints``.

A method lists ``parameter_constraints = {"alpha": Interval(float, 0, 1, closed="neither"), ...}``;
`AnomalyDetector.set_hyperparameters` converts and checks every value against it (one
Keras-style `ValueError` naming the argument and what it expects) and keeps the values,
and `AnomalyDetector.get_config` writes each one under its constructor argument's name.
"""

from __future__ import annotations

from keras_synthad.validation import invalid_argument


class Constraint:
    """What an argument accepts: `convert` returns the stored value or raises `ValueError`."""

    expected = "a valid value"

    def convert(self, value):
        return value


class Interval(Constraint):
    """A number of ``kind`` (int or float) between ``low`` and ``high`` (None: unbounded)."""

    def __init__(self, kind, low=None, high=None, closed="both"):
        self.kind, self.low, self.high, self.closed = kind, low, high, closed
        noun = "an integer" if kind is int else "a number"
        left = "[" if closed in ("both", "left") else "("
        right = "]" if closed in ("both", "right") else ")"
        if low is not None and high is not None:
            self.expected = f"{noun} in {left}{low}, {high}{right}"
        elif low is not None:
            self.expected = f"{noun} {'>=' if left == '[' else '>'} {low}"
        elif high is not None:
            self.expected = f"{noun} {'<=' if right == ']' else '<'} {high}"
        else:
            self.expected = noun

    def convert(self, value):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value:
            raise ValueError
        if self.kind is int and value != int(value):
            raise ValueError
        value = self.kind(value)
        closed_left, closed_right = self.closed in ("both", "left"), self.closed in ("both", "right")
        if self.low is not None and (value < self.low or (value == self.low and not closed_left)):
            raise ValueError
        if self.high is not None and (value > self.high or (value == self.high and not closed_right)):
            raise ValueError
        return value


class Options(Constraint):
    """One of a fixed set of values."""

    def __init__(self, *values):
        self.values = values
        self.expected = f"one of {values}"

    def convert(self, value):
        if not isinstance(value, str) or value not in self.values:
            raise ValueError
        return value


class Units(Constraint):
    """Layer widths: a non-empty sequence of positive integers, stored as a tuple."""

    expected = "a non-empty sequence of positive integers"

    def convert(self, value):
        if isinstance(value, (str, bytes)) or not hasattr(value, "__iter__"):
            raise ValueError
        units = tuple(Interval(int, 1).convert(u) for u in value)
        if not units:
            raise ValueError
        return units


class ActivationName(Constraint):
    """The name of a Keras activation function."""

    expected = "the name of a Keras activation, e.g. 'sigmoid'"

    def convert(self, value):
        import keras

        if not isinstance(value, str):
            raise ValueError
        keras.activations.get(value)
        return value


class OrNone(Constraint):
    """``constraint`` or None."""

    def __init__(self, constraint):
        self.constraint = constraint
        self.expected = f"{constraint.expected}, or None"

    def convert(self, value):
        return None if value is None else self.constraint.convert(value)


def checked(constraints: dict, values: dict) -> dict:
    """``values`` converted by their constraints; the first bad one raises `invalid_argument`."""
    out = {}
    for name, value in values.items():
        constraint = constraints[name]
        try:
            out[name] = constraint.convert(value)
        except (TypeError, ValueError):
            raise invalid_argument(name, value, constraint.expected) from None
    return out


def to_config(value):
    """A hyperparameter as JSON: tuples as lists."""
    return list(value) if isinstance(value, tuple) else value


#: `AnomalyDetector.build_weight_averages`' momentum: 0 or None (off), or a value in (0, 1).
WEIGHT_AVERAGING = OrNone(Interval(float, 0, 1, closed="left"))

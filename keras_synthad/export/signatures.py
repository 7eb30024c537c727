"""The serving graph: its inputs (numeric, or raw features through tf.Transform) and its two signatures.

``serving_default`` takes named features (one float input per feature, or one
``features`` input of shape ``(batch, *input_shape)``) and returns
``{"score": float32, "is_anomaly": int32, "out_of_range": int32}`` with the calibrated
threshold and range guard inside the graph (``is_anomaly`` is 1 above the threshold or
outside the range, as `AnomalyDetector.detect`); ``serve_tf_examples`` takes serialized ``tf.Example`` protos (``examples``), as
TFX Trainer exports do. TensorFlow is imported inside the functions only.
"""

from __future__ import annotations

import re
from pathlib import Path

import keras
import numpy as np

from keras_synthad.export.client import FEATURES_INPUT, SIGNATURE, feature_dict
from keras_synthad.validation import invalid_argument

SERVING_SIGNATURE = SIGNATURE
EXAMPLES_SIGNATURE = "serve_tf_examples"
EXAMPLES_INPUT = "examples"
NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")  # valid signature input keys and tf.Example feature names


def check_feature_names(feature_names, feature_shape) -> list[str] | None:
    if feature_names is None:
        return None
    names = [str(n) for n in feature_names]
    if len(feature_shape) != 1 or len(names) != feature_shape[0]:
        raise invalid_argument(
            "feature_names", feature_names, f"one name per column of a tabular model with input shape {feature_shape}"
        )
    bad = [n for n in names if not NAME.match(n)]
    if bad:
        raise invalid_argument(
            "feature_names", bad, "names made of letters, digits and underscores, not starting with a digit"
        )
    if len(set(names)) != len(names):
        raise invalid_argument("feature_names", feature_names, "distinct names")
    return names


class NumericInputs:
    """The model's own numeric input: one float per named feature, or one ``features`` tensor."""

    def __init__(self, feature_shape, feature_names=None):
        self.feature_shape = tuple(feature_shape)
        self.names = feature_names

    @property
    def keys(self) -> list[str]:
        return self.names or [FEATURES_INPUT]

    def signature(self):
        import tensorflow as tf

        if self.names:
            return [tf.TensorSpec([None], tf.float32, name=n) for n in self.names]
        return [tf.TensorSpec([None, *self.feature_shape], tf.float32, name=FEATURES_INPUT)]

    def example_spec(self) -> dict:
        import tensorflow as tf

        if self.names:
            return {n: tf.io.FixedLenFeature([], tf.float32) for n in self.names}
        return {FEATURES_INPUT: tf.io.FixedLenFeature(list(self.feature_shape), tf.float32)}

    def to_model(self, tensors):
        import tensorflow as tf

        return tf.stack(tensors, axis=1) if self.names else tensors[0]

    def columns(self, rows) -> dict[str, np.ndarray]:
        return feature_dict(rows, self.names)

    def track(self, archive):
        pass


class TransformedInputs:
    """Raw features through a tf.Transform ``transform_fn``, concatenated into the model's input."""

    def __init__(self, transform_dir, feature_shape, transformed_features=None):
        import tensorflow as tf
        import tensorflow_transform as tft

        output = tft.TFTransformOutput(str(transform_dir))
        self.raw_spec = output.raw_feature_spec()
        transformed_spec = output.transformed_feature_spec()
        self.order = transformed_features or sorted(transformed_spec)
        unknown = [n for n in self.order if n not in transformed_spec]
        if unknown:
            raise invalid_argument("transformed_features", unknown, f"names among {sorted(transformed_spec)}")
        for name, spec in self.raw_spec.items():
            if not isinstance(spec, tf.io.FixedLenFeature) or spec.shape not in ([], ()) or not NAME.match(name):
                raise ValueError(f"Raw feature {name!r} ({spec}) is not a scalar column: it cannot be served by name.")
        width = 0
        for name in self.order:
            spec = transformed_spec[name]
            if not isinstance(spec, tf.io.FixedLenFeature):
                raise ValueError(
                    f"Transformed feature {name!r} is not fixed-length ({spec}): it cannot feed the model."
                )
            width += int(np.prod(spec.shape or [1]))
        if (width,) != tuple(feature_shape):
            raise ValueError(
                f"The transformed features {self.order} have {width} values per row; the model takes {feature_shape}."
            )
        self.keys = sorted(self.raw_spec)
        self.layer = output.transform_features_layer()

    def signature(self):
        import tensorflow as tf

        return [tf.TensorSpec([None], self.raw_spec[k].dtype, name=k) for k in self.keys]

    def example_spec(self) -> dict:
        return dict(self.raw_spec)

    def to_model(self, tensors):
        import tensorflow as tf

        return model_input(self.layer(dict(zip(self.keys, tensors, strict=True))), self.order, tf.shape(tensors[0])[0])

    def columns(self, rows: dict) -> dict[str, np.ndarray]:
        missing = [k for k in self.keys if k not in rows]
        if missing:
            raise ValueError(f"`warmup_rows` lacks the raw columns {missing}")
        return {k: np.asarray(rows[k]).astype(self.raw_spec[k].dtype.as_numpy_dtype) for k in self.keys}

    def track(self, archive):
        archive.track(self.layer)


def model_input(transformed: dict, order: list[str], n):
    """The model's input matrix: the transformed features in `order`, each flattened to (n, -1), concatenated."""
    import tensorflow as tf

    return tf.concat([tf.reshape(tf.cast(transformed[k], tf.float32), [n, -1]) for k in order], axis=1)


def inputs_for(model, names, transform_dir):
    if transform_dir is None:
        return NumericInputs(model.feature_shape, names)
    return TransformedInputs(transform_dir, model.feature_shape, names)


def write_saved_model(model, path: Path, inputs) -> None:
    import tensorflow as tf

    def serve(*tensors):
        x = inputs.to_model(list(tensors))
        scores = tf.reshape(tf.cast(model(x, training=False), tf.float32), [-1])
        threshold = tf.cast(model.threshold, tf.float32)
        low, high = tf.cast(model.range_low, tf.float32), tf.cast(model.range_high, tf.float32)
        outside = tf.reduce_any(tf.reshape((x < low) | (x > high), [tf.shape(x)[0], -1]), axis=1)
        return {
            "score": scores,
            "is_anomaly": tf.cast((scores > threshold) | outside, tf.int32),
            "out_of_range": tf.cast(outside, tf.int32),
        }

    example_spec = inputs.example_spec()

    def serve_examples(examples):
        parsed = tf.io.parse_example(examples, example_spec)
        return serve(*[parsed[k] for k in inputs.keys])

    archive = keras.export.ExportArchive()
    archive.track(model)
    inputs.track(archive)
    archive.add_endpoint(SERVING_SIGNATURE, serve, input_signature=inputs.signature())
    archive.add_endpoint(
        EXAMPLES_SIGNATURE, serve_examples, input_signature=[tf.TensorSpec([None], tf.string, name=EXAMPLES_INPUT)]
    )
    archive.write_out(str(path), verbose=False)

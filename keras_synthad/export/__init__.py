"""Export a trained detector as a versioned TensorFlow SavedModel for TF Serving.

``export_saved_model(model, base_dir)`` writes ``<base_dir>/<version>/`` (the next
integer) with two signatures:

- ``serving_default``: named features in (one float input per feature when
  ``feature_names`` are given, else one input ``features`` of shape
  ``(batch, *input_shape)``), ``{"score": float32, "is_anomaly": int32}`` out, the
  calibrated threshold inside the graph;
- ``serve_tf_examples``: serialized ``tf.Example`` protos in (input ``examples``),
  the same outputs, as TFX Trainer exports have.

and ``assets.extra/tf_serving_warmup_requests``: ``PredictionLog`` records built
from the rows the model kept at calibration (or `warmup_rows`), which TF Serving
replays before it marks the version available.

With ``transform_dir`` (a tf.Transform output: ``transform_fn/``,
``transformed_metadata/`` and the raw schema in ``metadata/``), both signatures take
the *raw* features instead (strings for categorical columns, numbers for numeric
ones), apply the same ``transform_fn`` the model was trained behind, and feed the
transformed features, concatenated in ``transformed_features`` order, to the model.

A version is written into a hidden staging directory next to the versions and
renamed into place only once complete, so a crash never leaves a partial version
(TF Serving only loads integer-named directories) and an existing version is
never overwritten. Any backend can export: the `.keras` file is backend-neutral,
and the SavedModel is always written under the TensorFlow backend (in a
subprocess when the calling process runs JAX or torch). This module imports
TensorFlow only inside the TensorFlow-side functions.
"""

from __future__ import annotations

import errno
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import keras
import numpy as np

from keras_synthad.export.client import FEATURES_INPUT, SIGNATURE, feature_dict
from keras_synthad.validation import check_features, invalid_argument

SERVING_SIGNATURE = SIGNATURE
EXAMPLES_SIGNATURE = "serve_tf_examples"
WARMUP_FILE = Path("assets.extra") / "tf_serving_warmup_requests"
EXAMPLES_INPUT = "examples"
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")  # valid signature input keys and tf.Example feature names
_STAGING_PREFIX = ".staging-"
_VERSION = re.compile(r"[1-9][0-9]*")  # the directory names TF Serving loads as versions
MAX_WARMUP_ROWS = 8  # one request per row: TF Serving refuses warmup files over 1000 records


class NotExportableError(ValueError):
    """The model cannot be turned into a serving graph (uncalibrated, or a numpy-only detector)."""


# --- versions --------------------------------------------------------------------------


def versions(base_dir) -> list[int]:
    """Integer version names present in `base_dir` (complete or not), ascending."""
    base = Path(base_dir)
    if not base.is_dir():
        return []
    return sorted(int(p.name) for p in base.iterdir() if _VERSION.fullmatch(p.name))


def is_complete_version(path) -> bool:
    """True when `path` holds a loadable SavedModel (``saved_model.pb`` and its variables index)."""
    path = Path(path)
    return (path / "saved_model.pb").is_file() and (path / "variables" / "variables.index").is_file()


def _fsync(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _sync_tree(path: Path) -> None:
    """fsync every file and directory under `path`, so a renamed version survives a power loss whole."""
    for entry in [*sorted(path.rglob("*"), reverse=True), path]:
        _fsync(entry)


def _publish(staging: Path, base: Path) -> int:
    """Rename the finished, synced `staging` directory to the next free integer version.

    The rename is atomic; a concurrent export that took the same number first makes
    it fail (its directory is not empty) and the next number is tried.
    """
    _sync_tree(staging)
    while True:
        version = (versions(base) or [0])[-1] + 1
        try:
            os.rename(staging, base / str(version))
        except OSError as err:
            if err.errno in (errno.EEXIST, errno.ENOTEMPTY):
                continue
            raise
        _fsync(base)
        return version


# --- checks ----------------------------------------------------------------------------


def check_exportable(model) -> None:
    """Raise `NotExportableError` unless `model` can be exported."""
    from keras_synthad.detector import AnomalyDetector
    from keras_synthad.downstream import EstimatorScorer

    if not isinstance(model, AnomalyDetector):
        raise NotExportableError(f"Expected a keras_synthad detector, received {type(model).__name__}.")
    if not model.is_calibrated:
        raise NotExportableError(
            f"{type(model).__name__} has no threshold: call calibrate(x_normal, contamination=...) before "
            "exporting, so that the served is_anomaly output has a threshold."
        )
    for layer in model._flatten_layers(include_self=False):
        if isinstance(layer, EstimatorScorer):
            raise NotExportableError(
                f"The downstream detector {type(layer.estimator).__name__} scores in numpy, not in a graph, "
                "so this model cannot be served. Export a DOPING with the default IsolationForest or a "
                "keras_synthad detector."
            )


def check_feature_names(feature_names, feature_shape) -> list[str] | None:
    if feature_names is None:
        return None
    names = [str(n) for n in feature_names]
    if len(feature_shape) != 1 or len(names) != feature_shape[0]:
        raise invalid_argument(
            "feature_names", feature_names, f"one name per column of a tabular model with input shape {feature_shape}"
        )
    bad = [n for n in names if not _NAME.match(n)]
    if bad:
        raise invalid_argument(
            "feature_names", bad, "names made of letters, digits and underscores, not starting with a digit"
        )
    if len(set(names)) != len(names):
        raise invalid_argument("feature_names", feature_names, "distinct names")
    return names


def _spread(n: int) -> np.ndarray:
    """At most MAX_WARMUP_ROWS evenly spaced row indices out of `n`."""
    return np.unique(np.linspace(0, n - 1, min(n, MAX_WARMUP_ROWS)).round().astype(int))


def _plain(values) -> np.ndarray:
    """A column as a numpy array that `np.savez` stores without pickling (text as str)."""
    array = np.asarray(values)
    return array.astype(str) if array.dtype == object else array


# --- entry point -----------------------------------------------------------------------


def export_saved_model(
    model,
    base_dir,
    feature_names=None,
    warmup_rows=None,
    model_name: str = "synthad",
    transform_dir=None,
    transformed_features=None,
) -> int:
    """Export `model` as ``<base_dir>/<next integer>/`` and return that version.

    Args:
        model: a calibrated keras_synthad detector (any backend).
        base_dir: the TF Serving model base path; created if missing.
        feature_names: for tabular models, one name per column: ``serving_default``
            then takes one float input per feature (``{"instances": [{"name": value,
            ...}]}`` over REST). ``None``: a single input ``features``.
        warmup_rows: rows for the warmup requests; default: the rows the model kept
            when it was calibrated. With `transform_dir`: raw rows (a pandas
            DataFrame or a dict of columns), required.
        model_name: the model name written into the warmup requests' ``model_spec``.
        transform_dir: a tf.Transform output directory the model's inputs came from.
        transformed_features: the transformed feature names whose values, concatenated
            in this order, are the model's input (default: sorted names).
    """
    check_exportable(model)
    base = Path(base_dir)
    if transform_dir is not None:
        if feature_names is not None:
            raise invalid_argument("feature_names", feature_names, "None with `transform_dir` (raw names come from it)")
        if warmup_rows is None:
            raise invalid_argument(
                "warmup_rows", None, "raw rows (a DataFrame or dict of columns) with `transform_dir`"
            )
        warmup_rows = {str(k): _plain(v)[_spread(len(v))] for k, v in dict(warmup_rows).items()}
        names = None if transformed_features is None else [str(n) for n in transformed_features]
    else:
        names = check_feature_names(feature_names, model.feature_shape)
        if warmup_rows is None:
            warmup_rows = keras.ops.convert_to_numpy(model.calibration_rows)
            if not np.any(warmup_rows):
                raise NotExportableError(
                    "The model kept no calibration rows (it was calibrated on a dataset, not an array): pass "
                    "warmup_rows=<a few training rows> for TF Serving's warmup requests."
                )
        warmup_rows = check_features(warmup_rows, model.feature_shape, name="warmup_rows")
        warmup_rows = warmup_rows[_spread(len(warmup_rows))]
    base.mkdir(parents=True, exist_ok=True)
    if keras.backend.backend() == "tensorflow":
        return _export_here(model, base, _inputs(model, names, transform_dir), warmup_rows, model_name)
    with tempfile.TemporaryDirectory() as tmp:
        model_path = Path(tmp) / "model.keras"
        model.save(model_path)
        warmup_path = Path(tmp) / "warmup.npz"
        np.savez(warmup_path, **(warmup_rows if isinstance(warmup_rows, dict) else {"rows": warmup_rows}))
        return export_in_subprocess(model_path, base, names, warmup_path, model_name, transform_dir)


def export_in_subprocess(model_path, base, names, warmup_path, model_name, transform_dir=None) -> int:
    """Run ``synthad export`` under the TensorFlow backend; return the version it wrote.

    `names` are the feature names, or with `transform_dir` the transformed features' order.
    """
    command = [sys.executable, "-m", "keras_synthad.cli", "--backend", "tensorflow", "export", str(model_path)]
    command += ["--base", str(base), "--model-name", model_name, "--warmup-rows", str(warmup_path)]
    if transform_dir is not None:
        command += ["--transform-dir", str(transform_dir)]
    if names:
        command += ["--transformed-features" if transform_dir is not None else "--feature-names", json.dumps(names)]
    env = {**os.environ, "KERAS_BACKEND": "tensorflow", "TF_CPP_MIN_LOG_LEVEL": "2"}
    done = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    if done.returncode != 0:
        last = done.stderr.strip().splitlines()[-1] if done.stderr.strip() else ""
        kind, _, message = last.partition(": ")
        if kind.rsplit(".", 1)[-1] in ("ValueError", "NotExportableError"):  # the same error as in-process
            raise ValueError(message)
        raise RuntimeError(f"The TensorFlow export subprocess failed:\n{done.stderr.strip()[-4000:]}")
    return int(done.stdout.strip().splitlines()[-1])


def _staging(base: Path) -> Path:
    """A hidden directory next to the versions, with the permissions a plain mkdir would give."""
    staging = Path(tempfile.mkdtemp(prefix=_STAGING_PREFIX, dir=base))
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(staging, 0o777 & ~umask)  # mkdtemp's 0700 would hide the version from a TF Serving user
    return staging


def _export_here(model, base: Path, inputs, warmup_rows, model_name) -> int:
    staging = _staging(base)
    try:
        _write_saved_model(model, staging, inputs)
        _write_warmup(staging / WARMUP_FILE, inputs, warmup_rows, model_name)
        return _publish(staging, base)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def publish_copy(saved_model_dir, base_dir) -> int:
    """Copy a complete SavedModel directory into `base_dir` as the next integer version; return it."""
    source = Path(saved_model_dir)
    if not is_complete_version(source):
        raise ValueError(f"{source} is not a complete SavedModel (saved_model.pb and variables/ expected).")
    base = Path(base_dir)
    base.mkdir(parents=True, exist_ok=True)
    staging = _staging(base)
    try:
        shutil.copytree(source, staging, dirs_exist_ok=True)
        return _publish(staging, base)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


# --- the TensorFlow side ---------------------------------------------------------------------


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
            if not isinstance(spec, tf.io.FixedLenFeature) or spec.shape not in ([], ()) or not _NAME.match(name):
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

        transformed = self.layer(dict(zip(self.keys, tensors, strict=True)))
        n = tf.shape(tensors[0])[0]
        return tf.concat([tf.reshape(tf.cast(transformed[k], tf.float32), [n, -1]) for k in self.order], axis=1)

    def columns(self, rows: dict) -> dict[str, np.ndarray]:
        missing = [k for k in self.keys if k not in rows]
        if missing:
            raise ValueError(f"`warmup_rows` lacks the raw columns {missing}")
        return {k: np.asarray(rows[k]).astype(self.raw_spec[k].dtype.as_numpy_dtype) for k in self.keys}

    def track(self, archive):
        archive.track(self.layer)


def _inputs(model, names, transform_dir):
    if transform_dir is None:
        return NumericInputs(model.feature_shape, names)
    return TransformedInputs(transform_dir, model.feature_shape, names)


def _write_saved_model(model, path: Path, inputs) -> None:
    import tensorflow as tf

    def serve(*tensors):
        scores = tf.reshape(tf.cast(model(inputs.to_model(list(tensors)), training=False), tf.float32), [-1])
        threshold = tf.cast(model.threshold, tf.float32)
        return {"score": scores, "is_anomaly": tf.cast(scores > threshold, tf.int32)}

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


def _feature(values: np.ndarray):
    import tensorflow as tf

    values = np.ravel(values)
    if values.dtype.kind in "SUO":
        return tf.train.Feature(bytes_list=tf.train.BytesList(value=[str(v).encode() for v in values]))
    if values.dtype.kind in "iu":
        return tf.train.Feature(int64_list=tf.train.Int64List(value=values.tolist()))
    return tf.train.Feature(float_list=tf.train.FloatList(value=values.tolist()))


def tf_examples(columns: dict[str, np.ndarray]) -> list[bytes]:
    """Serialized ``tf.Example`` protos, one per row of `columns` (``{name: values}``)."""
    import tensorflow as tf

    n = len(next(iter(columns.values())))
    return [
        tf.train.Example(
            features=tf.train.Features(feature={k: _feature(v[i]) for k, v in columns.items()})
        ).SerializeToString()
        for i in range(n)
    ]


def _write_warmup(path: Path, inputs, rows, model_name: str) -> None:
    """One request per row on ``serving_default``, one with every row, one on ``serve_tf_examples``."""
    import tensorflow as tf
    from tensorflow_serving.apis import model_pb2, predict_pb2, prediction_log_pb2

    def request(signature, columns):
        spec = model_pb2.ModelSpec(name=model_name, signature_name=signature)
        message = predict_pb2.PredictRequest(model_spec=spec)
        for key, value in columns.items():
            message.inputs[key].CopyFrom(tf.make_tensor_proto(value))
        return prediction_log_pb2.PredictionLog(predict_log=prediction_log_pb2.PredictLog(request=message))

    columns = inputs.columns(rows)
    n = len(next(iter(columns.values())))
    logs = [request(SERVING_SIGNATURE, {k: v[i : i + 1] for k, v in columns.items()}) for i in range(n)]
    logs.append(request(SERVING_SIGNATURE, columns))
    logs.append(request(EXAMPLES_SIGNATURE, {EXAMPLES_INPUT: np.array(tf_examples(columns), dtype=object)}))
    path.parent.mkdir(parents=True, exist_ok=True)
    with tf.io.TFRecordWriter(str(path)) as writer:
        for log in logs:
            writer.write(log.SerializeToString())


def read_warmup(path) -> list:
    """The ``PredictionLog`` records of a warmup file."""
    import tensorflow as tf
    from tensorflow_serving.apis import prediction_log_pb2

    logs = []
    for record in tf.data.TFRecordDataset(str(path)):
        log = prediction_log_pb2.PredictionLog()
        log.ParseFromString(record.numpy())
        logs.append(log)
    return logs

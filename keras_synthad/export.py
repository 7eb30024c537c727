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

A version is written into a hidden staging directory next to the versions and
renamed into place only once complete, so a crash never leaves a partial version
(TF Serving only loads integer-named directories) and an existing version is
never overwritten. Any backend can export: the `.keras` file is backend-neutral,
and the SavedModel is always written under the TensorFlow backend (in a
subprocess when the calling process runs JAX or torch). This module imports
TensorFlow only inside the TensorFlow-side functions.
"""

from __future__ import annotations

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

from keras_synthad.validation import check_features, invalid_argument

SERVING_SIGNATURE = "serving_default"
EXAMPLES_SIGNATURE = "serve_tf_examples"
WARMUP_FILE = Path("assets.extra") / "tf_serving_warmup_requests"
FEATURES_INPUT = "features"
EXAMPLES_INPUT = "examples"
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")  # valid signature input keys and tf.Example feature names
_STAGING_PREFIX = ".staging-"


class NotExportableError(ValueError):
    """The model cannot be turned into a serving graph (uncalibrated, or a numpy-only detector)."""


# --- versions --------------------------------------------------------------------------


def versions(base_dir) -> list[int]:
    """Integer version names present in `base_dir` (complete or not), ascending."""
    base = Path(base_dir)
    if not base.is_dir():
        return []
    return sorted(int(p.name) for p in base.iterdir() if p.name.isdigit())


def is_complete_version(path) -> bool:
    """True when `path` holds a loadable SavedModel (``saved_model.pb`` and its variables index)."""
    path = Path(path)
    return (path / "saved_model.pb").is_file() and (path / "variables" / "variables.index").is_file()


def _publish(staging: Path, base: Path) -> int:
    """Rename the finished `staging` directory to the next free integer version."""
    while True:
        version = (versions(base) or [0])[-1] + 1
        target = base / str(version)
        try:
            os.mkdir(target)  # claims the name; fails if another export took it first
        except FileExistsError:
            continue
        os.rename(staging, target)  # replaces the empty directory just created, atomically
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
    bad = [n for n in names if not _NAME.match(n) or n in (EXAMPLES_INPUT,)]
    if bad:
        raise invalid_argument(
            "feature_names", bad, "names made of letters, digits and underscores, not starting with a digit"
        )
    if len(set(names)) != len(names):
        raise invalid_argument("feature_names", feature_names, "distinct names")
    return names


# --- entry point -----------------------------------------------------------------------


def export_saved_model(model, base_dir, feature_names=None, warmup_rows=None, model_name: str = "synthad") -> int:
    """Export `model` as ``<base_dir>/<next integer>/`` and return that version.

    Args:
        model: a calibrated keras_synthad detector (any backend).
        base_dir: the TF Serving model base path; created if missing.
        feature_names: for tabular models, one name per column: ``serving_default``
            then takes one float input per feature (``{"instances": [{"name": value,
            ...}]}`` over REST). ``None``: a single input ``features``.
        warmup_rows: rows for the warmup requests; default: the rows the model kept
            when it was calibrated.
        model_name: the model name written into the warmup requests' ``model_spec``.
    """
    check_exportable(model)
    names = check_feature_names(feature_names, model.feature_shape)
    if warmup_rows is None:
        warmup_rows = keras.ops.convert_to_numpy(model.calibration_rows)
    warmup_rows = check_features(warmup_rows, model.feature_shape, name="warmup_rows")
    base = Path(base_dir)
    base.mkdir(parents=True, exist_ok=True)
    if keras.backend.backend() == "tensorflow":
        return _export_here(model, base, names, warmup_rows, model_name)
    with tempfile.TemporaryDirectory() as tmp:
        model_path = Path(tmp) / "model.keras"
        model.save(model_path)
        np.save(Path(tmp) / "warmup.npy", warmup_rows)
        return export_in_subprocess(model_path, base, names, Path(tmp) / "warmup.npy", model_name)


def export_in_subprocess(model_path, base, feature_names, warmup_path, model_name) -> int:
    """Run ``synthad export`` under the TensorFlow backend; return the version it wrote."""
    command = [sys.executable, "-m", "keras_synthad.cli", "--backend", "tensorflow", "export", str(model_path)]
    command += ["--base", str(base), "--model-name", model_name, "--warmup-rows", str(warmup_path)]
    if feature_names:
        command += ["--feature-names", json.dumps(feature_names)]
    env = {**os.environ, "KERAS_BACKEND": "tensorflow", "TF_CPP_MIN_LOG_LEVEL": "2"}
    done = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"The TensorFlow export subprocess failed:\n{done.stderr.strip()[-4000:]}")
    return int(done.stdout.strip().splitlines()[-1])


def _export_here(model, base: Path, feature_names, warmup_rows, model_name) -> int:
    staging = Path(tempfile.mkdtemp(prefix=_STAGING_PREFIX, dir=base))
    try:
        _write_saved_model(model, staging, feature_names)
        _write_warmup(staging / WARMUP_FILE, warmup_rows, feature_names, model_name)
        return _publish(staging, base)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


# --- the TensorFlow side ---------------------------------------------------------------------


def _write_saved_model(model, path: Path, feature_names) -> None:
    import tensorflow as tf

    def score(x):
        scores = tf.reshape(tf.cast(model(x, training=False), tf.float32), [-1])
        threshold = tf.cast(model.threshold, tf.float32)
        return {"score": scores, "is_anomaly": tf.cast(scores > threshold, tf.int32)}

    if feature_names:

        def serve(*columns):
            return score(tf.stack(columns, axis=1))

        signature = [tf.TensorSpec([None], tf.float32, name=n) for n in feature_names]
        example_spec = {n: tf.io.FixedLenFeature([], tf.float32) for n in feature_names}
    else:

        def serve(features):
            return score(features)

        signature = [tf.TensorSpec([None, *model.feature_shape], tf.float32, name=FEATURES_INPUT)]
        example_spec = {FEATURES_INPUT: tf.io.FixedLenFeature(list(model.feature_shape), tf.float32)}
    keys = feature_names or [FEATURES_INPUT]

    def serve_examples(examples):
        parsed = tf.io.parse_example(examples, example_spec)
        return serve(*[parsed[k] for k in keys])

    archive = keras.export.ExportArchive()
    archive.track(model)
    archive.add_endpoint(SERVING_SIGNATURE, serve, input_signature=signature)
    archive.add_endpoint(
        EXAMPLES_SIGNATURE, serve_examples, input_signature=[tf.TensorSpec([None], tf.string, name=EXAMPLES_INPUT)]
    )
    archive.write_out(str(path), verbose=False)


def feature_dict(rows: np.ndarray, feature_names) -> dict[str, np.ndarray]:
    """`serving_default`'s inputs for `rows`: one column per name, or ``{"features": rows}``."""
    if feature_names:
        return {n: rows[:, i] for i, n in enumerate(feature_names)}
    return {FEATURES_INPUT: rows}


def tf_examples(rows: np.ndarray, feature_names) -> list[bytes]:
    """Serialized ``tf.Example`` protos of `rows`, in `serve_tf_examples`' format."""
    import tensorflow as tf

    out = []
    for row in rows:
        values = feature_dict(row[None], feature_names)
        features = {
            k: tf.train.Feature(float_list=tf.train.FloatList(value=np.ravel(v).tolist())) for k, v in values.items()
        }
        out.append(tf.train.Example(features=tf.train.Features(feature=features)).SerializeToString())
    return out


def _write_warmup(path: Path, rows: np.ndarray, feature_names, model_name: str) -> None:
    """One request per row on ``serving_default``, one with every row, one on ``serve_tf_examples``."""
    import tensorflow as tf
    from tensorflow_serving.apis import model_pb2, predict_pb2, prediction_log_pb2

    def request(signature, inputs):
        spec = model_pb2.ModelSpec(name=model_name, signature_name=signature)
        message = predict_pb2.PredictRequest(model_spec=spec)
        for key, value in inputs.items():
            message.inputs[key].CopyFrom(tf.make_tensor_proto(value))
        return prediction_log_pb2.PredictionLog(predict_log=prediction_log_pb2.PredictLog(request=message))

    logs = [request(SERVING_SIGNATURE, feature_dict(rows[i : i + 1], feature_names)) for i in range(len(rows))]
    logs.append(request(SERVING_SIGNATURE, feature_dict(rows, feature_names)))
    logs.append(request(EXAMPLES_SIGNATURE, {EXAMPLES_INPUT: np.array(tf_examples(rows, feature_names), dtype=object)}))
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

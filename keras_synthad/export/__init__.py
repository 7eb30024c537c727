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

A version is staged and renamed into place only once complete (`versions.py`), so a
crash never leaves a partial version and an existing version is never overwritten.
The graph and its signatures are built in `signatures.py`, the warmup file in
`warmup.py`. Any backend can export: the `.keras` file is backend-neutral,
and the SavedModel is always written under the TensorFlow backend (in a
subprocess when the calling process runs JAX or torch). This module imports
TensorFlow only inside the TensorFlow-side functions.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import keras
import numpy as np

from keras_synthad.export.client import FEATURES_INPUT, feature_dict
from keras_synthad.export.signatures import (
    EXAMPLES_INPUT,
    EXAMPLES_SIGNATURE,
    SERVING_SIGNATURE,
    check_feature_names,
    inputs_for,
    write_saved_model,
)
from keras_synthad.export.versions import is_complete_version, publish, publish_copy, staging, versions
from keras_synthad.export.warmup import (
    MAX_WARMUP_ROWS,
    WARMUP_FILE,
    plain,
    read_warmup,
    spread,
    tf_examples,
    write_warmup,
)
from keras_synthad.validation import check_features, invalid_argument

__all__ = [
    "EXAMPLES_INPUT",
    "EXAMPLES_SIGNATURE",
    "FEATURES_INPUT",
    "MAX_WARMUP_ROWS",
    "SERVING_SIGNATURE",
    "WARMUP_FILE",
    "NotExportableError",
    "check_exportable",
    "export_in_subprocess",
    "export_saved_model",
    "feature_dict",
    "is_complete_version",
    "publish_copy",
    "read_warmup",
    "tf_examples",
    "versions",
]


class NotExportableError(ValueError):
    """The model cannot be turned into a serving graph (uncalibrated, or a numpy-only detector)."""


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
        warmup_rows = {str(k): plain(v)[spread(len(v))] for k, v in dict(warmup_rows).items()}
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
        warmup_rows = warmup_rows[spread(len(warmup_rows))]
    base.mkdir(parents=True, exist_ok=True)
    if keras.backend.backend() == "tensorflow":
        return _export_here(model, base, inputs_for(model, names, transform_dir), warmup_rows, model_name)
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
        from keras_synthad.cli import ERROR_PREFIX

        prefix = ERROR_PREFIX.format(command="export")  # the CLI's line for a ValueError: the same error in-process
        message = next((line for line in done.stderr.splitlines() if line.startswith(prefix)), None)
        if message is not None:
            raise ValueError(message[len(prefix) :])
        raise RuntimeError(f"The TensorFlow export subprocess failed:\n{done.stderr.strip()[-4000:]}")
    return int(done.stdout.strip().splitlines()[-1])


def _export_here(model, base: Path, inputs, warmup_rows, model_name) -> int:
    folder = staging(base)
    try:
        write_saved_model(model, folder, inputs)
        write_warmup(folder / WARMUP_FILE, inputs, warmup_rows, model_name)
        return publish(folder, base)
    finally:
        shutil.rmtree(folder, ignore_errors=True)

"""Score rows against an exported model: TF Serving over REST or gRPC, or a local SavedModel.

The exported ``serving_default`` signature (see `keras_synthad.export`) takes either
one float input per feature or one input ``features``, and returns ``score`` and
``is_anomaly``. Rows are sent in TF Serving's columnar format (``{"inputs": {...}}``
over REST, one ``TensorProto`` per input over gRPC). Every front end first reads the
signature's inputs (TF Serving's model metadata API over REST and gRPC, the
SavedModel itself locally) and sends just those columns, typed as the model takes them:
an id or a label column in the CSV passes by, as with batch scoring.
"""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np

SIGNATURE = "serving_default"
FEATURES_INPUT = "features"
_HOST_PORT = re.compile(r"(grpc://)?[A-Za-z0-9_.\-\[\]:]+:[0-9]+")


def read_rows(path) -> tuple[np.ndarray, list[str] | None]:
    """Rows to score from a ``.npy`` array or a CSV with a header (its columns become feature names)."""
    path = Path(path)
    if path.suffix == ".npy":
        return np.load(path, allow_pickle=False).astype(np.float32), None
    import pandas as pd

    frame = pd.read_csv(path)
    try:
        rows = frame.to_numpy(dtype=np.float32)
    except ValueError as err:
        raise ValueError(f"{path}: every column must be numeric to score without a transform graph ({err})") from None
    return rows, [str(c) for c in frame.columns]


def read_inputs(path, single_input: bool = False) -> dict[str, np.ndarray]:
    """``serving_default``'s inputs from a file.

    A ``.npy``, or a CSV with `single_input`: one ``features`` input of numeric rows. A
    CSV: one input per column, numbers as float32 and text as strings (the raw columns
    a model exported behind a tf.Transform graph takes).
    """
    if single_input or Path(path).suffix == ".npy":
        return feature_dict(read_rows(path)[0], None)
    import pandas as pd

    frame = pd.read_csv(path, keep_default_na=False)
    columns = {}
    for name in frame.columns:
        values = frame[name]
        numeric = pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)
        columns[str(name)] = values.to_numpy(np.float32) if numeric else values.astype(str).to_numpy()
    return columns


def feature_dict(rows: np.ndarray, feature_names) -> dict[str, np.ndarray]:
    """`serving_default`'s inputs for numeric `rows`: one column per name, or ``{"features": rows}``."""
    if feature_names:
        return {name: rows[:, i] for i, name in enumerate(feature_names)}
    return {FEATURES_INPUT: rows}


def _model_path(model: str, version: int | None) -> str:
    return f"/v1/models/{model}" + (f"/versions/{version}" if version else "")


def _dtype_name(datatype) -> str:
    """A TensorInfo dtype (enum value or its ``"DT_..."`` name) as a tf dtype name: "float32", "string"."""
    import tensorflow as tf
    from tensorflow.core.framework import types_pb2

    return tf.as_dtype(types_pb2.DataType.Value(datatype) if isinstance(datatype, str) else datatype).name


def rest_signature(url: str, model: str, version: int | None = None, timeout: float = 30.0) -> dict[str, str]:
    """``serving_default``'s inputs (name -> dtype name) from TF Serving's REST ``/metadata``."""
    request = urllib.request.Request(url.rstrip("/") + _model_path(model, version) + "/metadata")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            metadata = json.loads(response.read())["metadata"]
    except urllib.error.HTTPError as err:
        raise RuntimeError(f"TF Serving answered {err.code}: {err.read().decode(errors='replace')[:500]}") from None
    inputs = metadata["signature_def"]["signature_def"][SIGNATURE]["inputs"]
    return {name: _dtype_name(info["dtype"]) for name, info in inputs.items()}


def grpc_signature(target: str, model: str, version: int | None = None, timeout: float = 30.0) -> dict[str, str]:
    """``serving_default``'s inputs (name -> dtype name) from ``PredictionService/GetModelMetadata``."""
    import grpc
    from tensorflow_serving.apis import get_model_metadata_pb2, prediction_service_pb2_grpc

    request = get_model_metadata_pb2.GetModelMetadataRequest(metadata_field=["signature_def"])
    request.model_spec.name = model
    if version:
        request.model_spec.version.value = version
    with grpc.insecure_channel(target) as channel:
        response = prediction_service_pb2_grpc.PredictionServiceStub(channel).GetModelMetadata(request, timeout=timeout)
    signatures = get_model_metadata_pb2.SignatureDefMap()
    response.metadata["signature_def"].Unpack(signatures)
    return {name: _dtype_name(info.dtype) for name, info in signatures.signature_def[SIGNATURE].inputs.items()}


def score_rest(url: str, model: str, inputs: dict, version: int | None = None, timeout: float = 30.0) -> dict:
    """POST to TF Serving's ``/v1/models/<model>[/versions/<v>]:predict``; ``{"score", "is_anomaly"}`` arrays."""
    path = _model_path(model, version) + ":predict"
    body = json.dumps({"signature_name": SIGNATURE, "inputs": {k: np.asarray(v).tolist() for k, v in inputs.items()}})
    request = urllib.request.Request(
        url.rstrip("/") + path, data=body.encode(), headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            outputs = json.loads(response.read())["outputs"]
    except urllib.error.HTTPError as err:
        raise RuntimeError(f"TF Serving answered {err.code}: {err.read().decode(errors='replace')[:500]}") from None
    return {
        "score": np.asarray(outputs["score"], np.float32),
        "is_anomaly": np.asarray(outputs["is_anomaly"], np.int32),
    }


def _tensor_proto(array: np.ndarray):
    from tensorflow.core.framework import tensor_pb2, tensor_shape_pb2, types_pb2

    array = np.asarray(array)
    shape = tensor_shape_pb2.TensorShapeProto(dim=[tensor_shape_pb2.TensorShapeProto.Dim(size=s) for s in array.shape])
    if array.dtype.kind in "USO":  # raw text columns
        values = [str(v).encode() for v in array.ravel()]
        return tensor_pb2.TensorProto(dtype=types_pb2.DT_STRING, tensor_shape=shape, string_val=values)
    values = array.astype(np.float32).ravel().tolist()
    return tensor_pb2.TensorProto(dtype=types_pb2.DT_FLOAT, tensor_shape=shape, float_val=values)


def _ndarray(proto, dtype, field: str) -> np.ndarray:
    """A response TensorProto as an array: servers fill either ``tensor_content`` (raw bytes) or the typed field."""
    if proto.tensor_content:
        return np.frombuffer(proto.tensor_content, dtype=np.dtype(dtype).newbyteorder("<")).astype(dtype)
    return np.asarray(getattr(proto, field), dtype)


def score_grpc(target: str, model: str, inputs: dict, version: int | None = None, timeout: float = 30.0) -> dict:
    """Call ``PredictionService/Predict`` at ``host:port``; ``{"score", "is_anomaly"}`` arrays."""
    import grpc
    from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc

    request = predict_pb2.PredictRequest()
    request.model_spec.name = model
    request.model_spec.signature_name = SIGNATURE
    if version:
        request.model_spec.version.value = version
    for key, value in inputs.items():
        request.inputs[key].CopyFrom(_tensor_proto(value))
    with grpc.insecure_channel(target) as channel:
        response = prediction_service_pb2_grpc.PredictionServiceStub(channel).Predict(request, timeout=timeout)
    return {
        "score": _ndarray(response.outputs["score"], np.float32, "float_val"),
        "is_anomaly": _ndarray(response.outputs["is_anomaly"], np.int32, "int_val"),
    }


def latest_version_dir(path, version: int | None = None) -> Path:
    """`path` itself if it holds a SavedModel, else `version` or its newest complete integer version."""
    from keras_synthad.export import is_complete_version, versions

    path = Path(path)
    if not path.is_dir():
        raise FileNotFoundError(f"{path} is not a directory (nor http://..., host:port or grpc://host:port)")
    if (path / "saved_model.pb").is_file():
        return path
    if version is not None:
        if not is_complete_version(path / str(version)):
            raise FileNotFoundError(f"{path / str(version)} holds no complete SavedModel")
        return path / str(version)
    for version in reversed(versions(path)):
        if is_complete_version(path / str(version)):
            return path / str(version)
    raise FileNotFoundError(f"{path} holds no SavedModel and no complete integer version directory")


def signature_inputs(inputs: dict, kinds: dict[str, str]) -> dict[str, np.ndarray]:
    """The columns of `inputs` a signature takes (`kinds`: name -> dtype name), typed as it takes them.

    Columns the signature does not take (an id, a label) are left out, as batch scoring
    passes them through; a missing column or a text cell in a numeric column is an error
    naming the column, the row and the fix.
    """
    if list(kinds) == [FEATURES_INPUT] and FEATURES_INPUT not in inputs:
        raise ValueError(
            "this model takes one `features` input (it was exported without feature names): pass --single-input "
            "with a CSV that holds only the feature columns, in training order"
        )
    missing = [name for name in kinds if name not in inputs]
    if missing:
        raise ValueError(f"the input lacks the model's columns {missing} (it has {sorted(inputs)})")
    out = {}
    for name, kind in kinds.items():
        values = np.asarray(inputs[name])
        if kind == "string":
            out[name] = values.astype(str)
            continue
        if values.dtype.kind in "USO":
            numbers = np.array([_as_float(v) for v in values.ravel()]).reshape(values.shape)
            bad = np.flatnonzero(np.isnan(numbers.reshape(len(values), -1)).any(axis=1))
            if bad.size:
                raise ValueError(
                    f"column {name!r} must hold numbers for this model; row {int(bad[0]) + 1} holds "
                    f"{values[bad[0]]!r} ({bad.size} such rows): clean or drop those rows"
                )
            values = numbers
        out[name] = values.astype(np.float32)
    return out


def _as_float(value) -> float:
    try:
        return float(value) if str(value).strip() else float("nan")
    except ValueError:
        return float("nan")


def score_saved_model(path, inputs: dict, version: int | None = None) -> dict:
    """Run ``serving_default`` of a SavedModel (a version directory or a base directory) in this process."""
    import tensorflow as tf

    function = tf.saved_model.load(str(latest_version_dir(path, version))).signatures[SIGNATURE]
    kinds = {name: spec.dtype.name for name, spec in function.structured_input_signature[1].items()}
    outputs = function(**{k: tf.constant(v) for k, v in signature_inputs(inputs, kinds).items()})
    return {k: outputs[k].numpy() for k in ("score", "is_anomaly")}


def score(url: str | None, model: str, inputs: dict, version: int | None = None) -> dict:
    """``grpc://host:port`` or ``host:port`` → gRPC; ``http(s)://`` → REST; a directory → local SavedModel.

    The model's own columns are taken from `inputs` (TF Serving's metadata API says which).
    """
    if url.startswith(("http://", "https://")):
        return score_rest(url, model, signature_inputs(inputs, rest_signature(url, model, version)), version)
    if _HOST_PORT.fullmatch(url) and not Path(url).exists():
        target = url.removeprefix("grpc://")
        return score_grpc(target, model, signature_inputs(inputs, grpc_signature(target, model, version)), version)
    return score_saved_model(url, inputs, version)

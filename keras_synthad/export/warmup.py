"""TF Serving's warmup file: ``PredictionLog`` records replayed before a version is served.

One request per kept row on ``serving_default``, one with every row, and one on
``serve_tf_examples``; at most ``MAX_WARMUP_ROWS`` rows, because TF Serving refuses
warmup files over 1,000 records.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from keras_synthad.export.signatures import EXAMPLES_INPUT, EXAMPLES_SIGNATURE, SERVING_SIGNATURE

WARMUP_FILE = Path("assets.extra") / "tf_serving_warmup_requests"
MAX_WARMUP_ROWS = 8  # one request per row


def spread(n: int) -> np.ndarray:
    """At most MAX_WARMUP_ROWS evenly spaced row indices out of `n`."""
    return np.unique(np.linspace(0, n - 1, min(n, MAX_WARMUP_ROWS)).round().astype(int))


def plain(values) -> np.ndarray:
    """A column as a numpy array that `np.savez` stores without pickling (text as str)."""
    array = np.asarray(values)
    return array.astype(str) if array.dtype == object else array


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


def write_warmup(path: Path, inputs, rows, model_name: str) -> None:
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

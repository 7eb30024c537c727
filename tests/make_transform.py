"""Writes a small tf.Transform output for the export tests: ``python make_transform.py OUT_DIR``.

The vocabulary -> one-hot of `proto` and scale_to_0_1 of `rate`, analysed on Beam's
FnApiRunner, with the raw schema in ``OUT_DIR/metadata``. It runs as its own process:
with TF 2.16 / tf.Transform 1.16 / Beam 2.60 the interpreter segfaults while shutting
down after a tf.Transform analysis (checked: the same script without Keras does too),
so it ends with ``os._exit(0)`` once everything is written.
"""

import os
import sys
import tempfile

import apache_beam as beam
import numpy as np
import tensorflow as tf
import tensorflow_transform as tft
import tensorflow_transform.beam as tft_beam
from apache_beam.runners.portability.fn_api_runner import FnApiRunner
from tensorflow_transform.tf_metadata import metadata_io, schema_utils


def preprocessing_fn(inputs):
    index = tft.compute_and_apply_vocabulary(inputs["proto"], vocab_filename="proto")
    size = tf.cast(tft.experimental.get_vocabulary_size_by_name("proto"), tf.int32)
    return {"proto_onehot": tf.one_hot(index, size), "rate_scaled": tft.scale_to_0_1(inputs["rate"])}


def main(out: str) -> None:
    spec = {"proto": tf.io.FixedLenFeature([], tf.string), "rate": tf.io.FixedLenFeature([], tf.float32)}
    metadata = tft.DatasetMetadata(schema_utils.schema_from_feature_spec(spec))
    rows = [
        {"proto": p, "rate": float(r)} for p, r in zip(["tcp", "udp", "icmp"] * 40, np.linspace(0, 8, 120), strict=True)
    ]
    with beam.Pipeline(runner=FnApiRunner()) as pipeline, tft_beam.Context(temp_dir=tempfile.mkdtemp()):
        transform_fn = (pipeline | beam.Create(rows), metadata) | tft_beam.AnalyzeDataset(preprocessing_fn)
        _ = transform_fn | tft_beam.WriteTransformFn(out)
    metadata_io.write_metadata(metadata, os.path.join(out, tft.TFTransformOutput.RAW_METADATA_DIR))


if __name__ == "__main__":
    main(sys.argv[1])
    sys.stdout.flush()
    os._exit(0)

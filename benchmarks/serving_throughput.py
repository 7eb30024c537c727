"""Rows/s of an exported SavedModel's ``serving_default`` at batch 1, 64 and 1024.

Each method is trained briefly on the embedded KDD Cup 99 sample (the network
sizes, not the accuracy, set the cost), calibrated, exported with
`keras_synthad.export`, loaded with ``tf.saved_model.load`` and called in a loop
in this process (no TF Serving: its HTTP/gRPC front end adds its own overhead).
The time per call is the median of `--repeats` timed calls after warmup.

Usage: ``KERAS_BACKEND=tensorflow python -m benchmarks.serving_throughput``
(the SavedModel runs on TensorFlow whatever the training backend; on a GPU
machine TensorFlow places it on the GPU).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import keras
import numpy as np

import keras_synthad as ks
from benchmarks.common import RESULTS, environment, write_json
from keras_synthad.data import MinMaxScaler, kdd_features, load_sample
from keras_synthad.export import SERVING_SIGNATURE, export_saved_model, feature_dict

BATCHES = (1, 64, 1024)


def methods(width: int) -> dict:
    """Each method at its paper's network sizes for tabular data."""
    return {
        "fence_gan": lambda: ks.FenceGAN((width,), seed=0),
        "aae": lambda: ks.AdversarialAutoencoder((width,), seed=0),
        "doping": lambda: ks.DOPING((width,), seed=0),
        "da3d": lambda: ks.DA3D((width,), aae_epochs=1, seed=0),
        "dhag": lambda: ks.DHAG((width,), seed=0),
    }


def measure(path: Path, rows: np.ndarray, batch: int, repeats: int) -> float:
    import tensorflow as tf

    signature = tf.saved_model.load(str(path)).signatures[SERVING_SIGNATURE]
    inputs = {k: tf.constant(v) for k, v in feature_dict(np.resize(rows, (batch, rows.shape[1])), None).items()}
    for _ in range(5):
        signature(**inputs)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        signature(**inputs)["score"].numpy()
        times.append(time.perf_counter() - start)
    return batch / statistics.median(times)


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=50)
    parser.add_argument("--methods", default="fence_gan,aae,doping,da3d,dhag")
    parser.add_argument("--output", default=str(RESULTS / "serving_throughput.json"))
    args = parser.parse_args(argv)
    frame = load_sample()
    x, _, _ = kdd_features(frame)
    x = MinMaxScaler(clip=True).fit(x).transform(x).astype("float32")
    rows = []
    for name in args.methods.split(","):
        keras.utils.set_random_seed(0)
        model = methods(x.shape[1])[name]()
        # A few epochs: enough for DOPING's edge set to exist; the cost measured does not depend on them.
        model.fit(x, epochs=10, batch_size=256, verbose=0)
        model.calibrate(x)
        with tempfile.TemporaryDirectory() as base:
            version = export_saved_model(model, base)
            for batch in BATCHES:
                rate = measure(Path(base) / str(version), x, batch, args.repeats)
                rows.append({"method": name, "batch": batch, "rows_per_second": rate})
                print(f"{name} batch {batch}: {rate:,.0f} rows/s", flush=True)
    payload = {"benchmark": "SavedModel serving_default throughput", "environment": environment(), "rows": rows}
    write_json(args.output, payload)
    return payload


if __name__ == "__main__":
    main()

"""Peak resident memory of the pipeline's Trainer as the training split grows.

The embedded main job runs once (the KDD Cup 99 sample through the real ExampleGen and
Transform: 3 categorical columns one-hot, 38 numeric ones scaled, 85 model inputs). The
transformed training split is then enlarged to ``--rows`` rows, rows drawn at random from
the sample's own transformed rows, written as gzipped TFRecord shards of 10^6 rows in the
Transform's layout. The real Trainer process (`keras_synthad.pipelines.trainer.launch`) fits
``--method`` for one epoch on it, calibrates, saves and exports, and reports its own peak
resident set size (``ru_maxrss``).

Usage: ``python -m benchmarks.trainer_memory --rows 1000000 --work /tmp/memory``; results go
to ``benchmarks/results/trainer_memory.json`` (one entry per size and method, kept across runs).
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from pathlib import Path

import numpy as np

from benchmarks.common import RESULTS, environment, write_json

SHARD_ROWS = 1_000_000


def prepare(work: Path) -> dict:
    """The embedded main job run once under `work`; its Trainer's spec (ExampleGen's and Transform's folders)."""
    import dataclasses

    from keras_synthad.cli import default_config
    from keras_synthad.pipelines import load, run_pipeline

    specs = sorted((work / "root" / "Trainer" / "model").glob("*/spec.json"))
    if not specs:
        root = work / "root"
        config = dataclasses.replace(
            load(default_config()), root=root, metadata=root / "metadata.sqlite", serving_base=work / "serving"
        )
        run_pipeline(config, ["--runner=FnApiRunner"])
        specs = sorted((root / "Trainer" / "model").glob("*/spec.json"))
    return json.loads(specs[-1].read_text())


def enlarge(sample: dict, rows: int, out: Path, seed: int = 0) -> Path:
    """`rows` transformed training rows drawn from the sample's, as gzipped shards in the Transform's layout."""
    import tensorflow as tf

    from keras_synthad.pipelines import examples

    records = np.array(examples.read(sample["transformed_examples"], "train"), dtype=object)
    split = examples.split_dir(out, "train")
    shutil.rmtree(out, ignore_errors=True)
    split.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    options = tf.io.TFRecordOptions(compression_type="GZIP", compression_level=1)
    shards = -(-rows // SHARD_ROWS)
    for shard in range(shards):
        size = min(SHARD_ROWS, rows - shard * SHARD_ROWS)
        with tf.io.TFRecordWriter(str(split / f"transformed_examples-{shard:05d}-of-{shards:05d}.gz"), options) as w:
            for record in records[rng.integers(0, len(records), size)]:
                w.write(record)
    return out


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, required=True)
    parser.add_argument("--method", default="FenceGAN")
    parser.add_argument("--backend", default="tensorflow")
    parser.add_argument("--batch-size", type=int, default=1024)
    parser.add_argument("--work", default="/tmp/synthad_trainer_memory", help="scratch folder (large: ~250 B a row)")
    parser.add_argument("--output", default=str(RESULTS / "trainer_memory.json"))
    args = parser.parse_args(argv)

    from keras_synthad.pipelines import trainer

    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    sample = prepare(work)
    start = time.perf_counter()
    data = enlarge(sample, args.rows, work / "enlarged")
    write_seconds = time.perf_counter() - start
    spec = {
        **sample,
        "method": args.method,
        "backend": args.backend,
        "args": {},
        "epochs": 1,
        "batch_size": args.batch_size,
        "verbose": 0,
        "optimizers": None,
        "transformed_examples": str(data),
        "model_name": "memory",
    }
    output = work / f"model-{args.rows}"
    shutil.rmtree(output, ignore_errors=True)
    start = time.perf_counter()
    result = trainer.launch({**spec, "output": str(output)}, output, print)
    seconds = time.perf_counter() - start
    row = {
        "rows": args.rows,
        "method": args.method,
        "backend": args.backend,
        "batch_size": args.batch_size,
        "trained_rows": result["rows"],
        "width": result["width"],
        "peak_rss_mib": round(result["peak_rss_mib"], 1),
        "trainer_seconds": round(seconds, 1),
        "fit_seconds": round(result["train_seconds"], 1),
        "data_write_seconds": round(write_seconds, 1),
        "environment": environment(),
    }
    print(json.dumps(row))
    path = Path(args.output)
    runs = json.loads(path.read_text())["runs"] if path.exists() else []
    runs = [r for r in runs if (r["rows"], r["method"], r["backend"]) != (args.rows, args.method, args.backend)]
    write_json(path, {"runs": sorted([*runs, row], key=lambda r: (r["method"], r["backend"], r["rows"]))})
    shutil.rmtree(data, ignore_errors=True)
    shutil.rmtree(output, ignore_errors=True)


if __name__ == "__main__":
    main()

"""Trainer: any keras_synthad method on the transformed training split, on any Keras backend.

The Trainer runs as its own process (``python -m keras_synthad.pipelines.trainer
SPEC.json``) with ``KERAS_BACKEND`` set from the config, since Keras fixes its
backend at import. It fits the method on the transformed training rows, calibrates
the threshold on them (``contamination``), and writes, under its output folder (the
rows are streamed from the TFRecord shards in batches, so memory does not grow with the
split; DOPING, which encodes every row at once, loads them into one array):

- ``model.keras``: the trained detector (loads on any backend);
- ``train_scores.npy``: the scores it gave the training rows, in split order;
- ``Format-Serving/``: the SavedModel with raw features in (the Transform graph
  inside, warmup requests from the first raw training rows), as TFX Trainers export.
"""

from __future__ import annotations

import inspect
import json
import os
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

from keras_synthad.pipelines.runner import Component

SERVING_DIR = "Format-Serving"
MODEL_FILE = "model.keras"
SCORES_FILE = "train_scores.npy"
LOG_FILE = "trainer.log"
SCORING_BATCH = 4096


def component(config, examples, schema, transformed) -> Component:
    """The Trainer step of `config` on the Transform outputs."""
    graph, data = transformed["transform_graph"], transformed["transformed_examples"]
    props = examples.properties
    spec = {
        "method": config.trainer.method,
        "backend": config.trainer.backend,
        "args": config.trainer.args,
        "epochs": config.trainer.epochs,
        "batch_size": config.trainer.batch_size,
        "contamination": config.trainer.contamination,
        "seed": config.trainer.seed,
        "verbose": config.trainer.verbose,
        "optimizers": config.trainer.optimizers,
        "examples": examples.uri,
        "transform_graph": graph.uri,
        "transformed_examples": data.uri,
        "transformed_features": json.loads(graph.properties["transformed_features"]),
        "raw_features": json.loads(props["categorical_columns"]) + json.loads(props["numeric_columns"]),
        "model_name": config.name,
    }
    inputs = {"examples": examples, "schema": schema, "transform_graph": graph, "transformed_examples": data}

    def body(out, log):
        result = launch({**spec, "output": str(out["model"])}, out["model"], log)
        return {"model": {"method": spec["method"], "backend": spec["backend"], "threshold": result["threshold"]}}

    return Component("Trainer", inputs, {"model": "Model"}, body)


def launch(spec: dict, output: Path, log) -> dict:
    """Run the Trainer process for `spec`; its progress goes to stdout, its log to ``trainer.log``."""
    output.mkdir(parents=True, exist_ok=True)
    spec_path = output / "spec.json"
    spec_path.write_text(json.dumps(spec, indent=2) + "\n")
    env = {**os.environ, "KERAS_BACKEND": spec["backend"], "TF_CPP_MIN_LOG_LEVEL": "2"}
    with open(output / LOG_FILE, "w") as log_file:
        done = subprocess.run(
            [sys.executable, "-m", "keras_synthad.pipelines.trainer", str(spec_path)],
            env=env,
            stderr=log_file,
            check=False,
        )
    if done.returncode != 0:
        tail = "\n".join((output / LOG_FILE).read_text().strip().splitlines()[-15:])
        raise RuntimeError(
            f"The Trainer process failed (exit {done.returncode}); the end of {output / LOG_FILE}:\n{tail}"
        )
    result = json.loads((output / "result.json").read_text())
    log(
        f"{spec['method']} on {spec['backend']}: {result['rows']} rows x {result['width']} inputs, "
        f"{result['train_seconds']:.1f}s, threshold {result['threshold']:.6g}"
    )
    return result


def _train(spec: dict) -> dict:
    import time

    import keras
    import numpy as np
    import tensorflow_transform as tft

    import keras_synthad
    from keras_synthad.export import export_saved_model
    from keras_synthad.pipelines import examples

    output = Path(spec["output"])
    method = getattr(keras_synthad, spec["method"])
    order = spec["transformed_features"]
    feature_spec = tft.TFTransformOutput(spec["transform_graph"]).transformed_feature_spec()
    width = sum(int(np.prod(feature_spec[name].shape)) for name in order)
    if getattr(method, "trains_on_batches", False):
        # Streamed from the shards: memory does not grow with the training split.
        def batches(size, seed=None):
            return examples.model_input_batches(
                spec["transformed_examples"], "train", order, feature_spec, size, shuffle_seed=seed
            )

        x, ordered = batches(spec["batch_size"], spec["seed"]), batches(SCORING_BATCH)
    else:  # the method needs every row at once (DOPING's latent edge)
        x = ordered = examples.model_inputs(spec["transformed_examples"], "train", order)
    keras.utils.set_random_seed(spec["seed"])
    args = dict(spec["args"])
    if "seed" in inspect.signature(method.__init__).parameters:
        args.setdefault("seed", spec["seed"])
    model = method(input_shape=(width,), **args)
    model.compile(optimizer=spec["optimizers"] or "auto")  # roles left out keep the paper's optimizers
    start = time.perf_counter()
    verbose = spec["verbose"] if spec["verbose"] != "auto" else 1 if sys.stdout.isatty() else 2  # no bars in logs
    model.fit(x, epochs=spec["epochs"], batch_size=None if x is not ordered else spec["batch_size"], verbose=verbose)
    seconds = time.perf_counter() - start
    scores = model.predict(ordered, batch_size=SCORING_BATCH, verbose=0).astype(np.float32)
    threshold = model.calibrate(ordered, contamination=spec["contamination"], scores=scores)
    np.save(output / SCORES_FILE, scores)
    model.save(output / MODEL_FILE)
    raw = examples.decode(examples.read(spec["examples"], "train", count=8))
    warmup = {k: v for k, v in raw.items() if k in spec["raw_features"]}
    with tempfile.TemporaryDirectory(dir=output) as base:
        version = export_saved_model(
            model,
            base,
            warmup_rows=warmup,
            model_name=spec["model_name"],
            transform_dir=spec["transform_graph"],
            transformed_features=order,
        )
        os.rename(Path(base) / str(version), output / SERVING_DIR)
    return {
        "rows": int(scores.shape[0]),
        "width": width,
        "train_seconds": seconds,
        "threshold": float(threshold),
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,  # Linux: KiB
    }


if __name__ == "__main__":
    spec = json.loads(Path(sys.argv[1]).read_text())
    result = _train(spec)
    (Path(spec["output"]) / "result.json").write_text(json.dumps(result) + "\n")

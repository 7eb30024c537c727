"""InfraValidator: load the exported SavedModel in a fresh process and answer its warmup requests.

This is what TF Serving does before it marks a version available; a model that fails
here would fail there. Run as ``python -m keras_synthad.pipelines.infra_validator DIR``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from keras_synthad.pipelines.runner import Component


def check(saved_model_dir) -> int:
    """Replay every warmup request; raise if a reply is missing, misshaped or not finite. Returns the count."""
    import numpy as np
    import tensorflow as tf

    from keras_synthad.export import WARMUP_FILE, read_warmup

    model = tf.saved_model.load(str(saved_model_dir))
    logs = read_warmup(Path(saved_model_dir) / WARMUP_FILE)
    if not logs:
        raise ValueError("The SavedModel has no warmup requests.")
    for log in logs:
        request = log.predict_log.request
        inputs = {k: tf.constant(tf.make_ndarray(v)) for k, v in request.inputs.items()}
        out = model.signatures[request.model_spec.signature_name](**inputs)
        rows = len(next(iter(inputs.values())))
        scores, flags = out["score"].numpy(), out["is_anomaly"].numpy()
        if scores.shape != (rows,) or flags.shape != (rows,):
            raise ValueError(
                f"{request.model_spec.signature_name}: {rows} rows in, shapes {scores.shape}/{flags.shape} out"
            )
        if not np.isfinite(scores).all() or not np.isin(flags, (0, 1)).all():
            raise ValueError(f"{request.model_spec.signature_name}: scores not finite or labels not 0/1")
    return len(logs)


def run(model_dir: str, output: Path, log) -> dict:
    from keras_synthad.pipelines.trainer import SERVING_DIR

    output.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    command = [sys.executable, "-m", "keras_synthad.pipelines.infra_validator", str(Path(model_dir) / SERVING_DIR)]
    done = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    blessed = done.returncode == 0
    (output / ("INFRA_BLESSED" if blessed else "INFRA_NOT_BLESSED")).write_text(done.stdout + done.stderr[-4000:])
    log(
        f"{done.stdout.strip()} warmup requests answered in a fresh process"
        if blessed
        else "FAILED: " + done.stderr.strip()[-500:]
    )
    return {"blessed": int(blessed)}


def component(model) -> Component:
    return Component(
        "InfraValidator",
        {"model": model},
        {"blessing": "InfraBlessing"},
        lambda out, log: {"blessing": run(model.uri, out["blessing"], log)},
    )


if __name__ == "__main__":
    print(check(sys.argv[1]))

"""Where DOPING's fit spends its time on a table of about 10,000 rows, phase by phase.

DOPING's ``fit`` is Algorithm 2 in four phases: train the adversarial autoencoder,
encode every row and find the edge set, interpolate edge codes with their nearest
latent neighbours (Algorithm 1, InterNN) and decode them, then fit the downstream
detector on the rows plus the synthetic ones. This benchmark runs those phases one by
one, the way ``DOPING.fit`` calls them, and times each (``time.perf_counter``):

- ``aae_first_epoch``: the first epoch of the autoencoder's ``fit`` (tracing and
  compiling the step, then that epoch's steps);
- ``aae_steps``: the remaining ``--steps`` (about 1,000, the peer benchmark's budget),
  with the seconds per step they imply;
- ``edge_set`` (encode all rows, norms, alpha and beta), ``inter_nn`` (the nearest
  other code of every drawn edge code, and the interpolation), ``decode``;
- ``detector_fit`` for the default preset's k-NN and the paper's IsolationForest, and
  ``score`` (both scoring the training rows).

Rows: ``--rows`` normal rows of an ADBench table (default mammography, 11,183 rows of
which 10,923 normal), min-max scaled, DOPING's batch of 128.
Results: ``benchmarks/results/doping_profile.json``.

Usage: ``KERAS_BACKEND=jax taskset -c 1 python -m benchmarks.doping_profile``
"""

from __future__ import annotations

import argparse
import math
import time

import keras
import numpy as np

import keras_synthad as ks
from benchmarks.common import RESULTS, environment, write_json
from benchmarks.tune import adbench_file
from keras_synthad.augmentation import draw_indices_and_weights, inter_nn
from keras_synthad.data import MinMaxScaler, load_adbench


def timed(fn):
    start = time.perf_counter()
    value = fn()
    return value, time.perf_counter() - start


def training_rows(table: str, rows: int, seed: int) -> np.ndarray:
    x, y = load_adbench(adbench_file(table))
    normal = x[y == 0]
    normal = normal[np.random.default_rng(seed).permutation(len(normal))[:rows]]
    return MinMaxScaler().fit_transform(normal)


def profile(x: np.ndarray, steps: int, batch: int, seed: int) -> dict:
    keras.utils.set_random_seed(seed)
    model = ks.DOPING((x.shape[1],), seed=seed)
    model.compile()
    per_epoch = math.ceil(len(x) / batch)
    epochs = max(1, math.ceil(steps / per_epoch))
    seconds = {}
    # Phase 1: the AAE (its own fit, as DOPING.fit calls it); the first epoch traces and compiles.
    _, seconds["aae_first_epoch"] = timed(lambda: model.autoencoder.fit(x, epochs=1, batch_size=batch, verbose=0))
    if epochs > 1:
        _, seconds["aae_steps"] = timed(
            lambda: model.autoencoder.fit(x, epochs=epochs, initial_epoch=1, batch_size=batch, verbose=0)
        )
    # Phase 2: encode every row, edge bounds and edge set.
    (codes, edge_index, _, _), seconds["edge_set"] = timed(lambda: model.edge_set(x))
    n = round(model.synthetic_fraction * len(x))
    draw, u = draw_indices_and_weights(n, edge_index.size, model.seed_generator)
    # Phase 3: Algorithm 1 in the latent space, then the decoder.
    synthetic_codes, seconds["inter_nn"] = timed(lambda: inter_nn(codes, edge_index[draw], u))
    synthetic, seconds["decode"] = timed(lambda: model.autoencoder.decode(synthetic_codes))
    augmented = np.concatenate([x, synthetic])
    # Phase 4: the downstream detectors (default preset: k-NN; paper: IsolationForest).
    for name in ("knn", "iforest"):
        detector = ks.DOPING((x.shape[1],), seed=seed, detector=name).detector
        _, seconds[f"{name}_fit"] = timed(lambda d=detector: d.fit(augmented))
        _, seconds[f"{name}_score"] = timed(lambda d=detector: d.score(x))
    trained = (epochs - 1) * per_epoch
    fit_phases = ("aae_first_epoch", "aae_steps", "edge_set", "inter_nn", "decode", "knn_fit")
    return {
        "rows": len(x),
        "features": int(x.shape[1]),
        "batch_size": batch,
        "epochs": epochs,
        "steps": epochs * per_epoch,
        "synthetic_rows": n,
        "edge_rows": int(edge_index.size),
        "seconds": {k: round(v, 4) for k, v in seconds.items()},
        "ms_per_aae_step": round(1000 * seconds["aae_steps"] / trained, 3) if trained else None,
        "default_fit_seconds": round(sum(seconds.get(k, 0.0) for k in fit_phases), 3),
    }


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--table", default="mammography", help="ADBench table (its normal rows are used)")
    parser.add_argument("--rows", type=int, default=10000)
    parser.add_argument("--steps", type=int, default=1000, help="autoencoder steps (the peer benchmark's budget)")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output", default=str(RESULTS / "doping_profile.json"))
    args = parser.parse_args(argv)
    x = training_rows(args.table, args.rows, args.seed)
    result = profile(x, args.steps, args.batch_size, args.seed)
    write_json(
        args.output,
        {
            "benchmark": "DOPING fit, phase by phase",
            "environment": environment(),
            "settings": vars(args),
            "result": result,
        },
    )
    for phase, value in result["seconds"].items():
        print(f"{phase:>16}: {value:9.3f} s")
    print(f"ms per AAE step: {result['ms_per_aae_step']}; default fit {result['default_fit_seconds']} s")


if __name__ == "__main__":
    main()

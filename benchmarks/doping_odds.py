"""DOPING §VI: iForest, iForest + DOPING and iForest + SMOTE variant on four ODDS tables.

Protocol (§VI-A): per seed, a random 50 % of the rows is the training half and
only its normal rows are used for training; the other 50 % is the test set.
Features are min-max scaled with the training rows' statistics. DOPING trains
§III-A's unlabeled AAE (2 x 1000 ReLU networks, 2-D prior N(0, 10²), Adam 1e-4)
and adds 10 % synthetic rows from the edge of the latent distribution; the SMOTE
variant adds 10 % rows interpolated between random training rows and their
nearest neighbours. The same five scikit-learn IsolationForests (random_state =
seed * 100 + k) are trained on each training set and their metrics averaged. Metrics over the contamination sweep .01-.69
step .02 (thresholds on training scores): best F1, best G-measure and the AUC of
the ROC curve through the sweep; the threshold-free AUROC is recorded too.

Paper's claim (Tables III, IV): iForest + DOPING beats plain iForest and the
SMOTE variant on thyroid, lymphography and cardio (mammography is the exception).

Usage: ``KERAS_BACKEND=jax python -m benchmarks.doping_odds --seeds 0-4``
"""

from __future__ import annotations

import argparse
import time

import keras
import numpy as np

import keras_synthad as ks
from benchmarks.common import RESULTS, environment, mean_std, parse_seeds, run_all
from benchmarks.doping_synthetic import epochs_for, iforest_metrics
from keras_synthad.data import MinMaxScaler, load_adbench

DATASETS = {"mammography": "23_mammography", "thyroid": "38_thyroid", "lympho": "21_Lymphography", "cardio": "6_cardio"}
SWEEP = np.arange(0.01, 0.70, 0.02)
VARIANTS = ("iforest", "iforest_doping", "iforest_smote")
METRICS = ("best_f1", "best_g", "sweep_auc", "auroc")


def run(name: str, seed: int, args) -> dict:
    keras.utils.set_random_seed(seed)
    x, y = load_adbench(DATASETS[name])
    order = np.random.default_rng(seed).permutation(len(x))
    half, rest = order[: len(x) // 2], order[len(x) // 2 :]
    train = half[y[half] == 0]
    scaler = MinMaxScaler().fit(x[train])
    x_train, x_test, y_test = scaler.transform(x[train]), scaler.transform(x[rest]), y[rest]
    n_synthetic = round(args.synthetic_fraction * len(x_train))

    model = ks.DOPING(input_shape=(x.shape[1],), synthetic_fraction=args.synthetic_fraction, seed=seed, preset="paper")
    start = time.perf_counter()
    model.autoencoder.fit(
        x_train, epochs=epochs_for(args.steps, len(x_train), args.batch_size), batch_size=args.batch_size, verbose=0
    )
    seconds = time.perf_counter() - start
    doping_rows = model.augment(x_train, n_synthetic)
    smote_rows = ks.SMOTEVariant(seed=seed).augment(x_train, n_synthetic)
    return {
        "dataset": name,
        "seed": seed,
        "train_rows": len(x_train),
        "test_rows": len(x_test),
        "test_anomalies": int(y_test.sum()),
        "synthetic_rows": n_synthetic,
        "aae_seconds": seconds,
        "edge_bounds": [float(v) for v in keras.ops.convert_to_numpy(model.edge_bounds)],
        "iforest": iforest_metrics(x_train, x_test, y_test, seed, SWEEP),
        "iforest_doping": iforest_metrics(np.concatenate([x_train, doping_rows]), x_test, y_test, seed, SWEEP),
        "iforest_smote": iforest_metrics(np.concatenate([x_train, smote_rows]), x_test, y_test, seed, SWEEP),
    }


def summarize(rows: list[dict]) -> dict:
    summary = {}
    for name in dict.fromkeys(r["dataset"] for r in rows):
        mine = [r for r in rows if r["dataset"] == name]
        summary[name] = {v: mean_std([r[v] for r in mine], METRICS) for v in VARIANTS}
        summary[name]["seeds"] = len(mine)
    return summary


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", default="0-4", type=parse_seeds)
    parser.add_argument("--datasets", default=",".join(DATASETS))
    parser.add_argument("--steps", type=int, default=5000, help="AAE training steps (the paper gives none)")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--synthetic-fraction", type=float, default=0.1)
    parser.add_argument("--output", default=str(RESULTS / "doping_odds.json"))
    args = parser.parse_args(argv)
    payload = {"benchmark": "DOPING §VI ODDS tables", "environment": environment(), "args": vars(args)}
    # Seed-major, so a cut-off run still covers every dataset.
    jobs = [(name, seed, args) for seed in args.seeds for name in args.datasets.split(",")]

    def describe(r):
        return f"{r['dataset']} seed {r['seed']}: " + ", ".join(f"{v} F1 {r[v]['best_f1']:.4f}" for v in VARIANTS)

    return run_all(payload, jobs, run, describe, summarize, args.output)


if __name__ == "__main__":
    main()

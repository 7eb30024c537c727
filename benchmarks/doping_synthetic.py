"""DOPING §IV: AUC of iForest against the latent norm of magnitude-based samples.

Datasets A, B, C as §IV-A describes them (1000 training and 1000 test rows, 5 %
anomalies): A, a 2-D Gaussian N(0, 10²) with anomalies N((30, 0), 5²); B, its
3-D version; C, a ring of radius N(30, 5²) around anomalies N(0, 5²).

Per dataset and seed: scale with the training rows' min/max, train §III-A's
unlabeled AAE (2 x 1000 ReLU, 2-D prior N(0, 10²), Adam 1e-4) on the
contaminated training set, then for each norm 5, 10, ..., 100 decode 100 codes
from the ring of that norm, add them to the training set, train scikit-learn's
IsolationForest and score the test set (metrics averaged over 5 forests with
different random states, to separate the trend from the forest's noise). AUC follows §IV: the ROC curve through
the contamination sweep .01-.69 step .04 (thresholds on training scores).
Plain iForest and edge-based DOPING (Algorithm 2, 100 rows) are the reference
lines. The paper (Fig. 5) finds the peak at norms 15-20, the edge of the prior.

§IV analyses a *labeled* AAE (the discriminator sees the label, anomalies'
prior is the ring of radius 100): ``--labeled``. Without it, the unlabeled AAE
that DOPING uses in practice is trained on the unlabeled, contaminated set.

Usage: ``KERAS_BACKEND=jax python -m benchmarks.doping_synthetic --seeds 0-2``
"""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path

import keras
import numpy as np
from sklearn.ensemble import IsolationForest

import keras_synthad as ks
from benchmarks.common import RESULTS, environment, parse_seeds, write_json
from keras_synthad import metrics
from keras_synthad.data import MinMaxScaler

NORMS = np.arange(5.0, 101.0, 5.0)
SWEEP = np.arange(0.01, 0.70, 0.04)


def make_dataset(name: str, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """§IV-A: ``n`` rows, 95 % normal and 5 % anomalous (label 1)."""
    n_anomalies = round(0.05 * n)
    n_normal = n - n_anomalies
    if name in ("A", "B"):
        dims = 2 if name == "A" else 3
        normal = rng.normal(0.0, 10.0, (n_normal, dims))
        centre = np.zeros(dims)
        centre[0] = 30.0
        anomalies = rng.normal(centre, 5.0, (n_anomalies, dims))
    elif name == "C":
        angle = rng.uniform(0.0, 2 * np.pi, n_normal)
        radius = rng.normal(30.0, 5.0, n_normal)
        normal = np.stack([radius * np.cos(angle), radius * np.sin(angle)], axis=1)
        anomalies = rng.normal(0.0, 5.0, (n_anomalies, 2))
    else:
        raise ValueError(f"unknown dataset {name!r}; expected A, B or C")
    x = np.concatenate([normal, anomalies])
    y = np.concatenate([np.zeros(n_normal, np.int64), np.ones(n_anomalies, np.int64)])
    order = rng.permutation(n)
    return x[order], y[order]


FORESTS = 5  # iForests per training set (random_state = seed * 100 + k); their metrics are averaged


def iforest_metrics(x_train, x_test, y_test, seed: int, sweep=SWEEP) -> dict:
    """Contamination-sweep metrics and AUROC of FORESTS iForests trained on `x_train`, averaged."""
    runs = []
    for k in range(FORESTS):
        forest = IsolationForest(random_state=seed * 100 + k).fit(x_train)
        train_scores, test_scores = -forest.score_samples(x_train), -forest.score_samples(x_test)
        runs.append(
            {
                **metrics.contamination_sweep(train_scores, test_scores, y_test, sweep),
                "auroc": metrics.roc_auc(y_test, test_scores),
            }
        )
    return {key: float(np.mean([r[key] for r in runs])) for key in runs[0]}


def epochs_for(steps: int, rows: int, batch_size: int) -> int:
    return max(1, math.ceil(steps / math.ceil(rows / batch_size)))


def run(name: str, seed: int, args) -> dict:
    keras.utils.set_random_seed(seed)
    rng = np.random.default_rng(seed)
    x_train, y_train = make_dataset(name, 1000, rng)
    x_test, y_test = make_dataset(name, 1000, rng)
    scaler = MinMaxScaler().fit(x_train)
    x_train, x_test = scaler.transform(x_train), scaler.transform(x_test)
    autoencoder = ks.AdversarialAutoencoder(
        (x_train.shape[1],),
        latent_dim=2,
        prior_scale=10.0,
        anomaly_prior_radius=100.0 if args.labeled else None,
        seed=seed,
    )
    model = ks.DOPING(input_shape=(x_train.shape[1],), autoencoder=autoencoder, seed=seed, preset="paper")
    start = time.perf_counter()
    model.autoencoder.fit(
        x_train,
        y_train if args.labeled else None,
        epochs=epochs_for(args.steps, len(x_train), args.batch_size),
        batch_size=args.batch_size,
        verbose=0,
    )
    seconds = time.perf_counter() - start
    norms = np.linalg.norm(model.autoencoder.encode(x_train), axis=1)
    row = {
        "dataset": name,
        "seed": seed,
        "train_seconds": seconds,
        "code_norm_mean": float(norms.mean()),
        "code_norm_p95": float(np.percentile(norms, 95)),
        # Where the (unseen at scoring time) anomalies landed in the latent space.
        "normal_code_norm_median": float(np.median(norms[y_train == 0])),
        "anomaly_code_norm_median": float(np.median(norms[y_train == 1])),
        "baseline": iforest_metrics(x_train, x_test, y_test, seed),
        "doping_edge": iforest_metrics(np.concatenate([x_train, model.augment(x_train, 100)]), x_test, y_test, seed),
        "edge_bounds": [float(v) for v in keras.ops.convert_to_numpy(model.edge_bounds)],
        "by_norm": [],
    }
    for norm in NORMS:
        augmented = np.concatenate([x_train, model.sample_at_norm(norm, 100)])
        row["by_norm"].append({"norm": float(norm), **iforest_metrics(augmented, x_test, y_test, seed)})
    return row


def plot(rows: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    datasets = sorted({r["dataset"] for r in rows})
    fig, axes = plt.subplots(1, len(datasets), figsize=(5 * len(datasets), 4), squeeze=False)
    for ax, name in zip(axes[0], datasets, strict=True):
        mine = [r for r in rows if r["dataset"] == name]
        curve = np.array([[p["sweep_auc"] for p in r["by_norm"]] for r in mine])
        mean, std = curve.mean(axis=0), curve.std(axis=0)
        ax.plot(NORMS, mean, "o-", label="magnitude-based sampling")
        ax.fill_between(NORMS, mean - std, mean + std, alpha=0.2)
        ax.axhline(np.mean([r["baseline"]["sweep_auc"] for r in mine]), color="k", ls="--", label="iForest")
        ax.axhline(np.mean([r["doping_edge"]["sweep_auc"] for r in mine]), color="g", ls=":", label="DOPING (edge)")
        ax.set_title(f"Dataset {name} ({len(mine)} seeds)")
        ax.set_xlabel("latent L2 norm of sampled codes")
        ax.set_ylabel("AUC (contamination sweep)")
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", default="0-2", type=parse_seeds)
    parser.add_argument("--datasets", default="A,B,C")
    parser.add_argument("--steps", type=int, default=2500, help="AAE training steps (the paper gives none)")
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--labeled", action="store_true", help="§IV's labeled AAE (anomaly prior: ring of radius 100)")
    parser.add_argument("--output", default=None, help="default: results/doping_synthetic[_labeled].json")
    args = parser.parse_args(argv)
    args.output = args.output or str(RESULTS / f"doping_synthetic{'_labeled' if args.labeled else ''}.json")
    rows = []
    payload = {
        "benchmark": f"DOPING §IV synthetic datasets ({'labeled' if args.labeled else 'unlabeled'} AAE)",
        "environment": environment(),
        "args": vars(args),
    }
    for name in args.datasets.split(","):
        for seed in args.seeds:
            rows.append(run(name, seed, args))
            best = max(rows[-1]["by_norm"], key=lambda p: p["sweep_auc"])
            print(
                f"{name} seed {seed}: iForest {rows[-1]['baseline']['sweep_auc']:.4f}, "
                f"edge DOPING {rows[-1]['doping_edge']['sweep_auc']:.4f}, best norm {best['norm']:.0f} "
                f"({best['sweep_auc']:.4f}), code norm mean {rows[-1]['code_norm_mean']:.1f}",
                flush=True,
            )
            write_json(args.output, {**payload, "rows": rows})
    plot(rows, Path(args.output).with_suffix(".png"))
    return {**payload, "rows": rows}


if __name__ == "__main__":
    main()

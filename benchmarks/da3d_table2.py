"""DA3D Table 2 (tabular part): AUROC and AP on Mammography, at 0 % and 1 % pollution.

Protocol (§4.2): features scaled to [0, 1] with the training rows' min/max; 80 % of
the rows for training, 5 % validation (unused: no model selection, the last epoch
is scored), 15 % test. Training keeps the normal rows, plus anomalies making up
the given pollution fraction of the training set. The AAE has Table 1's sizes
(Mammography: encoder 12-10-8-6-3, code 2; the decoder mirrors it), prior N(0, 1);
the alarm network is 100-50-25-10 (§4.1); Adam 1e-4 everywhere; batch 256.

Variants: ``gan`` (generator + critic, WGAN weight clipping 0.01 as the paper says),
``gan_gradnorm`` (the authors' code: critic gradients clipped to global norm 0.01)
and ``simple`` (n_h ~ N(0, 4) decoded directly).

Paper (Table 2, mean of 6 runs, AUROC): Mammography .84 (simple .86) at 0 %,
.79 at 1 % pollution.

Usage: ``KERAS_BACKEND=jax python -m benchmarks.da3d_table2 --seeds 0-4``
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import keras
import numpy as np

import keras_synthad as ks
from benchmarks.common import environment, mean_std, parse_seeds, write_json
from keras_synthad import metrics
from keras_synthad.data import MinMaxScaler, load_adbench

DATASETS = {"mammography": dict(table="23_mammography", hidden=(12, 10, 8, 6, 3), code=2, alarm=(100, 50, 25, 10))}
VARIANTS = {
    "gan": dict(generator="gan", clip="weights"),
    "gan_gradnorm": dict(generator="gan", clip="gradient_norm"),
    "simple": dict(generator="simple"),
}
PAPER = {("mammography", 0.0): {"gan": 0.84, "simple": 0.86}, ("mammography", 0.01): {"gan": 0.79}}
RESULTS = Path(__file__).parent / "results"


def split(y: np.ndarray, pollution: float, seed: int):
    """80/5/15 split; the training part keeps its normal rows plus `pollution` anomalies."""
    order = np.random.default_rng(seed).permutation(len(y))
    n_train, n_val = int(0.8 * len(y)), int(0.05 * len(y))
    train, test = order[:n_train], order[n_train + n_val :]
    normal, anomalous = train[y[train] == 0], train[y[train] == 1]
    n_polluting = round(pollution * len(normal) / (1.0 - pollution))
    return np.concatenate([normal, anomalous[:n_polluting]]), test


def run(name: str, variant: str, pollution: float, seed: int, args) -> dict:
    keras.utils.set_random_seed(seed)
    spec = DATASETS[name]
    x, y = load_adbench(spec["table"])
    train, test = split(y, pollution, seed)
    scaler = MinMaxScaler(clip=True).fit(x[train])
    x_train, x_test, y_test = scaler.transform(x[train]), scaler.transform(x[test]), y[test]
    autoencoder = ks.AdversarialAutoencoder(
        (x.shape[1],), latent_dim=spec["code"], prior_scale=1.0, hidden_units=spec["hidden"], seed=seed
    )
    model = ks.DA3D(
        (x.shape[1],),
        autoencoder=autoencoder,
        aae_epochs=args.aae_epochs,
        alarm_units=spec["alarm"],
        seed=seed,
        **VARIANTS[variant],
    )
    start = time.perf_counter()
    model.fit(x_train, epochs=args.epochs, batch_size=args.batch_size, verbose=0)
    seconds = time.perf_counter() - start
    scores = model.predict(x_test, verbose=0)
    return {
        "dataset": name,
        "variant": variant,
        "pollution": pollution,
        "seed": seed,
        "train_rows": len(x_train),
        "train_anomalies": int(y[train].sum()),
        "test_rows": len(x_test),
        "test_anomalies": int(y_test.sum()),
        "train_seconds": seconds,
        "auroc": metrics.roc_auc(y_test, scores),
        "ap": metrics.pr_auc(y_test, scores),
    }


def summarize(rows):
    keys = dict.fromkeys((r["dataset"], r["variant"], r["pollution"]) for r in rows)
    out = []
    for name, variant, pollution in keys:
        mine = [r for r in rows if (r["dataset"], r["variant"], r["pollution"]) == (name, variant, pollution)]
        out.append(
            {
                "dataset": name,
                "variant": variant,
                "pollution": pollution,
                "seeds": len(mine),
                **mean_std(mine, ("auroc", "ap")),
                "paper_auroc": PAPER.get((name, pollution), {}).get(variant.split("_")[0]),
            }
        )
    return out


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", default="0-4", type=parse_seeds)
    parser.add_argument("--datasets", default="mammography")
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--pollution", default="0,0.01")
    parser.add_argument("--epochs", type=int, default=500, help="DA3D epochs (§4.1: 500)")
    parser.add_argument("--aae-epochs", type=int, default=100, help="AAE pretraining epochs (the paper gives none)")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--output", default=str(RESULTS / "da3d_table2.json"))
    args = parser.parse_args(argv)
    payload = {"benchmark": "DA3D Table 2, tabular", "environment": environment(), "args": vars(args)}
    rows = []
    for seed in args.seeds:
        for pollution in (float(p) for p in args.pollution.split(",")):
            for name in args.datasets.split(","):
                for variant in args.variants.split(","):
                    rows.append(run(name, variant, pollution, seed, args))
                    r = rows[-1]
                    print(
                        f"{name} {variant} pollution {pollution} seed {seed}: AUROC {r['auroc']:.4f} AP {r['ap']:.4f} "
                        f"({r['train_seconds']:.0f} s)",
                        flush=True,
                    )
                    write_json(args.output, {**payload, "rows": rows, "summary": summarize(rows)})
    return {**payload, "rows": rows, "summary": summarize(rows)}


if __name__ == "__main__":
    main()

"""DOPING on a 2-D ring with anomalies in the middle: the setting of Fig. 1 of the paper.

Normal points lie on a ring of radius N(30, 5²); 5 % anomalies sit in the middle,
N(0, 5²) (dataset C of §IV). The training set is unlabeled and contaminated.
DOPING trains its adversarial autoencoder (§III-A: 2-D prior N(0, 10²)), then
synthesises 10 % new rows from the edge of the latent distribution; the SMOTE
variant interpolates random training rows with their nearest neighbours. The PNG
shows where each augmentation puts its rows: SMOTE's follow the data everywhere,
DOPING's concentrate on the rim of the normal data, the infrequent normals.
Isolation Forest is then trained with and without each augmentation, and the
test AUROC of each is printed.

Coordinates are divided by the box size (keras_synthad trains on [0, 1]) and
mapped back for the plot.

Usage: ``KERAS_BACKEND=jax python examples/doping_toy_2d.py [--steps 3000] [--output doping_toy_2d.png]``
"""

from __future__ import annotations

import argparse
import math
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np
from sklearn.ensemble import IsolationForest

import keras_synthad as ks
from keras_synthad import metrics

BOX = 90.0  # the data live in [-45, 45]^2; shifted and divided into [0, 1]^2


def ring_with_centre_anomalies(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    n_anomalies = round(0.05 * n)
    angle = rng.uniform(0, 2 * np.pi, n - n_anomalies)
    radius = rng.normal(30.0, 5.0, n - n_anomalies)
    normal = np.stack([radius * np.cos(angle), radius * np.sin(angle)], axis=1)
    anomalies = rng.normal(0.0, 5.0, (n_anomalies, 2))
    x = np.concatenate([normal, anomalies])
    y = np.r_[np.zeros(len(normal)), np.ones(n_anomalies)].astype(np.int64)
    return np.clip((x + BOX / 2) / BOX, 0.0, 1.0).astype(np.float32), y


@dataclass
class Result:
    x_train: np.ndarray
    doping_rows: np.ndarray
    smote_rows: np.ndarray
    auroc: dict
    model: ks.DOPING


def main(argv=None) -> Result:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=3000, help="AAE training steps (batch 100)")
    parser.add_argument("--hidden", type=int, default=1000, help="units of the two hidden layers (paper: 1000)")
    parser.add_argument("--learning-rate", type=float, default=1e-4, help="Adam (paper: 1e-4)")
    parser.add_argument("--n-samples", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output", default=str(Path(__file__).with_suffix(".png")))
    args = parser.parse_args(argv)

    keras.utils.set_random_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    x_train, _ = ring_with_centre_anomalies(args.n_samples, rng)
    x_test, y_test = ring_with_centre_anomalies(args.n_samples, rng)

    autoencoder = ks.AdversarialAutoencoder(
        (2,),
        latent_dim=2,
        prior_scale=10.0,
        hidden_units=(args.hidden, args.hidden),
        learning_rate=args.learning_rate,
        seed=args.seed,
    )
    model = ks.DOPING((2,), autoencoder=autoencoder, seed=args.seed, preset="paper")
    epochs = max(1, math.ceil(args.steps / math.ceil(len(x_train) / 100)))
    model.fit(x_train, epochs=epochs, batch_size=100, verbose=0)  # AAE, augment, iForest

    n = round(0.1 * len(x_train))
    doping_rows = model.augment(x_train, n)
    smote_rows = ks.SMOTEVariant(seed=args.seed).augment(x_train, n)
    auroc = {}
    for name, extra in (("iForest", None), ("iForest + SMOTE variant", smote_rows), ("iForest + DOPING", doping_rows)):
        train = x_train if extra is None else np.concatenate([x_train, extra])
        forest = IsolationForest(random_state=args.seed).fit(train)
        auroc[name] = metrics.roc_auc(y_test, -forest.score_samples(x_test))
        print(f"{name:26s} test AUROC {auroc[name]:.4f}")

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    def back(points):
        return points * BOX - BOX / 2

    fig, ax = plt.subplots(figsize=(5.5, 5.5))
    ax.scatter(*back(x_train).T, s=4, c="0.6", label="training data (unlabeled, 5 % anomalies)")
    ax.scatter(*back(smote_rows).T, s=10, c="tab:red", label="SMOTE variant")
    ax.scatter(*back(doping_rows).T, s=10, c="tab:green", label="DOPING (latent edge)")
    ax.set_aspect("equal")
    ax.legend(loc="upper right", fontsize=7)
    ax.set_title("Synthetic rows: DOPING vs SMOTE variant")
    fig.tight_layout()
    fig.savefig(args.output, dpi=100)
    return Result(x_train, doping_rows, smote_rows, auroc, model)


if __name__ == "__main__":
    main()

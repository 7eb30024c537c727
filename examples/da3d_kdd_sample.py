"""DA3D on the embedded KDD Cup 99 sample: normal traffic is normal, attacks are anomalies.

Runs without ../shared: the 6,000-row sample ships in the package. Half of the
normal rows train DA3D (Table 1's KDD AAE: encoder 150-100-70-40-25, code 10;
the alarm 1000-500-200-75 of §4.1, scaled down with ``--small``); the other half
plus every attack row form the test set. Prints the test AUROC and AP of the
full DA3D (generator + critic, gradient-norm clipping as in the authors' code)
and of the "simple" variant.

Usage: ``KERAS_BACKEND=jax python examples/da3d_kdd_sample.py [--epochs 20] [--small]``
"""

from __future__ import annotations

import argparse

import keras
import numpy as np

import keras_synthad as ks
from keras_synthad import metrics
from keras_synthad.data import MinMaxScaler, kdd_features, load_sample


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument("--aae-epochs", type=int, default=100)
    parser.add_argument("--small", action="store_true", help="smaller networks (for a quick run)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    frame = load_sample()
    x, _, _ = kdd_features(frame)
    is_attack = (frame["label"] != "normal.").to_numpy()
    normal = np.flatnonzero(~is_attack)
    normal = np.random.default_rng(args.seed).permutation(normal)
    train, test = normal[: len(normal) // 2], np.concatenate([normal[len(normal) // 2 :], np.flatnonzero(is_attack)])
    scaler = MinMaxScaler(clip=True).fit(x[train])
    x_train, x_test, y_test = scaler.transform(x[train]), scaler.transform(x[test]), is_attack[test].astype(int)

    hidden, code, alarm = ((32, 16), 4, (64, 32)) if args.small else ((150, 100, 70, 40, 25), 10, (1000, 500, 200, 75))
    results = {}
    for variant in ("gan", "simple"):
        keras.utils.set_random_seed(args.seed)
        autoencoder = ks.AdversarialAutoencoder(
            (x.shape[1],), latent_dim=code, prior_scale=1.0, hidden_units=hidden, seed=args.seed
        )
        model = ks.DA3D(
            (x.shape[1],),
            autoencoder=autoencoder,
            aae_epochs=args.aae_epochs,
            alarm_units=alarm,
            generator=variant,
            clip="gradient_norm",
            seed=args.seed,
            preset="paper",
        )
        model.fit(x_train, epochs=args.epochs, batch_size=64, verbose=0)
        scores = model.predict(x_test, verbose=0)
        results[variant] = {"auroc": metrics.roc_auc(y_test, scores), "ap": metrics.pr_auc(y_test, scores)}
        print(f"DA3D ({variant:6s}) test AUROC {results[variant]['auroc']:.4f}  AP {results[variant]['ap']:.4f}")
    return results


if __name__ == "__main__":
    main()

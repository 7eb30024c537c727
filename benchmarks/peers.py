"""Every keras_synthad method against PyOD's detectors on the ADBench tables.

For each dataset, seed and training variant:

- a stratified 70/30 split (seeded); the training rows are the normal rows of the 70 %
  ("normal-only") or those plus anomalies making up 1 % of them ("polluted 1 %");
  at most ``--max-train`` training rows (a seeded subsample keeping that share) and
  ``--max-test`` test rows (stratified);
- min-max scaling fitted on the training rows;
- every detector fitted with ``contamination=--contamination`` (its threshold), then
  AUROC and AUPRC of its scores on the test rows, F1 of its own 0/1 labels, and the
  wall time of fit and of scoring.

keras_synthad methods run through `SynthADDetector` with a fixed budget of about
``--steps`` gradient steps (epochs = steps x batch / rows). Results: one JSON file per
(dataset, variant, seed) under ``--output-dir`` (existing files are kept, so a stopped
run resumes; a file that lacks some of ``--methods`` gets just those run on the same
split and added; ``--replace WHY`` reruns ``--methods`` where they already ran, replaces their
rows and records why and where in the file's ``replaced`` list); ``--keep-scores DATASET`` also stores the test scores for the report's
ROC curves and histograms. ``python -m benchmarks.peers_report`` writes the report.

Usage: ``KERAS_BACKEND=jax python -m benchmarks.peers --datasets thyroid,cardio --seeds 0-2``
"""

from __future__ import annotations

import argparse
import json
import math
import time
import warnings
from pathlib import Path

import numpy as np
from sklearn.model_selection import train_test_split

from benchmarks.common import environment, parse_seeds, write_json
from keras_synthad import metrics
from keras_synthad.data import load_adbench
from keras_synthad.data.paths import data_dir
from keras_synthad.sklearn import SynthADDetector

OURS = ("FenceGAN", "DOPING", "DA3D", "DHAG")
PEERS = ("IForest", "KNN", "LOF", "ECOD", "OCSVM", "AutoEncoder", "DeepSVDD", "SO_GAAL")
#: The tables recipes were chosen on (at most 9); the other 18 are untouched by tuning.
TUNING_TABLES = ("cardio", "glass", "lymphography", "optdigits", "pageblocks", "thyroid", "waveform", "wbc", "wine")


def split(x, y, seed: int, pollution: float, max_train: int, max_test: int):
    train_x, test_x, train_y, test_y = train_test_split(x, y, test_size=0.3, stratify=y, random_state=seed)
    rng = np.random.default_rng(seed)
    normal, anomalous = train_x[train_y == 0], train_x[train_y == 1]
    n_normal = min(len(normal), int(max_train * (1 - pollution)))
    n_anomalous = min(len(anomalous), int(round(pollution / (1 - pollution) * n_normal)))
    rows = np.concatenate(
        [normal[rng.permutation(len(normal))[:n_normal]], anomalous[rng.permutation(len(anomalous))[:n_anomalous]]]
    )
    if len(test_x) > max_test:
        test_x, _, test_y, _ = train_test_split(test_x, test_y, train_size=max_test, stratify=test_y, random_state=seed)
    low, span = rows.min(axis=0), rows.max(axis=0) - rows.min(axis=0)
    span = np.where(span > 0, span, 1.0)
    scale = lambda a: ((a - low) / span).astype(np.float32)  # noqa: E731
    return scale(rows), scale(test_x), test_y, n_anomalous


def detector(name: str, seed: int, rows: int, width: int, args, params=None):
    """A fitted-to-be detector; keras_synthad methods run their *default* preset (``params`` override it)."""
    c = args.contamination
    if name in OURS:
        batch = 128 if name == "DOPING" else 256
        epochs = max(1, math.ceil(args.steps * batch / rows))
        params = dict(params or {})
        if name == "DA3D":
            params.setdefault("aae_epochs", max(1, epochs // 2))  # the same budget for the AAE
        return SynthADDetector(
            name, params, epochs=epochs, batch_size=batch, contamination=c, scale=False, random_state=seed
        )
    if name == "KNN":
        from pyod.models.knn import KNN

        return KNN(contamination=c)
    if name == "LOF":
        from pyod.models.lof import LOF

        return LOF(contamination=c)  # novelty=True: scores new rows against the training rows
    if name == "IForest":
        from pyod.models.iforest import IForest

        return IForest(contamination=c, random_state=seed)
    if name == "ECOD":
        from pyod.models.ecod import ECOD

        return ECOD(contamination=c)
    if name == "OCSVM":
        from pyod.models.ocsvm import OCSVM

        return OCSVM(contamination=c)
    if name == "AutoEncoder":
        from pyod.models.auto_encoder import AutoEncoder

        return AutoEncoder(contamination=c, epoch_num=20, random_state=seed, verbose=0)
    if name == "DeepSVDD":
        from pyod.models.deep_svdd import DeepSVDD

        return DeepSVDD(n_features=width, contamination=c, epochs=20, random_state=seed, verbose=0)
    if name == "SO_GAAL":
        import torch

        torch.manual_seed(seed)
        return _so_gaal_outlier_score()(contamination=c)
    raise ValueError(f"Unknown detector {name!r}; known: {OURS + PEERS}")


def _so_gaal_outlier_score():
    """PyOD's SO_GAAL scored as its paper scores (OS(x) = 1 - D(x), Algorithm 1).

    PyOD 3.6.7 returns D(x) itself, which its discriminator drives towards 1 on the
    training (normal) rows, so its scores rank anomalies *below* normals (AUROC .05-.18
    on cover, cardio and donors here; pyod issues #119 and #237).
    """
    from pyod.models.so_gaal import SO_GAAL

    class SOGAALOutlierScore(SO_GAAL):
        def fit(self, X, y=None):
            super().fit(X, y)
            self.decision_scores_ = 1.0 - self.decision_scores_
            self._process_decision_scores()  # threshold_ and labels_ on the flipped scores
            return self

        def decision_function(self, X):
            return 1.0 - super().decision_function(X)

    return SOGAALOutlierScore


def evaluate(name, x_train, x_test, y_test, seed, args, keep_scores: bool, params=None) -> dict:
    model = detector(name, seed, len(x_train), x_train.shape[1], args, params)
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(x_train)
    fit_seconds = time.perf_counter() - start
    start = time.perf_counter()
    scores = np.asarray(model.decision_function(x_test), dtype=np.float64)
    labels = np.asarray(model.predict(x_test)).astype(int)
    score_seconds = time.perf_counter() - start
    row = {
        "method": name,
        "auroc": metrics.roc_auc(y_test, scores),
        "auprc": metrics.pr_auc(y_test, scores),
        "f1": metrics.precision_recall_f1(y_test, labels)["f1"],
        "fit_seconds": round(fit_seconds, 3),
        "score_seconds": round(score_seconds, 3),
    }
    if keep_scores:
        row["test_scores"] = np.round(scores, 6).tolist()
    return row


SETTINGS = ("contamination", "steps", "max_train", "max_test")


def add_protocol_arguments(parser) -> None:
    """The split, budget and threshold settings (``SETTINGS``) shared with `benchmarks.tune`."""
    parser.add_argument("--contamination", type=float, default=0.05)
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--max-train", type=int, default=4000)
    parser.add_argument("--max-test", type=int, default=20000)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasets", default="all", help="comma-separated ADBench names, or 'all'")
    parser.add_argument("--methods", default=",".join(OURS + PEERS))
    parser.add_argument("--seeds", default="0-2")
    parser.add_argument("--pollution", default="0,0.01")
    add_protocol_arguments(parser)
    parser.add_argument("--keep-scores", default="thyroid")
    parser.add_argument("--output-dir", default="benchmarks/results/peers")
    parser.add_argument("--replace", metavar="WHY", help="rerun --methods that already ran, recording WHY")
    args = parser.parse_args(argv)
    names = (
        [p.stem for p in sorted(data_dir("adbench").glob("*.npz"))]
        if args.datasets == "all"
        else args.datasets.split(",")
    )
    methods = args.methods.split(",")
    for name in names:
        x, y = load_adbench(name)
        dataset = name.split("_", 1)[-1].lower() if name[0].isdigit() else name.lower()
        for pollution in (float(p) for p in args.pollution.split(",")):
            for seed in parse_seeds(args.seeds):
                path = Path(args.output_dir) / f"{dataset}_p{pollution:g}_seed{seed}.json"
                earlier = json.loads(path.read_text()) if path.exists() else None
                done = {row["method"] for row in earlier["results"]} if earlier else set()
                todo = [method for method in methods if method not in done or args.replace]
                if not todo:
                    continue
                x_train, x_test, y_test, n_anomalous = split(x, y, seed, pollution, args.max_train, args.max_test)
                rows = []
                for method in todo:
                    row = evaluate(method, x_train, x_test, y_test, seed, args, dataset == args.keep_scores)
                    print(
                        f"{dataset} p={pollution:g} seed {seed} {method}: AUROC {row['auroc']:.4f} "
                        f"AUPRC {row['auprc']:.4f} F1 {row['f1']:.4f} fit {row['fit_seconds']:.1f}s",
                        flush=True,
                    )
                    rows.append(row)
                if earlier:  # same split (seeded): add or replace the methods, say why, when and where they ran
                    again = [method for method in todo if method in done]
                    earlier["results"] = [r for r in earlier["results"] if r["method"] not in again] + rows
                    record = {"methods": todo, "environment": environment()}
                    if again:
                        earlier.setdefault("replaced", []).append({**record, "methods": again, "why": args.replace})
                    if len(again) < len(todo):
                        earlier.setdefault("added_later", []).append(
                            {**record, "methods": [m for m in todo if m not in again]}
                        )
                    write_json(path, earlier)
                    continue
                write_json(
                    path,
                    {
                        "environment": environment(),
                        "dataset": dataset,
                        "pollution": pollution,
                        "seed": seed,
                        "train_rows": len(x_train),
                        "train_anomalies": n_anomalous,
                        "test_rows": len(x_test),
                        "test_anomaly_ratio": float(np.mean(y_test)),
                        "features": int(x.shape[1]),
                        "settings": {k: getattr(args, k) for k in SETTINGS},
                        "test_labels": y_test.astype(int).tolist() if dataset == args.keep_scores else None,
                        "results": rows,
                    },
                )


if __name__ == "__main__":
    main()

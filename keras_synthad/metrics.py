"""Detection metrics with the anomaly as the positive class (scikit-learn underneath)."""

from __future__ import annotations

import numpy as np
from sklearn import metrics as skm


def _check(y_true, scores):
    y_true = np.asarray(y_true).reshape(-1)
    scores = np.asarray(scores, dtype=np.float64).reshape(-1)
    if y_true.shape != scores.shape:
        raise ValueError(f"y_true and scores differ in length: {y_true.shape[0]} vs {scores.shape[0]}")
    if not np.isin(y_true, (0, 1)).all() or len(np.unique(y_true)) != 2:
        raise ValueError("y_true must contain both classes, 0 = normal and 1 = anomaly")
    return y_true, scores


def roc_auc(y_true, scores) -> float:
    """Area under the ROC curve."""
    return float(skm.roc_auc_score(*_check(y_true, scores)))


def pr_auc(y_true, scores) -> float:
    """Area under the precision-recall curve (average precision), anomaly = positive."""
    return float(skm.average_precision_score(*_check(y_true, scores)))


def precision_recall_f1(y_true, y_pred) -> dict[str, float]:
    """Precision, recall and F1 of 0/1 predictions, anomaly = positive."""
    p, r, f, _ = skm.precision_recall_fscore_support(y_true, y_pred, average="binary", pos_label=1, zero_division=0)
    return {"precision": float(p), "recall": float(r), "f1": float(f)}


def threshold_at_ratio(scores, ratio: float) -> float:
    """Score threshold flagging the top `ratio` fraction (``ratio`` in (0, 1))."""
    if not 0.0 < ratio < 1.0:
        raise ValueError(f"ratio must be in (0, 1); received {ratio}")
    return float(np.quantile(np.asarray(scores, dtype=np.float64), 1.0 - ratio))


def detection_report(y_true, scores, threshold: float) -> dict[str, float]:
    """AUROC, AUPRC and precision/recall/F1 of ``scores > threshold``."""
    y_true, scores = _check(y_true, scores)
    report = {"auroc": roc_auc(y_true, scores), "auprc": pr_auc(y_true, scores)}
    report.update(precision_recall_f1(y_true, (scores > threshold).astype(int)))
    return report


def contamination_sweep(train_scores, test_scores, y_test, contaminations) -> dict[str, float]:
    """The DOPING/iForest protocol: one threshold per contamination level.

    Each level ``c`` sets the threshold as scikit-learn's IsolationForest does
    (``offset_``): the ``1 - c`` quantile of the *training* scores. Returns the area
    under the ROC curve through those (FPR, TPR) points plus (0, 0) and (1, 1)
    (``sweep_auc``), the best F1 and G-measure (geometric mean of precision and
    recall) over the levels, and the level of the best F1.
    """
    y_test, test_scores = _check(y_test, test_scores)
    train_scores = np.asarray(train_scores, dtype=np.float64).reshape(-1)
    levels = np.asarray(sorted(float(c) for c in contaminations))
    if levels.size == 0 or levels[0] <= 0.0 or levels[-1] >= 1.0:
        raise ValueError(f"contaminations must be a non-empty set of values in (0, 1); received {contaminations!r}")
    fpr, tpr, f1, g = [0.0], [0.0], [], []
    for level in levels:
        predicted = test_scores > np.quantile(train_scores, 1.0 - level)
        report = precision_recall_f1(y_test, predicted.astype(int))
        fpr.append(float(predicted[y_test == 0].mean()))
        tpr.append(report["recall"])
        f1.append(report["f1"])
        g.append(float(np.sqrt(report["precision"] * report["recall"])))
    fpr.append(1.0)
    tpr.append(1.0)
    order = np.argsort(fpr, kind="stable")
    best = int(np.argmax(f1))
    return {
        "sweep_auc": float(skm.auc(np.asarray(fpr)[order], np.asarray(tpr)[order])),
        "best_f1": f1[best],
        "best_g": float(max(g)),
        "best_f1_contamination": float(levels[best]),
    }

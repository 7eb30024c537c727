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

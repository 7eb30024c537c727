import numpy as np
import pytest

from keras_synthad import metrics


def test_perfect_and_inverted_scores():
    y = np.array([0, 0, 1, 1])
    assert metrics.roc_auc(y, [0.1, 0.2, 0.8, 0.9]) == 1.0
    assert metrics.roc_auc(y, [0.9, 0.8, 0.2, 0.1]) == 0.0
    assert metrics.pr_auc(y, [0.1, 0.2, 0.8, 0.9]) == 1.0


def test_anomaly_is_the_positive_class():
    y_true = np.array([0, 0, 0, 1, 1])
    y_pred = np.array([0, 0, 1, 1, 0])
    got = metrics.precision_recall_f1(y_true, y_pred)
    assert got == pytest.approx({"precision": 0.5, "recall": 0.5, "f1": 0.5})


def test_threshold_at_ratio_flags_that_fraction():
    scores = np.arange(100, dtype=float)
    threshold = metrics.threshold_at_ratio(scores, 0.2)
    assert (scores > threshold).sum() == 20


def test_report_and_errors():
    report = metrics.detection_report([0, 1, 0, 1], [0.1, 0.9, 0.2, 0.8], threshold=0.5)
    assert report["f1"] == 1.0 and report["auroc"] == 1.0
    with pytest.raises(ValueError, match="both classes"):
        metrics.roc_auc([0, 0], [0.1, 0.2])
    with pytest.raises(ValueError, match="length"):
        metrics.roc_auc([0, 1], [0.1])
    with pytest.raises(ValueError, match="ratio"):
        metrics.threshold_at_ratio([1.0, 2.0], 0.0)

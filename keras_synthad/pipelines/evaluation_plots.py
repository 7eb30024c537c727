"""The Evaluator's pictures: the test split's score histogram per class and the ROC curve, as PNG files."""

from __future__ import annotations

from pathlib import Path

import numpy as np

HISTOGRAM = "score_histogram.png"
ROC = "roc_curve.png"


def write(output: Path, y: np.ndarray, scores: np.ndarray, threshold: float | None, reference=None) -> list[str]:
    """Write ``score_histogram.png`` and ``roc_curve.png`` under `output`; returns their names.

    `reference`: ``(name, scores)`` of the reference detector, drawn on the ROC curve too.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.metrics import roc_curve

    figure, axis = plt.subplots(figsize=(6, 4))
    bins = np.histogram_bin_edges(scores, bins=50)
    for label, name in ((0, "normal"), (1, "anomaly")):
        axis.hist(scores[y == label], bins=bins, alpha=0.6, density=True, label=f"{name} ({int((y == label).sum())})")
    if threshold is not None and np.isfinite(threshold):
        axis.axvline(threshold, color="black", linestyle="--", label="threshold")
    axis.set(xlabel="score (higher = more anomalous)", ylabel="density", title="Test split scores")
    axis.legend()
    figure.tight_layout()
    figure.savefig(output / HISTOGRAM, dpi=100)
    plt.close(figure)

    figure, axis = plt.subplots(figsize=(4.5, 4.5))
    curves = [("model", scores)] + ([reference] if reference is not None else [])
    for name, values in curves:
        fpr, tpr, _ = roc_curve(y, values)
        axis.plot(fpr, tpr, label=name)
    axis.plot([0, 1], [0, 1], color="grey", linestyle=":", label="chance")
    axis.set(xlabel="false positive rate", ylabel="true positive rate", title="Test split ROC")
    axis.legend(loc="lower right")
    figure.tight_layout()
    figure.savefig(output / ROC, dpi=100)
    plt.close(figure)
    return [HISTOGRAM, ROC]

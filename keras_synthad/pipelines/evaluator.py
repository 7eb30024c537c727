"""Evaluator: the candidate's metrics on the test split, and its blessing.

Scores come from the exported SavedModel itself (``serve_tf_examples`` on the raw
test examples), so what is measured is what TF Serving will answer. The baseline is
the last blessed model of this pipeline, scored on the same rows through its own
SavedModel (raw features in, its own transform inside). The candidate is blessed
when every configured floor is met and the compared metric is not below the
baseline's by more than ``tolerance``.

Like TFMA's comparison with a baseline model, every run also measures a reference:
scikit-learn's IsolationForest fitted on the same transformed training split and scored
on the same transformed test rows (the Transform graph applied to the raw examples, in
their order). Its AUROC and AUPRC and the candidate's margin over it are reported;
``[evaluator] reference_margin`` makes the margin a condition of the blessing. The
test split's score histogram and ROC curve (with the reference's) are written as PNG
files next to ``metrics.json``.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from keras_synthad import metrics
from keras_synthad.pipelines import evaluation_plots, examples
from keras_synthad.pipelines.config import EvaluatorConfig
from keras_synthad.pipelines.runner import Component

METRICS_FILE = "metrics.json"
BATCH = 8192


def score(saved_model_dir, serialized: list[bytes]) -> tuple[np.ndarray, np.ndarray]:
    """(scores, is_anomaly) of serialized raw tf.Examples through a SavedModel's ``serve_tf_examples``."""
    import tensorflow as tf

    signature = tf.saved_model.load(str(saved_model_dir)).signatures["serve_tf_examples"]
    scores, flags = [], []
    for start in range(0, len(serialized), BATCH):
        out = signature(examples=tf.constant(serialized[start : start + BATCH]))
        scores.append(out["score"].numpy())
        flags.append(out["is_anomaly"].numpy())
    return np.concatenate(scores), np.concatenate(flags)


def transformed_rows(transform_dir: str, features: list[str], *splits: list[bytes]) -> list[np.ndarray]:
    """Raw serialized examples through the Transform graph (loaded once): the model's input matrix
    of each of `splits`, rows in their order."""
    import tensorflow as tf
    import tensorflow_transform as tft

    from keras_synthad.export.signatures import model_input

    output = tft.TFTransformOutput(transform_dir)
    logger = tf.get_logger()
    level = logger.level
    logger.setLevel("ERROR")  # tf.Transform warns about the schema's string domains, which it does not need here
    try:
        spec, layer = output.raw_feature_spec(), output.transform_features_layer()
    finally:
        logger.setLevel(level)

    def matrix(serialized):
        parts = []
        for start in range(0, len(serialized), BATCH):
            batch = serialized[start : start + BATCH]
            parts.append(
                model_input(layer(tf.io.parse_example(tf.constant(batch), spec)), features, len(batch)).numpy()
            )
        return np.concatenate(parts)

    return [matrix(serialized) for serialized in splits]


def reference_scores(transform_dir: str, features: list[str], train: list[bytes], test: list[bytes]) -> np.ndarray:
    """IsolationForest (scikit-learn's defaults, seed 0) on the transformed training rows; its test scores."""
    from sklearn.ensemble import IsolationForest

    x_train, x_test = transformed_rows(transform_dir, features, train, test)
    return -IsolationForest(random_state=0).fit(x_train).score_samples(x_test)


def measure(y: np.ndarray, scores: np.ndarray, flags: np.ndarray) -> dict:
    result = {"auroc": metrics.roc_auc(y, scores), "auprc": metrics.pr_auc(y, scores)}
    result.update(metrics.precision_recall_f1(y, flags))
    at_ratio = scores > metrics.threshold_at_ratio(scores, float(y.mean()))
    result["f1_at_test_ratio"] = metrics.precision_recall_f1(y, at_ratio.astype(int))["f1"]
    return result


def run(
    model_dir: str,
    examples_uri: str,
    examples_props: dict,
    config: EvaluatorConfig,
    baseline,
    output: Path,
    log,
    transform=None,
    threshold: float | None = None,
):
    """Write ``metrics.json`` and the plots; returns (the metrics, the reasons not to bless).

    `transform`: ``(transform_dir, transformed feature names)`` for the IsolationForest reference.
    """
    from keras_synthad.pipelines.trainer import SERVING_DIR

    output.mkdir(parents=True, exist_ok=True)
    serialized = examples.read(examples_uri, "test")
    scores, flags = score(Path(model_dir) / SERVING_DIR, serialized)
    result = {"rows": len(serialized), "flagged": int(flags.sum()), "candidate": None, "baseline": None}
    reasons = []
    label = examples_props["label_column"]
    if label:
        y = np.isin(examples.decode(serialized)[label], json.loads(examples_props["anomaly_labels"])).astype(int)
        result["anomalies"] = int(y.sum())
        if 0 < y.sum() < len(y):
            result["candidate"] = measure(y, scores, flags)
            if result["candidate"]["auroc"] <= 0.5:  # refused with or without floors
                reasons.append(
                    f"auroc {result['candidate']['auroc']:.4f} is no better than chance: the model ranks the test "
                    "split's anomalies no higher than its normal rows"
                )
            for name, floor in config.floors.items():
                if result["candidate"][name] < floor:
                    reasons.append(f"{name} {result['candidate'][name]:.4f} is below the floor {floor}")
            reference = None
            if transform is not None:
                reference = reference_scores(*transform, examples.read(examples_uri, "train"), serialized)
                result["reference"] = {
                    "method": "IsolationForest",
                    "auroc": metrics.roc_auc(y, reference),
                    "auprc": metrics.pr_auc(y, reference),
                }
                if config.metric in ("auroc", "auprc"):
                    margin = result["candidate"][config.metric] - result["reference"][config.metric]
                    result["reference_margin"] = margin
                    if config.reference_margin is not None and margin < config.reference_margin:
                        reasons.append(
                            f"{config.metric} {result['candidate'][config.metric]:.4f} leads IsolationForest's "
                            f"{result['reference'][config.metric]:.4f} on the same rows by {margin:+.4f}, less than "
                            f"[evaluator] reference_margin {config.reference_margin:+.4f}"
                        )
            result["plots"] = evaluation_plots.write(
                output, y, scores, threshold, None if reference is None else ("IsolationForest", reference)
            )
        else:
            reasons.append("the test split holds a single class, so no detection metric is defined")
        if baseline is not None and result["candidate"] is not None:
            try:
                base_scores, base_flags = score(Path(baseline.uri) / SERVING_DIR, serialized)
            except Exception as err:  # a baseline trained on other raw columns cannot score these rows
                result["baseline_error"] = f"{type(err).__name__}: {str(err)[:300]}"
                log(
                    f"the last blessed model (artifact {baseline.id}) cannot score these rows; compared with floors only"
                )
            else:
                result["baseline"] = {"model_artifact": baseline.id, **measure(y, base_scores, base_flags)}
                new, old = result["candidate"][config.metric], result["baseline"][config.metric]
                if new < old - config.tolerance:
                    reasons.append(
                        f"{config.metric} {new:.4f} is worse than the last blessed model's {old:.4f} "
                        f"(model artifact {baseline.id}, tolerance {config.tolerance})"
                    )
    (output / METRICS_FILE).write_text(json.dumps(result, indent=2) + "\n")
    shown = result["candidate"] or {}
    against = f" (IsolationForest {result['reference'][config.metric]:.4f})" if "reference_margin" in result else ""
    log(
        ", ".join(f"{k} {shown[k]:.4f}" for k in ("auroc", "auprc", "f1") if k in shown)
        + against
        + ("; blessed" if not reasons else "; NOT blessed: " + "; ".join(reasons))
    )
    return result, reasons


def last_blessed_model(store, pipeline_context):
    """The Model artifact of the newest blessing in this pipeline, or None."""
    blessed = [b for b in store.artifacts(pipeline_context, "ModelBlessing") if b.properties.get("blessed")]
    return store.artifact(int(blessed[-1].properties["model_id"])) if blessed else None


def component(model, examples, config: EvaluatorConfig, baseline, transformed=None) -> Component:
    """`transformed`: the Transform's outputs, for the IsolationForest reference (None: no reference)."""

    def body(out, log):
        transform = None
        if transformed is not None:
            graph = transformed["transform_graph"]
            transform = (graph.uri, json.loads(graph.properties["transformed_features"]))
        threshold = float(model.properties["threshold"]) if "threshold" in model.properties else None
        result, reasons = run(
            model.uri,
            examples.uri,
            examples.properties,
            config,
            baseline,
            out["evaluation"],
            log,
            transform,
            threshold,
        )
        out["blessing"].mkdir(parents=True, exist_ok=True)
        (out["blessing"] / ("BLESSED" if not reasons else "NOT_BLESSED")).write_text("\n".join(reasons) + "\n")
        return {
            "evaluation": {
                "metrics": json.dumps(result["candidate"] or {}),
                "baseline": json.dumps(result["baseline"] or {}),
                "reference": json.dumps(result.get("reference") or {}),
            },
            "blessing": {"blessed": int(not reasons), "reasons": json.dumps(reasons), "model_id": model.id},
        }

    return Component(
        "Evaluator",
        {"model": model, "examples": examples}
        | ({"transform_graph": transformed["transform_graph"]} if transformed is not None else {}),
        {"evaluation": "ModelEvaluation", "blessing": "ModelBlessing"},
        body,
    )

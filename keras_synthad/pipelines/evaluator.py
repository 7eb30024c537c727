"""Evaluator: the candidate's metrics on the test split, and its blessing.

Scores come from the exported SavedModel itself (``serve_tf_examples`` on the raw
test examples), so what is measured is what TF Serving will answer. The baseline is
the last blessed model of this pipeline, scored on the same rows through its own
SavedModel (raw features in, its own transform inside). The candidate is blessed
when every configured floor is met and the compared metric is not below the
baseline's by more than ``tolerance``.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from keras_synthad import metrics
from keras_synthad.pipelines import examples
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


def measure(y: np.ndarray, scores: np.ndarray, flags: np.ndarray) -> dict:
    result = {"auroc": metrics.roc_auc(y, scores), "auprc": metrics.pr_auc(y, scores)}
    result.update(metrics.precision_recall_f1(y, flags))
    at_ratio = scores > metrics.threshold_at_ratio(scores, float(y.mean()))
    result["f1_at_test_ratio"] = metrics.precision_recall_f1(y, at_ratio.astype(int))["f1"]
    return result


def run(model_dir: str, examples_uri: str, examples_props: dict, config: EvaluatorConfig, baseline, output: Path, log):
    """Write ``metrics.json``; returns (the metrics, the reasons not to bless)."""
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
    log(
        ", ".join(f"{k} {shown[k]:.4f}" for k in ("auroc", "auprc", "f1") if k in shown)
        + ("; blessed" if not reasons else "; NOT blessed: " + "; ".join(reasons))
    )
    return result, reasons


def last_blessed_model(store, pipeline_context):
    """The Model artifact of the newest blessing in this pipeline, or None."""
    blessed = [b for b in store.artifacts(pipeline_context, "ModelBlessing") if b.properties.get("blessed")]
    return store.artifact(int(blessed[-1].properties["model_id"])) if blessed else None


def component(model, examples, config: EvaluatorConfig, baseline) -> Component:
    def body(out, log):
        result, reasons = run(model.uri, examples.uri, examples.properties, config, baseline, out["evaluation"], log)
        out["blessing"].mkdir(parents=True, exist_ok=True)
        (out["blessing"] / ("BLESSED" if not reasons else "NOT_BLESSED")).write_text("\n".join(reasons) + "\n")
        return {
            "evaluation": {
                "metrics": json.dumps(result["candidate"] or {}),
                "baseline": json.dumps(result["baseline"] or {}),
            },
            "blessing": {"blessed": int(not reasons), "reasons": json.dumps(reasons), "model_id": model.id},
        }

    return Component(
        "Evaluator",
        {"model": model, "examples": examples},
        {"evaluation": "ModelEvaluation", "blessing": "ModelBlessing"},
        body,
    )

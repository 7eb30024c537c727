"""The run's report: metrics, blessing, where the model went and how to serve it."""

from __future__ import annotations

import json

REPORTS_DIR = "reports"


def build(config, runner, model, evaluation, infra, pushed) -> dict:
    evaluation_props = evaluation["evaluation"].properties
    blessing = evaluation["blessing"].properties
    lineage = sorted({a.type for a in runner.store.upstream(pushed.id)})
    report = {
        "pipeline": config.name,
        "run": runner.run_name,
        "input": str(config.data.input),
        "method": model.properties["method"],
        "backend": model.properties["backend"],
        "model": model.uri,
        "metrics": json.loads(evaluation_props["metrics"]),
        "baseline": json.loads(evaluation_props["baseline"]),
        "blessed": bool(blessing["blessed"]) and bool(infra.properties["blessed"]),
        "reasons": json.loads(blessing["reasons"]) + ([] if infra.properties["blessed"] else ["InfraValidator failed"]),
        "pushed_version": pushed.properties["version"] or None,
        "pushed_to": pushed.properties["destination"] or None,
        "serving_base": str(config.serving_base),
        "metadata": str(config.metadata),
        "pushed_model_lineage": lineage,
        "executions": [list(e) for e in runner.store.executions(runner.run_context)],
    }
    directory = config.root / REPORTS_DIR
    directory.mkdir(parents=True, exist_ok=True)
    (directory / f"{runner.run_name}.json").write_text(json.dumps(report, indent=2) + "\n")
    report["report_file"] = str(directory / f"{runner.run_name}.json")
    return report


def format_report(report: dict) -> str:
    m = report["metrics"]
    lines = [f"{report['method']} ({report['backend']} backend) on {report['input']}"]
    if m:
        lines.append(
            f"  test split: AUROC {m['auroc']:.4f}  AUPRC {m['auprc']:.4f}  at the calibrated threshold: "
            f"precision {m['precision']:.4f} recall {m['recall']:.4f} F1 {m['f1']:.4f} "
            f"(F1 at the test anomaly ratio {m['f1_at_test_ratio']:.4f})"
        )
    if report["pushed_version"]:
        name, base = report["pipeline"], report["serving_base"]
        lines += [
            f"  blessed and pushed: version {report['pushed_version']} -> {report['pushed_to']}",
            "  serve it with TF Serving:",
            f"    docker run -p 8500:8500 -p 8501:8501 -v {base}:/models/{name} -e MODEL_NAME={name} tensorflow/serving:2.16.1",
            f"    synthad score --url http://localhost:8501 --model-name {name} --input rows.csv",
            f"  or batch-score a CSV with Beam: synthad score --model {base} --input rows.csv --output scored",
        ]
    else:
        lines.append("  NOT pushed: " + "; ".join(report["reasons"]))
    if report["pushed_version"]:
        lines.append(f"  lineage of the pushed model: {', '.join(report['pushed_model_lineage'])}")
    lines += [
        f"  metadata: {report['metadata']}   report: {report['report_file']}",
    ]
    return "\n".join(lines)

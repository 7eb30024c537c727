"""ExampleValidator: each split's statistics against the schema; any anomaly stops the run.

TensorFlow Data Validation compares the statistics with the schema (missing
columns, new categorical values, wrong types, NaNs, absent values); on top, an empty
split and a declared categorical column that the input lacks are reported. The
anomalies of each split are written as TFX does (``Split-<name>/SchemaDiff.pb``),
with a readable ``report.txt`` naming split, column and problem.
"""

from __future__ import annotations

import json
from pathlib import Path

import tensorflow_data_validation as tfdv
from tensorflow_metadata.proto.v0 import anomalies_pb2

from keras_synthad.pipelines import schema_gen, statistics_gen
from keras_synthad.pipelines.config import SPLITS, DataConfig
from keras_synthad.pipelines.errors import DataValidationError
from keras_synthad.pipelines.runner import Component

REPORT = "report.txt"


def problems_of(anomalies: anomalies_pb2.Anomalies, split: str) -> list[str]:
    lines = []
    for column, info in sorted(anomalies.anomaly_info.items()):
        detail = "; ".join(r.description for r in info.reason if r.description) or info.description
        lines.append(f"split {split!r}, column {column!r}: {info.short_description}. {detail}")
    if anomalies.HasField("dataset_anomaly_info"):
        info = anomalies.dataset_anomaly_info
        lines.append(f"split {split!r}: {info.short_description}. {info.description}")
    return lines


def run(statistics_uri: str, schema, data: DataConfig, examples_props: dict, output: Path, log) -> dict:
    output.mkdir(parents=True, exist_ok=True)
    problems = []
    if data.categorical != "infer":
        present = set(json.loads(examples_props["categorical_columns"]))
        problems += [
            f"column {c!r}: declared in [data] categorical_columns but missing from the input."
            for c in data.categorical
            if c not in present
        ]
    for split in SPLITS:
        stats = statistics_gen.load(statistics_uri, split)
        rows = stats.datasets[0].num_examples if stats.datasets else 0
        if rows == 0:
            problems.append(f"split {split!r} is empty (0 rows): the input is too small for the configured splits.")
            continue
        anomalies = tfdv.validate_statistics(stats, schema)
        directory = output / f"Split-{split}"
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "SchemaDiff.pb").write_bytes(anomalies.SerializeToString())
        problems += problems_of(anomalies, split)
    report = "\n".join(problems) if problems else "no anomalies"
    (output / REPORT).write_text(report + "\n")
    log("no anomalies" if not problems else f"{len(problems)} anomalies")
    return {"problems": len(problems), "report": report}


def component(statistics, schema, examples, data: DataConfig) -> Component:
    return Component(
        "ExampleValidator",
        {"statistics": statistics, "schema": schema},
        {"anomalies": "ExampleAnomalies"},
        lambda out, log: {
            "anomalies": run(
                statistics.uri, schema_gen.load(schema.uri), data, examples.properties, out["anomalies"], log
            )
        },
    )


def stop_on(anomalies, source) -> None:
    """Raise `DataValidationError` with the report when the validator found anything."""
    if anomalies.properties["problems"]:
        raise DataValidationError(
            f"ExampleValidator found {anomalies.properties['problems']} problem(s) in {source}; nothing was trained "
            f"or pushed (report: {Path(anomalies.uri) / REPORT}):\n{anomalies.properties['report']}"
        )

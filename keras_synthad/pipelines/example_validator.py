"""ExampleValidator: each split's statistics against the schema; any anomaly stops the run.

TensorFlow Data Validation compares the statistics with the schema (missing
columns, new categorical values, wrong types, NaNs, absent values); on top, an empty
split and a declared categorical column that the input lacks are reported. The
anomalies of each split are written as TFX does (``Split-<name>/SchemaDiff.pb``),
with a readable ``report.txt`` naming split, column and problem. Empty cells are named
by column and input row (ExampleGen records where they are) instead of TFDV's
"present in fewer examples than expected".
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
#: TFDV's anomaly types for a column absent from some rows: reported as empty cells instead.
ABSENT_TYPES = {
    anomalies_pb2.AnomalyInfo.FEATURE_TYPE_LOW_FRACTION_PRESENT,
    anomalies_pb2.AnomalyInfo.FEATURE_TYPE_LOW_NUMBER_PRESENT,
}


def problems_of(anomalies: anomalies_pb2.Anomalies, split: str, named_empty=()) -> list[str]:
    """One line per anomaly; columns in `named_empty` lose the absent-value reasons (reported elsewhere)."""
    lines = []
    for column, info in sorted(anomalies.anomaly_info.items()):
        if column in named_empty and all(r.type in ABSENT_TYPES for r in info.reason):
            continue
        detail = "; ".join(r.description for r in info.reason if r.description) or info.description
        lines.append(f"split {split!r}, column {column!r}: {info.short_description}. {detail}")
    if anomalies.HasField("dataset_anomaly_info"):
        info = anomalies.dataset_anomaly_info
        lines.append(f"split {split!r}: {info.short_description}. {info.description}")
    return lines


def empty_cell_problems(examples_props: dict, data: DataConfig) -> dict[str, str]:
    """``{column: message}`` for the columns with empty cells, naming the input rows."""
    where = "CSV lines" if data.format == "csv" else "rows"
    messages = {}
    for column, found in json.loads(examples_props.get("empty_cells", "{}")).items():
        rows = ", ".join(map(str, found["rows"])) + (" ..." if found["count"] > len(found["rows"]) else "")
        messages[column] = (
            f"column {column!r}: {found['count']} empty cell(s) in {data.input} ({where} {rows}). Every row needs "
            "a value: fill them, drop those rows, or list the column in [data] drop_columns."
        )
    return messages


def run(statistics_uri: str, schema, data: DataConfig, examples_props: dict, output: Path, log) -> dict:
    output.mkdir(parents=True, exist_ok=True)
    empty = empty_cell_problems(examples_props, data)
    problems = list(empty.values())
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
        problems += problems_of(anomalies, split, named_empty=empty)
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

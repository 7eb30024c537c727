"""SchemaGen: a schema inferred from the statistics of every split (or imported), curated by the config.

Inference looks at all splits, as TFX's SchemaGen does by default, so that a
categorical value seen only among the evaluation anomalies is part of the domain.
The config then makes the schema say what the model needs:

- every feature column is required in every row (presence 1.0): the transform and
  the detectors need dense rows, so an empty cell is an anomaly, not a silent zero;
- a column the config treats as numeric is FLOAT with NaN and inf disallowed, so a
  numeric column that holds text, or a NaN, is reported by ExampleValidator;
- a categorical column is BYTES.

With ``[data] schema`` the given schema.pbtxt is used as is (ImportSchemaGen): the
way to freeze the contract, so that a new categorical value or a dropped column in
a later run is reported instead of learned.
"""

from __future__ import annotations

import json
from pathlib import Path

import tensorflow_data_validation as tfdv
from tensorflow_metadata.proto.v0 import schema_pb2

from keras_synthad.pipelines import statistics_gen
from keras_synthad.pipelines.config import SPLITS
from keras_synthad.pipelines.runner import Component

FILE_NAME = "schema.pbtxt"
MAX_DOMAIN_SIZE = 10_000


def schema_path(uri) -> Path:
    return Path(uri) / FILE_NAME


def curate(schema, categorical: list[str], numeric: list[str], label: str | None):
    for feature in schema.feature:
        if feature.name not in categorical and feature.name not in numeric and feature.name != label:
            continue
        feature.presence.min_fraction = 1.0
        feature.presence.min_count = 1
        if feature.name in numeric:
            feature.type = schema_pb2.FLOAT
            feature.ClearField("domain")
            feature.ClearField("string_domain")
            feature.ClearField("int_domain")
            feature.float_domain.disallow_nan = True
            feature.float_domain.disallow_inf = True
        elif feature.name in categorical:
            feature.type = schema_pb2.BYTES
    return schema


def run(statistics_uri: str, examples_props: dict, imported, output: Path, log) -> dict:
    output.mkdir(parents=True, exist_ok=True)
    if imported is not None:
        schema = tfdv.load_schema_text(str(imported))
        log(f"imported {imported}")
    else:
        schema = None
        for split in SPLITS:
            stats = statistics_gen.load(statistics_uri, split)
            if stats.datasets and stats.datasets[0].num_examples:
                schema = (
                    tfdv.infer_schema(stats, max_string_domain_size=MAX_DOMAIN_SIZE)
                    if schema is None
                    else tfdv.update_schema(schema, stats, max_string_domain_size=MAX_DOMAIN_SIZE)
                )
        schema = schema_pb2.Schema() if schema is None else schema
        curate(
            schema,
            json.loads(examples_props["categorical_columns"]),
            json.loads(examples_props["numeric_columns"]),
            examples_props["label_column"] or None,
        )
        log(f"inferred {len(schema.feature)} features from {', '.join(SPLITS)}")
    tfdv.write_schema_text(schema, str(schema_path(output)))
    return {"imported": str(imported or "")}


def load(uri):
    return tfdv.load_schema_text(str(schema_path(uri)))


def component(statistics, examples, imported) -> Component:
    return Component(
        "SchemaGen",
        {"statistics": statistics},
        {"schema": "Schema"},
        lambda out, log: {"schema": run(statistics.uri, examples.properties, imported, out["schema"], log)},
    )

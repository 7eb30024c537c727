"""Transform: tf.Transform on Beam. Vocabulary -> one-hot for categorical columns, scale_to_0_1 for numbers.

The analysis runs on the training split only; the resulting ``transform_fn`` then
transforms every split, and the exported SavedModel applies the very same graph to
raw serving requests. A categorical value outside the training vocabulary lands in
one out-of-vocabulary slot (all zeros in training), so serving a new value is well
defined. The transformed feature of column ``c`` is ``c_xf``; the model input is
their concatenation in the input's column order (``transformed_features.json``).

A config's ``[transform] module_file`` replaces that default with the user's own
``preprocessing_fn(inputs)``, as TFX's Transform takes a module file: it must return
one ``<column>_xf`` tensor per feature column (z-scores instead of [0, 1], say).
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
import types
from pathlib import Path

import apache_beam as beam
import tensorflow as tf
import tensorflow_transform as tft
import tensorflow_transform.beam as tft_beam
from tensorflow_metadata.proto.v0 import schema_pb2
from tensorflow_transform.tf_metadata import dataset_metadata, metadata_io
from tfx_bsl.coders import example_coder
from tfx_bsl.public import tfxio

from keras_synthad.pipelines import beam_options, examples, schema_gen
from keras_synthad.pipelines.config import SPLITS, ConfigError, TransformConfig
from keras_synthad.pipelines.runner import Component

ORDER_FILE = "transformed_features.json"
OOV_BUCKETS = 1


def transformed_name(column: str) -> str:
    return f"{column}_xf"


def raw_schema(schema, columns: list[str]) -> schema_pb2.Schema:
    """The schema of the model's raw inputs: the feature columns only, each a scalar."""
    raw = schema_pb2.Schema()
    for feature in schema.feature:
        if feature.name in columns:
            copy = raw.feature.add()
            copy.CopyFrom(feature)
            copy.ClearField("shape")
            copy.shape.SetInParent()  # a present, empty shape: FixedLenFeature([])
    return raw


def preprocessing_fn_for(categorical: list[str], numeric: list[str]):
    def preprocessing_fn(inputs):
        outputs = {}
        for name in categorical:
            index = tft.compute_and_apply_vocabulary(inputs[name], num_oov_buckets=OOV_BUCKETS, vocab_filename=name)
            size = tft.experimental.get_vocabulary_size_by_name(name) + OOV_BUCKETS
            outputs[transformed_name(name)] = tf.one_hot(index, tf.cast(size, tf.int32))
        for name in numeric:
            outputs[transformed_name(name)] = tft.scale_to_0_1(tf.cast(inputs[name], tf.float32))
        return outputs

    return preprocessing_fn


def _user_module(name: str, path: str, source: str):
    """The module executed from `source` (the user's file), once per process.

    The checked ``preprocessing_fn`` carries the file's text, not a reference to an imported
    module: a Beam worker in another process (a portable runner, Dataflow, Flink, Spark) that
    unpickles it runs the same code without the file.
    """
    module = sys.modules.get(name)
    if module is None:
        module = types.ModuleType(name)
        module.__file__ = path
        sys.modules[name] = module  # before exec: a dataclass in the file looks its module up
        try:
            exec(compile(source, path, "exec"), module.__dict__)  # noqa: S102 (the user's own module file)
        except BaseException:
            del sys.modules[name]
            raise
    return module


def user_preprocessing_fn(config: TransformConfig, columns: list[str]):
    """The ``preprocessing_fn`` of the config's module file, checked to give every ``<column>_xf``."""
    name, path = f"synthad_transform_{config.module_file.stem}", str(config.module_file)
    source, fn_name = config.module_file.read_text(), config.preprocessing_fn
    sys.modules.pop(name, None)  # this run's text of the file
    try:
        module = _user_module(name, path, source)
    except Exception as err:
        raise ConfigError(f"[transform] module_file {config.module_file} failed to import: {err!r}") from err
    if not callable(getattr(module, fn_name, None)):
        raise ConfigError(f"[transform] module_file {config.module_file} defines no function {fn_name}.")
    expected = [transformed_name(c) for c in columns]

    def checked(inputs):
        outputs = getattr(_user_module(name, path, source), fn_name)(inputs)
        missing = [column for column in expected if column not in outputs]
        if missing:
            raise ConfigError(
                f"[transform] {fn_name} in {path} must return one '<column>_xf' per feature column; missing {missing}."
            )
        return outputs

    return checked


def _encode(batch_and_passthrough):
    return example_coder.RecordBatchToExamplesEncoder().encode(batch_and_passthrough[0])


def run(
    examples_uri: str,
    schema,
    examples_props: dict,
    graph_dir: Path,
    transformed_dir: Path,
    beam_args,
    log,
    config: TransformConfig,
) -> dict:
    categorical = json.loads(examples_props["categorical_columns"])
    numeric = json.loads(examples_props["numeric_columns"])
    columns = [c for c in examples.decode(examples.read(examples_uri, "train", count=1)) if c in categorical + numeric]
    order = [transformed_name(c) for c in columns]
    raw = raw_schema(schema, columns)
    if config.module_file is not None:
        preprocessing_fn = user_preprocessing_fn(config, columns)
        summary = f"{config.preprocessing_fn} from {config.module_file}"
    else:
        preprocessing_fn = preprocessing_fn_for(categorical, numeric)
        summary = f"{len(categorical)} categorical columns one-hot, {len(numeric)} numeric scaled to [0, 1]"
    temp = tempfile.mkdtemp(prefix="tft-")
    try:
        with beam_options.pipeline(beam_args) as pipeline, tft_beam.Context(temp_dir=temp):
            sources = {s: tfxio.TFExampleRecord(examples.split_pattern(examples_uri, s), schema=raw) for s in SPLITS}
            train = pipeline | "ReadTrain" >> sources["train"].BeamSource()
            transform_fn = (train, sources["train"].TensorAdapterConfig()) | tft_beam.AnalyzeDataset(preprocessing_fn)
            _ = transform_fn | tft_beam.WriteTransformFn(str(graph_dir))
            for split in SPLITS:
                data = train if split == "train" else pipeline | f"Read{split}" >> sources[split].BeamSource()
                transformed, _ = ((data, sources[split].TensorAdapterConfig()), transform_fn) | f"Transform{split}" >> (
                    tft_beam.TransformDataset(output_record_batches=True)
                )
                _ = (
                    transformed
                    | f"Encode{split}" >> beam.FlatMap(_encode)
                    | f"Write{split}"
                    >> beam.io.WriteToTFRecord(
                        str(examples.split_dir(transformed_dir, split) / "transformed_examples"),
                        file_name_suffix=".gz",
                    )
                )
    finally:
        shutil.rmtree(temp, ignore_errors=True)
    metadata_io.write_metadata(
        dataset_metadata.DatasetMetadata(raw), str(graph_dir / tft.TFTransformOutput.RAW_METADATA_DIR)
    )
    (graph_dir / ORDER_FILE).write_text(json.dumps(order) + "\n")
    width = sum(
        int(tf.TensorShape(spec.shape).num_elements() or 1)
        for name, spec in tft.TFTransformOutput(str(graph_dir)).transformed_feature_spec().items()
        if name in order
    )
    log(f"{summary} -> {width} model inputs")
    return {"transformed_features": json.dumps(order), "width": width}


def component(examples, schema, beam_args, config: TransformConfig) -> Component:
    def body(out, log):
        properties = run(
            examples.uri,
            schema_gen.load(schema.uri),
            examples.properties,
            out["transform_graph"],
            out["transformed_examples"],
            beam_args,
            log,
            config,
        )
        return {"transform_graph": properties, "transformed_examples": properties}

    return Component(
        "Transform",
        {"examples": examples, "schema": schema},
        {"transform_graph": "TransformGraph", "transformed_examples": "Examples"},
        body,
    )

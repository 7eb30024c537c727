"""StatisticsGen: TensorFlow Data Validation statistics of every split, in one Beam job."""

from __future__ import annotations

from pathlib import Path

import tensorflow_data_validation as tfdv
from tfx_bsl.public import tfxio

from keras_synthad.pipelines import beam_options, examples
from keras_synthad.pipelines.config import SPLITS
from keras_synthad.pipelines.runner import Component

FILE_NAME = "FeatureStats.pb"


def stats_path(uri, split: str) -> Path:
    return Path(uri) / f"Split-{split}" / FILE_NAME


def run(examples_uri: str, output: Path, beam_args, log) -> dict:
    with beam_options.pipeline(beam_args) as pipeline:
        for split in SPLITS:
            source = tfxio.TFExampleRecord(examples.split_pattern(examples_uri, split))
            _ = (
                pipeline
                | f"Read{split}" >> source.BeamSource()
                | f"Stats{split}" >> tfdv.GenerateStatistics(tfdv.StatsOptions())
                | f"Write{split}" >> tfdv.WriteStatisticsToBinaryFile(str(stats_path(output, split)))
            )
    log("statistics of " + ", ".join(SPLITS))
    return {"split_names": '["' + '", "'.join(SPLITS) + '"]'}


def load(uri, split: str):
    return tfdv.load_stats_binary(str(stats_path(uri, split)))


def component(examples, beam_args) -> Component:
    return Component(
        "StatisticsGen",
        {"examples": examples},
        {"statistics": "ExampleStatistics"},
        lambda out, log: {"statistics": run(examples.uri, out["statistics"], beam_args, log)},
    )

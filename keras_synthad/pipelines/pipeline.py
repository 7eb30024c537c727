"""The pipeline: TFX's components in TFX's order, wired on TFX's own libraries."""

from __future__ import annotations

from keras_synthad.pipelines import (
    evaluator,
    example_gen,
    example_validator,
    infra_validator,
    pusher,
    report,
    schema_gen,
    statistics_gen,
    trainer,
    transform,
)
from keras_synthad.pipelines.config import PipelineConfig
from keras_synthad.pipelines.runner import Runner


def run_pipeline(config: PipelineConfig, beam_args=(), log=print) -> dict:
    """Run every component once and return the run's report.

    Raises `DataValidationError` when ExampleValidator finds anomalies: nothing is then
    trained or pushed. A model that is not blessed is not pushed; the report says why.
    """
    beam_args = [*config.beam_args, *beam_args]
    with Runner(config, log) as r:
        examples = r.run(example_gen.component(config.data))  # input file -> tf.Example splits; train keeps normal rows
        statistics = r.run(statistics_gen.component(examples, beam_args))  # TFDV statistics of every split
        schema = r.run(schema_gen.component(statistics, examples, config.data.schema))  # inferred or imported, curated
        anomalies = r.run(example_validator.component(statistics, schema, examples, config.data))  # stats vs schema
        example_validator.stop_on(anomalies, config.data.input)  # any anomaly ends the run here, before training
        transformed = r.run(transform.component(examples, schema, beam_args))  # vocab -> one-hot, scale_to_0_1
        model = r.run(
            trainer.component(config, examples, schema, transformed)
        )  # the method, on its backend, own process
        baseline = evaluator.last_blessed_model(r.store, r.pipeline_context)  # what the candidate must not fall below
        evaluation = r.run(evaluator.component(model, examples, config.evaluator, baseline))  # test metrics, blessing
        infra = r.run(infra_validator.component(model))  # the SavedModel answers its warmup requests in a fresh process
        pushed = r.run(
            pusher.component(model, evaluation, infra, config.serving_base)
        )  # next version, if blessed twice
        return report.build(config, r, model, evaluation, infra, pushed)

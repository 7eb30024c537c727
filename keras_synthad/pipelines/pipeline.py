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
        # input file -> tf.Example splits; the training split keeps normal rows only
        examples = r.run(example_gen.component(config.data))
        # TFDV statistics of every split
        statistics = r.run(statistics_gen.component(examples, beam_args))
        # a schema inferred from the statistics (or imported), curated by the config
        schema = r.run(schema_gen.component(statistics, examples, config.data.schema))
        # statistics against the schema; any anomaly ends the run here, before training
        anomalies = r.run(example_validator.component(statistics, schema, examples, config.data))
        example_validator.stop_on(anomalies, config.data.input)
        # vocabularies -> one-hot and scale_to_0_1 (or the config's module_file), analysed on train, applied to every split
        transformed = r.run(transform.component(examples, schema, beam_args, config.transform))
        # the configured method on the configured backend, in its own process; exports the SavedModel
        model = r.run(trainer.component(config, examples, schema, transformed))
        # test-split metrics through the SavedModel, beside IsolationForest on the same transformed rows;
        # blessed above the floors and the last blessed model
        baseline = evaluator.last_blessed_model(r.store, r.pipeline_context)
        evaluation = r.run(evaluator.component(model, examples, config.evaluator, baseline, transformed))
        # the SavedModel answers its warmup requests in a fresh process, as TF Serving would
        infra = r.run(infra_validator.component(model))
        # the next integer version under the serving base, only if both blessings hold
        pushed = r.run(pusher.component(model, evaluation, infra, config.serving_base))
        return report.build(config, r, model, evaluation, infra, pushed)

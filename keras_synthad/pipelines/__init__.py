"""A TFX-style pipeline on TFX's own libraries (TFDV, tf.Transform, ML Metadata, Beam).

ExampleGen -> StatisticsGen -> SchemaGen -> ExampleValidator -> Transform -> Trainer
-> Evaluator -> InfraValidator -> Pusher, one module per component, wired in
`pipeline.py`; `batch_scoring.py` scores files with Beam's RunInference. This package
imports TensorFlow: it is TensorFlow by design (the Trainer alone runs any backend).
"""

from keras_synthad.pipelines.config import ConfigError, PipelineConfig, load
from keras_synthad.pipelines.errors import DataValidationError
from keras_synthad.pipelines.pipeline import run_pipeline

__all__ = ["ConfigError", "DataValidationError", "PipelineConfig", "load", "run_pipeline"]

"""Batch scoring at scale: a Beam job running RunInference over an exported SavedModel.

Each CSV row of the input is scored through the SavedModel's ``serving_default``
(raw columns in, the Transform graph and the threshold inside) and written back
unchanged with two more columns, ``score`` and ``is_anomaly``. Rows are batched by
RunInference; columns the model does not take (a label, an id) pass through. The
output shards are written by Beam's file sink, which renames them into place only
when the job succeeds. Any Beam runner works (``--runner``, ``--direct_num_workers``).
"""

from __future__ import annotations

import csv
import gzip
import io
from pathlib import Path

import apache_beam as beam
import numpy as np
from apache_beam.ml.inference.base import ModelHandler, PredictionResult, RunInference

from keras_synthad.export.client import SIGNATURE, latest_version_dir
from keras_synthad.pipelines import beam_options

OUTPUT_COLUMNS = ("score", "is_anomaly")


def read_header(path) -> list[str]:
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rt", newline="") as f:
        header = next(csv.reader(f), None)
    if not header:
        raise ValueError(f"{path} is empty: a CSV with a header row is expected.")
    return header


def model_inputs(saved_model_dir) -> dict[str, str]:
    """The raw inputs of ``serving_default``: name -> "string" or "float32"."""
    import tensorflow as tf

    signature = tf.saved_model.load(str(saved_model_dir)).signatures[SIGNATURE]
    return {name: spec.dtype.name for name, spec in signature.structured_input_signature[1].items()}


class CsvSavedModelHandler(ModelHandler):
    """RunInference handler: CSV lines in, (line, score, is_anomaly) out, one SavedModel call per batch."""

    def __init__(self, saved_model_dir: str, header: list[str], inputs: dict[str, str], batch_size: int = 4096):
        self._dir = saved_model_dir
        self._positions = {name: header.index(name) for name in inputs}
        self._inputs = inputs
        self._header = header
        self._batch_size = batch_size

    def load_model(self):
        import tensorflow as tf

        return tf.saved_model.load(self._dir)

    def batch_elements_kwargs(self):
        return {"min_batch_size": 1, "max_batch_size": self._batch_size}

    def _columns(self, lines: list[str]) -> dict[str, np.ndarray]:
        rows = list(csv.reader(io.StringIO("\n".join(lines))))
        for line, row in zip(lines, rows, strict=True):
            if len(row) != len(self._header):
                raise ValueError(
                    f"A row has {len(row)} fields where the header has {len(self._header)}: {line[:200]!r}"
                )
        columns = {}
        for name, position in self._positions.items():
            values = [row[position] for row in rows]
            if self._inputs[name] == "string":
                columns[name] = np.array(values, dtype=object)
                continue
            try:
                columns[name] = np.array([float(v) if v.strip() else np.nan for v in values], dtype=np.float32)
            except ValueError as err:
                raise ValueError(f"Column {name!r} is numeric in the model but holds text: {err}") from None
            if np.isnan(columns[name]).any():
                raise ValueError(f"Column {name!r} has an empty or NaN value; the model needs every value.")
        return columns

    def run_inference(self, batch, model, inference_args=None):
        import tensorflow as tf

        columns = self._columns(list(batch))
        out = model.signatures[SIGNATURE](**{k: tf.constant(v) for k, v in columns.items()})
        scores, flags = out["score"].numpy(), out["is_anomaly"].numpy()
        return [PredictionResult(line, (float(s), int(a))) for line, s, a in zip(batch, scores, flags, strict=True)]


def _line(result: PredictionResult) -> str:
    score, flag = result.inference
    return f"{result.example},{score:.7g},{flag}"


def run(model_path, input_path, output_prefix, beam_args=(), version: int | None = None) -> dict:
    """Score every row of the CSV `input_path`; write ``<output_prefix>-SSSSS-of-NNNNN.csv`` shards."""
    saved_model = latest_version_dir(model_path, version)
    if not Path(input_path).is_file():
        raise FileNotFoundError(f"--input {input_path} does not exist.")
    header = read_header(input_path)
    inputs = model_inputs(saved_model)
    missing = [name for name in inputs if name not in header]
    if missing:
        raise ValueError(f"{input_path} lacks the columns {missing} that the model {saved_model} takes.")
    clash = [name for name in OUTPUT_COLUMNS if name in header]
    if clash:
        raise ValueError(f"{input_path} already has columns named {clash}; rename them before scoring.")
    handler = CsvSavedModelHandler(str(saved_model), header, inputs)
    Path(output_prefix).absolute().parent.mkdir(parents=True, exist_ok=True)
    with beam_options.pipeline(beam_args) as pipeline:
        _ = (
            pipeline
            | "Read" >> beam.io.ReadFromText(str(input_path), skip_header_lines=1)
            | "Score" >> RunInference(handler)
            | "Format" >> beam.Map(_line)
            | "Write"
            >> beam.io.WriteToText(
                str(output_prefix), file_name_suffix=".csv", header=",".join([*header, *OUTPUT_COLUMNS])
            )
        )
    return {
        "model": str(saved_model),
        "output": sorted(
            str(p) for p in Path(output_prefix).absolute().parent.glob(Path(output_prefix).name + "-*.csv")
        ),
    }

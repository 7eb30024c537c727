"""Batch scoring at scale: a Beam job running RunInference over an exported SavedModel.

Each CSV row of the input is scored through the SavedModel's ``serving_default``
(raw columns in, the Transform graph, threshold and range guard inside) and written
back unchanged with three more columns, ``score``, ``is_anomaly`` and ``out_of_range``
(a value outside what the model saw in training: an unseen category, a number past the
training range; such rows are flagged and counted). Columns the model does not take
(a label, an id) pass through.

The file is read in blocks of whole lines (``CHUNK_CHARS`` characters, passed between
workers as one string with the number of its first line); one RunInference call parses a
block with pandas' C reader and scores it in one SavedModel call. Each block's scored
lines travel to the writer as one string. A row that cannot be scored (wrong number of fields, an empty cell,
text or NaN in a numeric column) goes to the dead-letter output
``<prefix>-errors-SSSSS-of-NNNNN.csv`` with its CSV line number and the reason, and the
other rows are scored; a chunk whose model call fails goes there whole, through
RunInference's own exception handling. The output shards are renamed into place only
when the job succeeds, and a failed job leaves no temporary folder behind. Any Beam
runner works (``--runner``, ``--direct_num_workers``).
"""

from __future__ import annotations

import csv
import gzip
import io
import shutil
from pathlib import Path

import apache_beam as beam
import numpy as np
import pandas as pd
from apache_beam.metrics.metric import Metrics, MetricsFilter
from apache_beam.ml.inference.base import ModelHandler, PredictionResult, RunInference

from keras_synthad.export.client import SIGNATURE, latest_version_dir
from keras_synthad.pipelines import beam_options

OUTPUT_COLUMNS = ("score", "is_anomaly", "out_of_range")
DEAD_LETTER_COLUMNS = ("line", "reason", "row")
CHUNK_CHARS = 1 << 20  # characters of CSV text per RunInference call (about 7,000 KDD Cup 99 rows)
COUNTERS = ("rows_scored", "rows_out_of_range", "rows_dead_lettered")


def _open(path):
    return (gzip.open if str(path).endswith(".gz") else open)(path, "rt", newline="")


def read_header(path) -> list[str]:
    with _open(path) as f:
        header = next(csv.reader(f), None)
    if not header:
        raise ValueError(f"{path} is empty: a CSV with a header row is expected.")
    return header


def numbered_chunks(path, size: int = CHUNK_CHARS):
    """``(line number of the first line, text of whole lines)`` blocks of the CSV's data rows, about
    `size` characters each (the header is line 1): one string per chunk, cheap to hand to a worker."""
    with _open(path) as f:
        f.readline()
        number = 2
        while block := f.read(size):
            if not block.endswith("\n"):
                block += f.readline()
            yield number, block
            number += block.count("\n")


def chunk_lines(chunk) -> tuple[list[int], list[str]]:
    """The line numbers and texts of a chunk's non-empty lines (line ends removed)."""
    first, block = chunk
    lines = block.split("\n")
    if block.endswith("\n"):
        lines.pop()
    if "\r" in block:
        lines = [line.rstrip("\r") for line in lines]
    if "" not in lines:
        return list(range(first, first + len(lines))), lines
    kept = [i for i, line in enumerate(lines) if line]
    return [first + i for i in kept], [lines[i] for i in kept]


def field_counts(lines: list[str]) -> np.ndarray:
    """The number of CSV fields of each line; -1 for a line whose quotes are not closed.

    A line without quotes is counted by its commas; one with quotes is split by `csv`."""
    counts = np.fromiter((line.count(",") + 1 for line in lines), dtype=np.int64, count=len(lines))
    quoted = [i for i, line in enumerate(lines) if '"' in line]
    for i in quoted:
        counts[i] = -1 if lines[i].count('"') % 2 else len(next(csv.reader([lines[i]])))
    return counts


def model_inputs(saved_model_dir) -> dict[str, str]:
    """The raw inputs of ``serving_default``: name -> "string" or "float32" (read from
    ``saved_model.pb``, without loading the model)."""
    import tensorflow as tf
    from tensorflow.core.protobuf import saved_model_pb2

    saved_model = saved_model_pb2.SavedModel.FromString((Path(saved_model_dir) / "saved_model.pb").read_bytes())
    signature = saved_model.meta_graphs[0].signature_def[SIGNATURE]
    return {name: tf.dtypes.as_dtype(tensor.dtype).name for name, tensor in signature.inputs.items()}


def _csv_cell(text: str) -> str:
    return '"' + text.replace('"', '""') + '"'


def dead_letter(number: int, reason: str, line: str) -> str:
    return f"{number},{_csv_cell(reason)},{_csv_cell(line)}"


class CsvSavedModelHandler(ModelHandler):
    """RunInference handler: a chunk of CSV lines in, its scored lines (one text) and dead letters out."""

    def __init__(self, saved_model_dir: str, header: list[str], inputs: dict[str, str]):
        self._dir = saved_model_dir
        self._positions = {name: header.index(name) for name in inputs}
        self._inputs = inputs
        self._width = len(header)

    def load_model(self):
        import tensorflow as tf

        return tf.saved_model.load(self._dir)

    def batch_elements_kwargs(self):
        return {"min_batch_size": 1, "max_batch_size": 1}  # an element is already a chunk of rows

    def parse(self, lines: list[str]) -> tuple[dict[str, np.ndarray], dict[int, str]]:
        """The model's input columns of the rows that can be scored, and ``{row index: reason}`` of the others.

        pandas' C reader splits the rows and converts the numeric columns; Python only
        touches a row to count its fields (when the chunk's commas do not add up) and to
        word the reason of a bad one.
        """
        reasons, kept, text = {}, np.arange(len(lines)), "\n".join(lines)
        cells = None
        if '"' not in text and text.count(",") == (self._width - 1) * len(lines):
            try:  # every row has `width` fields, unless one has more (the reader refuses it) and another fewer
                cells = self._read(text)
            except pd.errors.ParserError:
                pass
        if cells is None:
            counts = field_counts(lines)
            reasons = {
                int(i): "a quote is not closed"
                if counts[i] < 0
                else f"{counts[i]} fields where the header has {self._width}"
                for i in np.flatnonzero(counts != self._width)
            }
            kept = np.flatnonzero(counts == self._width)
            cells = self._read("\n".join(lines[i] for i in kept))
        if len(cells) != len(kept):
            raise ValueError(f"the CSV reader split {len(kept)} lines into {len(cells)} rows")
        columns, bad = {}, np.zeros(len(kept), dtype=bool)
        for name, position in self._positions.items():
            values = cells[position].to_numpy()
            if self._inputs[name] == "string":
                columns[name] = values
                wrong = values == ""
                if " " in text or "\t" in text:
                    wrong |= np.char.strip(values.astype(str)) == ""
            else:
                numbers = values if values.dtype == np.float32 else pd.to_numeric(values, errors="coerce")
                columns[name] = np.asarray(numbers, dtype=np.float32)
                wrong = ~np.isfinite(columns[name])
            for j in np.flatnonzero(wrong & ~bad):
                cell = next(csv.reader([lines[kept[j]]]))[position].strip()
                reasons[int(kept[j])] = self._reason(name, cell)
            bad |= wrong
        return {k: v[~bad] for k, v in columns.items()}, reasons

    def _read(self, text: str) -> pd.DataFrame:
        """The model's columns of the CSV `text`, every cell as written: numeric columns as float32,
        or, when one holds a cell that is not a number (an empty one too), as text."""

        def read(numeric_type):
            return pd.read_csv(
                io.StringIO(text),
                header=None,
                names=range(self._width),
                usecols=sorted(self._positions.values()),
                dtype={p: str if self._inputs[n] == "string" else numeric_type for n, p in self._positions.items()},
                na_filter=False,
                skip_blank_lines=False,
                engine="c",
            )

        try:
            return read(np.float32)
        except pd.errors.ParserError:
            raise
        except ValueError:  # text, an empty cell or "nan" in a numeric column: converted column by column
            return read(str)

    def _reason(self, name: str, cell: str) -> str:
        if cell == "":  # the only bad text cell
            return f"column {name!r} is empty; the model needs a value"
        try:
            value = float(cell)
        except ValueError:
            return f"column {name!r} holds {cell[:40]!r}, not a number"
        return f"column {name!r} is {value}; the model needs a finite number"

    def run_inference(self, batch, model, inference_args=None):
        import tensorflow as tf

        results = []
        for chunk in batch:
            numbers, lines = chunk_lines(chunk)
            columns, reasons = self.parse(lines)
            scored = []  # one text of the chunk's scored lines: a single element for the writer
            if len(reasons) < len(lines):
                out = {
                    k: v.numpy()
                    for k, v in model.signatures[SIGNATURE](**{k: tf.constant(v) for k, v in columns.items()}).items()
                }
                good = [line for i, line in enumerate(lines) if i not in reasons]
                outputs = (out["score"].tolist(), out["is_anomaly"].tolist(), out["out_of_range"].tolist())
                scored = ["\n".join(map("%s,%.7g,%d,%d".__mod__, zip(good, *outputs, strict=True)))]
                outside = int(out["out_of_range"].sum())
            else:
                outside = 0
            dead = [dead_letter(numbers[i], reason, lines[i]) for i, reason in sorted(reasons.items())]
            results.append(PredictionResult(chunk, (scored, len(lines) - len(dead), dead, outside)))
        return results


class Route(beam.DoFn):
    """A chunk's scored lines (one text) to the main output, dead letters to ``"dead_letter"``; counts both."""

    def __init__(self):
        self.counters = {name: Metrics.counter("batch_scoring", name) for name in COUNTERS}

    def process(self, result: PredictionResult):
        scored, n_scored, dead, outside = result.inference
        self.counters["rows_scored"].inc(n_scored)
        self.counters["rows_out_of_range"].inc(outside)
        self.counters["rows_dead_lettered"].inc(len(dead))
        yield from scored
        for line in dead:
            yield beam.pvalue.TaggedOutput("dead_letter", line)


def failed_chunk(failure):
    """Every row of a chunk whose model call raised, with the error as the reason."""
    batch, error = failure
    reason = f"the model call failed for this chunk: {type(error).__name__}: {str(error).splitlines()[0][:300] if str(error) else ''}"
    for chunk in batch:
        numbers, lines = chunk_lines(chunk)
        Metrics.counter("batch_scoring", "rows_dead_lettered").inc(len(lines))
        for number, line in zip(numbers, lines, strict=True):
            yield dead_letter(number, reason, line)


def _temporary_folders(output_prefix) -> set[Path]:
    prefix = Path(output_prefix).absolute()
    return set(prefix.parent.glob(f"beam-temp-{prefix.name}*"))


def run(model_path, input_path, output_prefix, beam_args=(), version: int | None = None) -> dict:
    """Score every row of the CSV `input_path`; write ``<output_prefix>-SSSSS-of-NNNNN.csv`` shards and,
    when some rows cannot be scored, ``<output_prefix>-errors-SSSSS-of-NNNNN.csv``."""
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
    before = _temporary_folders(output_prefix)
    try:
        pipeline = beam_options.pipeline(beam_args)
        chunks = (
            pipeline
            | "Input" >> beam.Create([str(input_path)])
            | "Read" >> beam.FlatMap(numbered_chunks)
            | "Spread" >> beam.Reshuffle()
        )
        results, failures = chunks | "Score" >> RunInference(handler).with_exception_handling()
        routed = results | "Route" >> beam.ParDo(Route()).with_outputs("dead_letter", main="scored")
        dead = (
            routed.dead_letter,
            failures.failed_inferences | "Failed" >> beam.FlatMap(failed_chunk),
        ) | beam.Flatten()
        _ = routed.scored | "Write" >> beam.io.WriteToText(
            str(output_prefix), file_name_suffix=".csv", header=",".join([*header, *OUTPUT_COLUMNS])
        )
        _ = dead | "WriteDeadLetter" >> beam.io.WriteToText(
            f"{output_prefix}-errors",
            file_name_suffix=".csv",
            header=",".join(DEAD_LETTER_COLUMNS),
            skip_if_empty=True,
        )
        result = pipeline.run()
        result.wait_until_finish()
    finally:
        for folder in _temporary_folders(output_prefix) - before:
            shutil.rmtree(folder, ignore_errors=True)
    counts = {name: 0 for name in COUNTERS}
    for counter in result.metrics().query(MetricsFilter().with_namespace("batch_scoring"))["counters"]:
        counts[counter.key.metric.name] += counter.committed or 0
    outputs = sorted(Path(output_prefix).absolute().parent.glob(Path(output_prefix).name + "-*.csv"))
    errors = [str(p) for p in outputs if p.name.startswith(Path(output_prefix).name + "-errors-")]
    return {
        "model": str(saved_model),
        "output": [str(p) for p in outputs if str(p) not in errors],
        "dead_letter": errors,
        **counts,
    }

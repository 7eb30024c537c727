"""Beam batch scoring of the full KDD Cup 99 file against the single-process ceiling, in one run.

Both sides score every row of the same headered CSV (494,021 rows) with the same pushed
SavedModel (raw columns in, the Transform graph inside):

- **ceiling**: one process loads the SavedModel, reads the CSV with pandas' C reader in
  chunks of 4,096 rows and calls ``serving_default`` on each chunk, nothing else (no
  output written); its time is also recorded without the model's load, and the Beam
  rates are given against both;
- **Beam**: ``keras_synthad.pipelines.batch_scoring.run`` (what ``synthad score`` runs)
  on the DirectRunner with ``--direct_num_workers`` workers in each ``--modes`` running
  mode (threads, or processes that each start a Python with TensorFlow and load the
  model), writing the scored CSV and its dead-letter output.

They alternate `--repeats` times; the record keeps every time and the medians. The
Beam output is checked against the ceiling's scores (the same multiset of scores, to the
7 significant digits the CSV holds), so a faster job cannot be a different one.

The model is the one the README's main job pushes (``synthad_output/kddcup99_sample/serving``,
trained on the embedded sample, which has the full file's columns); run that first.

Usage: ``python -m benchmarks.batch_scoring --workers 2``
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import time
from pathlib import Path

import numpy as np
import pandas as pd

from benchmarks.common import RESULTS, environment, with_header, write_json
from keras_synthad.data.paths import data_dir
from keras_synthad.export.client import SIGNATURE, latest_version_dir
from keras_synthad.pipelines import batch_scoring

CHUNK = 4096


def headered_copy(work: Path) -> Path:
    """The KDD Cup 99 10 % file with its column names as a header row (the scoring job needs one)."""
    folder = data_dir("kddcup99")
    target = work / "kddcup99_with_header.csv"
    if not target.exists():
        with_header(folder / "kddcup.data_10_percent.gz", (folder / "columns.txt").read_text().split(), target)
    return target


def ceiling(saved_model: Path, csv_path: Path) -> tuple[float, float, np.ndarray]:
    """Seconds to load the model, read and score every row in this process; the same without
    the load; the scores."""
    import tensorflow as tf

    start = time.perf_counter()
    inputs = batch_scoring.model_inputs(saved_model)
    signature = tf.saved_model.load(str(saved_model)).signatures[SIGNATURE]
    dtypes = {name: (str if kind == "string" else np.float32) for name, kind in inputs.items()}
    loaded = time.perf_counter()
    scores = []
    for chunk in pd.read_csv(csv_path, usecols=list(inputs), dtype=dtypes, chunksize=CHUNK, engine="c"):
        out = signature(**{name: tf.constant(chunk[name].to_numpy()) for name in inputs})
        scores.append(out["score"].numpy())
    end = time.perf_counter()
    return end - start, end - loaded, np.concatenate(scores)


def beam(model: Path, csv_path: Path, output: Path, workers: int, mode: str) -> tuple[float, dict]:
    shutil.rmtree(output, ignore_errors=True)
    args = ["--runner=DirectRunner", f"--direct_num_workers={workers}", f"--direct_running_mode={mode}"]
    start = time.perf_counter()
    result = batch_scoring.run(model, csv_path, output / "kddcup99", args)
    return time.perf_counter() - start, result


def check(result: dict, reference: np.ndarray) -> None:
    """Every row scored and written once, with the ceiling's scores (compared sorted: the shards' order is Beam's)."""
    written = pd.concat([pd.read_csv(p, usecols=["score"]) for p in result["output"]])["score"].to_numpy()
    if result["rows_scored"] != len(reference) or len(written) != len(reference) or result["dead_letter"]:
        raise AssertionError(
            f"Beam wrote {len(written)} scored rows ({result['rows_scored']} counted) of {len(reference)}"
        )
    np.testing.assert_allclose(np.sort(written), np.sort(reference), rtol=1e-6, atol=1e-6)


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="synthad_output/kddcup99_sample/serving", help="a pushed model's base")
    parser.add_argument("--workdir", default="synthad_output/batch_scoring_benchmark")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--modes", default="multi_threading,multi_processing", help="DirectRunner running modes")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--output", default=str(RESULTS / "batch_scoring.json"))
    args = parser.parse_args(argv)
    if not Path(args.model).is_dir():
        parser.error(f"--model {args.model} does not exist: run the README's main job first, or name a pushed model.")
    work = Path(args.workdir).absolute()
    work.mkdir(parents=True, exist_ok=True)
    csv_path = headered_copy(work)
    saved_model = latest_version_dir(args.model)
    modes = args.modes.split(",")
    ceiling_seconds, scoring_seconds, beam_seconds = [], [], {mode: [] for mode in modes}
    for _ in range(args.repeats):
        seconds, scoring, reference = ceiling(saved_model, csv_path)
        ceiling_seconds.append(seconds)
        scoring_seconds.append(scoring)
        print(f"ceiling {seconds:.2f} s ({scoring:.2f} s without loading the model)", flush=True)
        for mode in modes:
            seconds, result = beam(Path(args.model), csv_path, work / "scored", args.workers, mode)
            beam_seconds[mode].append(seconds)
            print(f"Beam, {mode}: {seconds:.1f} s", flush=True)
            check(result, reference)
    rows = len(reference)
    ceiling_rate = rows / statistics.median(ceiling_seconds)
    scoring_rate = rows / statistics.median(scoring_seconds)
    beam_rates = {mode: rows / statistics.median(times) for mode, times in beam_seconds.items()}
    record = {
        "benchmark": "Beam batch scoring against the single-process ceiling",
        "environment": environment(),
        "input": "KDD Cup 99 10 % (kddcup.data_10_percent.gz) with a header row",
        "rows": rows,
        "model": str(saved_model),
        "chunk_rows": CHUNK,
        "ceiling_seconds": [round(s, 2) for s in ceiling_seconds],
        "ceiling_rows_per_second": round(ceiling_rate),
        "ceiling_without_load_seconds": [round(s, 2) for s in scoring_seconds],
        "ceiling_without_load_rows_per_second": round(scoring_rate),
        "beam": [
            {
                "runner": f"DirectRunner, {mode}, {args.workers} workers",
                "seconds": [round(s, 2) for s in beam_seconds[mode]],
                "rows_per_second": round(beam_rates[mode]),
                "over_ceiling": round(beam_rates[mode] / ceiling_rate, 3),
                "over_ceiling_without_load": round(beam_rates[mode] / scoring_rate, 3),
            }
            for mode in modes
        ],
        "output_checked": "every run: every row written once, no dead letter, sorted scores equal the ceiling's to 1e-6",
    }
    write_json(args.output, record)
    print(record)
    return record


if __name__ == "__main__":
    main()

"""KDD Cup 99 (494,021 rows) through the whole pipeline with Fence GAN, then Beam batch scoring of every row.

Runs the user-level pipeline `pipelines/kddcup99/config.toml` (outputs under ``--workdir``), records each
component's wall time and the Evaluator's metrics, then scores the full file (a copy
with a header row) with ``synthad score --model`` on the DirectRunner with
``--direct_num_workers`` workers, and records rows/s.

Usage: ``python -m benchmarks.pipeline_kddcup99 --workdir /tmp/kdd --workers 2``
"""

from __future__ import annotations

import argparse
import re
import time
from pathlib import Path

from benchmarks.common import environment, with_header, write_json
from keras_synthad.pipelines import batch_scoring, config, run_pipeline

CONFIG = Path(__file__).parents[1] / "pipelines" / "kddcup99" / "config.toml"
TIMING = re.compile(r"^\[(\w+)\] .*\((\d+\.\d)s, execution \d+\)$")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--workdir", default="synthad_output/kddcup99_benchmark")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--runner", default="FnApiRunner", help="the pipeline's Beam runner")
    parser.add_argument("--output", default="benchmarks/results/pipeline_kddcup99.json")
    args = parser.parse_args()
    work = Path(args.workdir).absolute()
    cfg = config.load(CONFIG)
    cfg = type(cfg)(
        **{
            **cfg.__dict__,
            "root": work / "pipeline",
            "metadata": work / "pipeline" / "metadata.sqlite",
            "serving_base": work / "serving",
        }
    )
    seconds = {}

    def log(line: str) -> None:
        print(line, flush=True)
        match = TIMING.match(line)
        if match:
            seconds[match.group(1)] = float(match.group(2))

    start = time.perf_counter()
    report = run_pipeline(cfg, [f"--runner={args.runner}"], log=log)
    pipeline_seconds = time.perf_counter() - start

    headered = with_header(cfg.data.input, cfg.data.column_names, work / "kddcup99_with_header.csv")
    rows = sum(1 for _ in open(headered)) - 1
    beam_args = [
        "--runner=DirectRunner",
        f"--direct_num_workers={args.workers}",
        "--direct_running_mode=multi_processing",
    ]
    start = time.perf_counter()
    scored = batch_scoring.run(cfg.serving_base, headered, work / "scored" / "kddcup99", beam_args)
    scoring_seconds = time.perf_counter() - start
    written = sum(sum(1 for _ in open(p)) - 1 for p in scored["output"])
    result = {
        "environment": environment(),
        "config": str(CONFIG.relative_to(Path.cwd()) if CONFIG.is_relative_to(Path.cwd()) else CONFIG),
        "pipeline_runner": args.runner,
        "pipeline_seconds": round(pipeline_seconds, 1),
        "component_seconds": seconds,
        "metrics": report["metrics"],
        "blessed": report["blessed"],
        "pushed_version": report["pushed_version"],
        "batch_scoring": {
            "rows": rows,
            "rows_written": written,
            "runner": " ".join(beam_args),
            "seconds": round(scoring_seconds, 1),
            "rows_per_second": round(rows / scoring_seconds),
        },
    }
    write_json(args.output, result)
    print(result)


if __name__ == "__main__":
    main()

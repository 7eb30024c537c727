"""Beam pipelines built from pass-through command-line flags.

Any Beam flag works (``--runner=FlinkRunner --flink_master=...``, Spark, Dataflow,
``--direct_num_workers=2``); the default is the DirectRunner. ``--runner=FnApiRunner``
names Beam's in-process portable runner, which Beam's flag parser does not know by
name; tests use it so that nothing is fetched from the network.
"""

from __future__ import annotations

import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions

IN_PROCESS = "FnApiRunner"


def split_runner(beam_args) -> tuple[object | None, list[str]]:
    """(runner instance or None, the remaining flags) from `beam_args`."""
    args, runner = [], None
    items = list(beam_args or [])
    i = 0
    while i < len(items):
        arg = items[i]
        if arg == "--runner" and i + 1 < len(items):
            arg, i = f"--runner={items[i + 1]}", i + 1
        if arg == f"--runner={IN_PROCESS}":
            from apache_beam.runners.portability.fn_api_runner import FnApiRunner

            runner = FnApiRunner()
        else:
            args.append(arg)
        i += 1
    return runner, args


def options(beam_args) -> PipelineOptions:
    return PipelineOptions(split_runner(beam_args)[1])


def pipeline(beam_args) -> beam.Pipeline:
    """A Beam pipeline for one component run."""
    runner, args = split_runner(beam_args)
    return beam.Pipeline(runner=runner, options=PipelineOptions(args))

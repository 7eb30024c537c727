"""The ``synthad`` command.

Keras reads ``KERAS_BACKEND`` when it is first imported, so this module imports
nothing from Keras until the backend option has been applied.
"""

from __future__ import annotations

import argparse
import os
import sys
from importlib import resources
from pathlib import Path

ERROR_PREFIX = "synthad {command}: error: "  # a user mistake: one line, exit status 2
DEFAULT_CONFIG = "kddcup99_sample.toml"  # package data of keras_synthad.pipelines.configs


def default_config() -> Path:
    """The embedded main job's config, where the installed package keeps it."""
    return Path(str(resources.files("keras_synthad.pipelines") / "configs" / DEFAULT_CONFIG))


def _quiet_google_warnings() -> None:
    """Before the pipeline modules load: no Google FutureWarnings, no TFDV notice about IPython."""
    import contextlib
    import io
    import warnings

    warnings.filterwarnings("ignore", category=FutureWarning, module=r"google\..*")
    with contextlib.redirect_stderr(io.StringIO()):  # TFDV writes its IPython notice to stderr on import
        import tensorflow_data_validation  # noqa: F401


def _pipeline_run(args) -> int:
    _quiet_google_warnings()
    from keras_synthad.pipelines import DataValidationError, load, run_pipeline
    from keras_synthad.pipelines.report import format_report

    config = load(args.config or default_config())
    try:
        report = run_pipeline(config, args.beam_args)
    except DataValidationError as err:
        print(f"synthad pipeline: {err}", file=sys.stderr)
        return 2
    print(format_report(report))
    return 0 if report["pushed_version"] else 3


def _load_model(path):
    """A `.keras` file, or an error that says what is wrong with it (Keras calls a corrupt file "not found")."""
    import zipfile

    import keras

    import keras_synthad  # noqa: F401  (registers the classes load_model needs)

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no .keras file at {path}")
    if not zipfile.is_zipfile(path):
        raise ValueError(
            f"{path} is not a readable .keras file (not a zip archive: truncated or corrupt?); save the model "
            "again with model.save(...)"
        )
    return keras.saving.load_model(path)


def _export(args) -> int:
    import json

    import numpy as np

    from keras_synthad.export import export_saved_model

    def names(value):
        if value is None:
            return None
        return json.loads(value) if value.lstrip().startswith("[") else value.split(",")

    warmup = None
    if args.warmup_rows is not None:  # .npy rows, or .npz: "rows", or one array per raw column
        loaded = np.load(args.warmup_rows, allow_pickle=False)
        warmup = loaded if isinstance(loaded, np.ndarray) else dict(loaded)
        if isinstance(warmup, dict) and list(warmup) == ["rows"]:
            warmup = warmup["rows"]
    model = _load_model(args.model)
    version = export_saved_model(
        model,
        args.base,
        feature_names=names(args.feature_names),
        warmup_rows=warmup,
        model_name=args.model_name,
        transform_dir=args.transform_dir,
        transformed_features=names(args.transformed_features),
    )
    print(version)
    return 0


def _score(args) -> int:
    import numpy as np

    if args.model is not None:
        return _batch_score(args)
    if args.beam_args:
        raise SystemExit(f"unrecognized arguments: {' '.join(args.beam_args)} (Beam flags go with --model)")
    from keras_synthad.export import client as serving_client

    inputs = serving_client.read_inputs(args.input, args.single_input)
    rows = next(iter(inputs.values()))
    result = serving_client.score(args.url, args.model_name, inputs, args.version)
    lines = ["score,is_anomaly"] + [f"{s:.7g},{a}" for s, a in zip(result["score"], result["is_anomaly"], strict=True)]
    text = "\n".join(lines) + "\n"
    if args.output:
        with open(args.output, "w") as f:
            f.write(text)
        print(f"{len(rows)} rows scored, {int(np.sum(result['is_anomaly']))} flagged -> {args.output}")
    else:
        print(text, end="")
    return 0


def _batch_score(args) -> int:
    _quiet_google_warnings()
    import time

    from keras_synthad.pipelines import batch_scoring

    if args.output is None:
        raise SystemExit("--model needs --output PREFIX: the Beam job writes PREFIX-SSSSS-of-NNNNN.csv shards")
    start = time.perf_counter()
    result = batch_scoring.run(args.model, args.input, args.output, args.beam_args, args.version)
    print(
        f"{result['rows_scored']} rows scored ({result['rows_out_of_range']} out of the training range) with "
        f"{result['model']} in {time.perf_counter() - start:.1f}s -> {', '.join(result['output'])}"
    )
    if result["rows_dead_lettered"]:
        print(
            f"{result['rows_dead_lettered']} rows could not be scored: line numbers and reasons in "
            f"{', '.join(result['dead_letter'])}"
        )
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="synthad", description="Anomaly detection from synthetic anomalies (Keras 3)."
    )
    parser.add_argument("--debug", action="store_true", help="show the full traceback of an error")
    parser.add_argument(
        "--backend",
        choices=["tensorflow", "jax", "torch"],
        help="Keras backend (default: $KERAS_BACKEND or tensorflow)",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    pipeline = commands.add_parser("pipeline", help="the TFX-style Beam pipeline")
    pipeline_commands = pipeline.add_subparsers(dest="pipeline_command", required=True)
    run = pipeline_commands.add_parser(
        "run",
        help="validate, transform, train, evaluate and push (any further flags go to Beam, e.g. --runner, "
        "--direct_num_workers)",
    )
    run.add_argument("--config", help="a TOML pipeline config (default: the embedded KDD Cup 99 sample)")
    run.set_defaults(handler=_pipeline_run, takes_beam_args=True)
    export = commands.add_parser(
        "export", help="write a calibrated .keras model as the next SavedModel version for TF Serving; prints it"
    )
    export.add_argument("model", help="a .keras file saved by a keras_synthad detector (calibrated)")
    export.add_argument("--base", required=True, help="TF Serving model base path; versions are <base>/<int>/")
    export.add_argument("--feature-names", help="column names, comma-separated or a JSON list (tabular models)")
    export.add_argument(
        "--warmup-rows", help=".npy rows, or .npz raw columns, for the warmup requests (default: calibration rows)"
    )
    export.add_argument("--transform-dir", help="tf.Transform output the model was trained behind (raw features in)")
    export.add_argument("--transformed-features", help="transformed features in model-input order (comma/JSON)")
    export.add_argument("--model-name", default="synthad", help="model name in the warmup requests")
    export.set_defaults(handler=_export)
    score = commands.add_parser(
        "score",
        help="score rows with TF Serving (--url) or with a Beam RunInference job over a SavedModel (--model)",
    )
    target = score.add_mutually_exclusive_group(required=True)
    target.add_argument(
        "--url", help="http://host:8501 (REST), host:8500 or grpc://host:8500, or a SavedModel dir (in process)"
    )
    target.add_argument(
        "--model",
        help="a SavedModel or a serving base directory (newest version): a Beam job scores the CSV --input and "
        "writes it back with score,is_anomaly,out_of_range columns, rows it cannot score to PREFIX-errors-*.csv "
        "(further flags go to Beam)",
    )
    score.add_argument("--input", required=True, help="rows: a CSV with a header (columns = features) or a .npy")
    score.add_argument("--model-name", default="synthad")
    score.add_argument("--version", type=int, help="a model version (default: the newest TF Serving serves)")
    score.add_argument("--single-input", action="store_true", help="send CSV rows as one `features` input")
    score.add_argument(
        "--output", help="--url: write score,is_anomaly CSV here instead of stdout; --model: the output shard prefix"
    )
    score.set_defaults(handler=_score, takes_beam_args=True)
    return parser


def main(argv=None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra and not getattr(args, "takes_beam_args", False):
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    args.beam_args = extra
    if args.backend:
        if "keras" in sys.modules and os.environ.get("KERAS_BACKEND") != args.backend:
            raise SystemExit("--backend must be chosen before Keras is imported")
        os.environ["KERAS_BACKEND"] = args.backend
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # TensorFlow's C++ and CUDA start-up lines
    try:
        return args.handler(args)
    except (ValueError, FileNotFoundError) as err:  # ConfigError, NotExportableError, a bad file or value
        if args.debug:
            raise
        print(f"{ERROR_PREFIX.format(command=args.command)}{err}", file=sys.stderr)
        print("(run with --debug for the traceback)", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())

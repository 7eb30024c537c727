"""The ``synthad`` command.

Keras reads ``KERAS_BACKEND`` when it is first imported, so this module imports
nothing from Keras until the backend option has been applied.
"""

from __future__ import annotations

import argparse
import os
import sys


def _quickstart(args) -> int:
    from keras_synthad.quickstart import format_report, run

    report = run(
        output_dir=args.output_dir,
        epochs=args.epochs,
        pretrain_epochs=args.pretrain_epochs,
        seed=args.seed,
        verbose=args.verbose,
    )
    print(format_report(report))
    return 0


def _export(args) -> int:
    import json

    import keras
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
    model = keras.saving.load_model(args.model)
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

    from keras_synthad.export import client as serving_client

    rows, names = serving_client.read_rows(args.input)
    inputs = serving_client.feature_dict(rows, None if args.single_input else names)
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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="synthad", description="Anomaly detection from synthetic anomalies (Keras 3)."
    )
    parser.add_argument(
        "--backend",
        choices=["tensorflow", "jax", "torch"],
        help="Keras backend (default: $KERAS_BACKEND or tensorflow)",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    quick = commands.add_parser("quickstart", help="train Fence GAN on the embedded KDD Cup 99 sample and report")
    quick.add_argument("--output-dir", default="synthad_output")
    quick.add_argument("--epochs", type=int, default=50)
    quick.add_argument("--pretrain-epochs", type=int, default=15)
    quick.add_argument("--seed", type=int, default=0)
    quick.add_argument("--verbose", type=int, default=2, choices=[0, 1, 2])
    quick.set_defaults(handler=_quickstart)
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
    score = commands.add_parser("score", help="score rows with TF Serving (REST or gRPC) or a local SavedModel")
    score.add_argument(
        "--url", required=True, help="http://host:8501 (REST), host:8500 or grpc://host:8500, or a SavedModel dir"
    )
    score.add_argument("--input", required=True, help="rows: a CSV with a header (columns = features) or a .npy")
    score.add_argument("--model-name", default="synthad")
    score.add_argument("--version", type=int, help="a model version (default: the newest TF Serving serves)")
    score.add_argument("--single-input", action="store_true", help="send CSV rows as one `features` input")
    score.add_argument("--output", help="write score,is_anomaly CSV here instead of stdout")
    score.set_defaults(handler=_score)
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    if args.backend:
        if "keras" in sys.modules and os.environ.get("KERAS_BACKEND") != args.backend:
            raise SystemExit("--backend must be chosen before Keras is imported")
        os.environ["KERAS_BACKEND"] = args.backend
    return args.handler(args)


if __name__ == "__main__":
    sys.exit(main())

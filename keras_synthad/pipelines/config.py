"""Pipeline configuration: one TOML file, read into frozen dataclasses with checked values.

Relative input paths (``data.input``, ``data.schema``, ``data.column_names_file``,
``transform.module_file``) are
resolved against the config file's folder; relative output paths (``pipeline.root``,
``pipeline.serving_base``, ``pipeline.metadata``) against the working directory, and
they default to ``synthad_output/<name>/...``. Every bad value raises `ConfigError`
naming the key.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path

FORMATS = ("csv", "parquet", "tfrecord")
SPLITS = ("train", "eval", "test")
METRICS = ("auroc", "auprc", "f1")
BACKENDS = ("tensorflow", "jax", "torch")
METHODS = ("FenceGAN", "DOPING", "DA3D", "DHAG", "AdversarialAutoencoder")


class ConfigError(ValueError):
    """A pipeline config value is missing or invalid; the message names the key."""


@dataclass(frozen=True)
class DataConfig:
    input: Path
    format: str
    label_column: str | None
    anomaly_labels: tuple[str, ...]
    categorical: str | tuple[str, ...]  # "infer" or column names
    column_names: tuple[str, ...] | None  # for CSV files without a header row
    drop_columns: tuple[str, ...]
    splits: dict[str, float]
    split_salt: str
    schema: Path | None  # an imported schema.pbtxt (ImportSchemaGen) instead of inferring one


@dataclass(frozen=True)
class TransformConfig:
    module_file: Path | None  # the user's tf.Transform module; None: one-hot + scale_to_0_1
    preprocessing_fn: str  # the function's name in module_file


@dataclass(frozen=True)
class TrainerConfig:
    method: str
    backend: str
    epochs: int
    batch_size: int
    contamination: float
    seed: int
    args: dict = field(default_factory=dict)
    verbose: int | str = "auto"
    optimizers: dict = field(default_factory=dict)  # {role: keras.optimizers.serialize(...)}; others: the paper's


@dataclass(frozen=True)
class EvaluatorConfig:
    floors: dict[str, float]
    metric: str  # compared with the last blessed model
    tolerance: float
    reference_margin: float | None = None  # required lead of `metric` over IsolationForest's (None: reported only)


@dataclass(frozen=True)
class PipelineConfig:
    name: str
    root: Path
    metadata: Path
    serving_base: Path
    data: DataConfig
    trainer: TrainerConfig
    evaluator: EvaluatorConfig
    beam_args: tuple[str, ...]
    source: Path | None = None
    transform: TransformConfig = TransformConfig(None, "preprocessing_fn")


def _get(table: dict, key: str, section: str, kind, default=...):
    if key not in table:
        if default is ...:
            raise ConfigError(f"[{section}] {key} is required.")
        return default
    value = table[key]
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        names = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
        raise ConfigError(f"[{section}] {key} must be a {names}; received {value!r}.")
    return value


def _strings(value, key: str, section: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise ConfigError(f"[{section}] {key} must be a list of non-empty strings; received {value!r}.")
    if len(set(value)) != len(value):
        raise ConfigError(f"[{section}] {key} lists a name twice: {value!r}.")
    return tuple(value)


def _unknown(table: dict, allowed: set[str], section: str) -> None:
    extra = sorted(set(table) - allowed)
    if extra:
        raise ConfigError(f"[{section}] has unknown keys {extra}; allowed: {sorted(allowed)}.")


def _data(table: dict, here: Path) -> DataConfig:
    section = "data"
    _unknown(
        table,
        {
            "input",
            "format",
            "label_column",
            "anomaly_labels",
            "categorical_columns",
            "column_names",
            "column_names_file",
            "drop_columns",
            "splits",
            "split_salt",
            "schema",
        },
        section,
    )
    source = (here / _get(table, "input", section, str)).resolve()
    suffixes = [s.lower() for s in source.suffixes]
    default_format = (
        "parquet" if ".parquet" in suffixes else "tfrecord" if {".tfrecord", ".tfrecords"} & set(suffixes) else "csv"
    )
    fmt = _get(table, "format", section, str, default_format)
    if fmt not in FORMATS:
        raise ConfigError(f"[data] format must be one of {FORMATS}; received {fmt!r}.")
    label = _get(table, "label_column", section, str, None)
    labels = _get(table, "anomaly_labels", section, list, [])
    # Labels are compared as the text the input holds: anomaly_labels = [1] means "1".
    labels = [str(v) if isinstance(v, int) and not isinstance(v, bool) else v for v in labels]
    anomaly_labels = _strings(labels, "anomaly_labels", section)
    if label is not None and not anomaly_labels:
        raise ConfigError(
            "[data] anomaly_labels must list the label values that mark an anomaly when label_column is set."
        )
    if label is None and anomaly_labels:
        raise ConfigError("[data] anomaly_labels needs a label_column.")
    categorical = table.get("categorical_columns", "infer")
    if categorical != "infer":
        categorical = _strings(categorical, "categorical_columns", section)
    names = None
    if "column_names" in table and "column_names_file" in table:
        raise ConfigError("[data] give column_names or column_names_file, not both.")
    if "column_names" in table:
        names = _strings(table["column_names"], "column_names", section)
    elif "column_names_file" in table:
        names_path = here / _get(table, "column_names_file", section, str)
        if not names_path.is_file():
            raise ConfigError(f"[data] column_names_file {names_path} does not exist.")
        names = _strings(
            [line.strip() for line in names_path.read_text().splitlines() if line.strip()], "column_names_file", section
        )
    splits = _get(table, "splits", section, dict, {"train": 0.5, "eval": 0.2, "test": 0.3})
    if set(splits) != set(SPLITS) or not all(isinstance(v, (int, float)) and 0 < v < 1 for v in splits.values()):
        raise ConfigError(f"[data] splits must give train, eval and test fractions in (0, 1); received {splits!r}.")
    if abs(sum(splits.values()) - 1.0) > 1e-9:
        raise ConfigError(f"[data] splits must sum to 1; received {splits!r}.")
    schema = table.get("schema")
    if schema is not None:
        schema = here / _get(table, "schema", section, str)
        if not schema.is_file():
            raise ConfigError(f"[data] schema {schema} does not exist.")
    drop = _strings(_get(table, "drop_columns", section, list, []), "drop_columns", section)
    if label is not None and label in drop:
        raise ConfigError(f"[data] label_column {label!r} is also in drop_columns.")
    return DataConfig(
        input=source,
        format=fmt,
        label_column=label,
        anomaly_labels=anomaly_labels,
        categorical=categorical,
        column_names=names,
        drop_columns=drop,
        splits={k: float(splits[k]) for k in SPLITS},
        split_salt=_get(table, "split_salt", section, str, ""),
        schema=schema,
    )


def _transform(table: dict, here: Path) -> TransformConfig:
    section = "transform"
    _unknown(table, {"module_file", "preprocessing_fn"}, section)
    name = _get(table, "preprocessing_fn", section, str, "preprocessing_fn")
    if not name.isidentifier():
        raise ConfigError(f"[transform] preprocessing_fn must be a Python function name; received {name!r}.")
    module = table.get("module_file")
    if module is None:
        if "preprocessing_fn" in table:
            raise ConfigError("[transform] preprocessing_fn needs module_file, the .py file that defines it.")
        return TransformConfig(None, name)
    module = (here / _get(table, "module_file", section, str)).resolve()
    if module.suffix != ".py" or not module.is_file():
        raise ConfigError(f"[transform] module_file {module} is not an existing .py file.")
    return TransformConfig(module, name)


def _trainer(table: dict) -> TrainerConfig:
    section = "trainer"
    _unknown(
        table,
        {"method", "backend", "epochs", "batch_size", "contamination", "seed", "args", "verbose", "optimizers"},
        section,
    )
    method = _get(table, "method", section, str)
    if method not in METHODS:
        raise ConfigError(f"[trainer] method must be one of {METHODS}; received {method!r}.")
    backend = _get(table, "backend", section, str, "tensorflow")
    if backend not in BACKENDS:
        raise ConfigError(f"[trainer] backend must be one of {BACKENDS}; received {backend!r}.")
    epochs = _get(table, "epochs", section, int)
    batch_size = _get(table, "batch_size", section, int, 256)
    contamination = _get(table, "contamination", section, float, 0.05)
    if epochs < 1 or batch_size < 1:
        raise ConfigError(f"[trainer] epochs and batch_size must be positive; received {epochs}, {batch_size}.")
    if not 0 < contamination < 0.5:
        raise ConfigError(f"[trainer] contamination must be in (0, 0.5); received {contamination}.")
    args = _get(table, "args", section, dict, {})
    if "input_shape" in args:
        raise ConfigError("[trainer.args] input_shape is set by the Transform output's width; remove it.")
    verbose = table.get("verbose", "auto")
    if verbose not in ("auto", 0, 1, 2):
        raise ConfigError(f"[trainer] verbose must be 'auto', 0, 1 or 2; received {verbose!r}.")
    optimizers = _get(table, "optimizers", section, dict, {})
    for role, spec in optimizers.items():
        if not isinstance(spec, dict) or not isinstance(spec.get("class_name"), str):
            raise ConfigError(
                f"[trainer.optimizers] {role} must be a table with class_name (and config), e.g. "
                '{ class_name = "Adam", config = { learning_rate = 1e-4 } }; received ' + repr(spec)
            )
    return TrainerConfig(
        method,
        backend,
        epochs,
        batch_size,
        contamination,
        _get(table, "seed", section, int, 0),
        args,
        verbose,
        optimizers,
    )


def _evaluator(table: dict, has_label: bool) -> EvaluatorConfig:
    section = "evaluator"
    _unknown(table, {"floors", "metric", "tolerance", "reference_margin"}, section)
    floors = _get(table, "floors", section, dict, {})
    for name, value in floors.items():
        if name not in METRICS or not isinstance(value, (int, float)) or not 0 <= value <= 1:
            raise ConfigError(
                f"[evaluator] floors must map {METRICS} to values in [0, 1]; received {name} = {value!r}."
            )
    metric = _get(table, "metric", section, str, "auroc")
    if metric not in METRICS:
        raise ConfigError(f"[evaluator] metric must be one of {METRICS}; received {metric!r}.")
    if floors and not has_label:
        raise ConfigError("[evaluator] floors need labels: set [data] label_column, or remove the floors.")
    tolerance = _get(table, "tolerance", section, float, 0.0)
    if tolerance < 0:
        raise ConfigError(f"[evaluator] tolerance must be >= 0; received {tolerance}.")
    margin = _get(table, "reference_margin", section, float, None)
    if margin is not None:
        if metric not in ("auroc", "auprc") or not -1 <= margin <= 1:
            raise ConfigError(
                "[evaluator] reference_margin compares auroc or auprc (set metric) with IsolationForest's, "
                f"by a margin in [-1, 1]; received metric {metric!r}, reference_margin {margin!r}."
            )
        if not has_label:
            raise ConfigError("[evaluator] reference_margin needs labels: set [data] label_column, or remove it.")
    return EvaluatorConfig({k: float(v) for k, v in floors.items()}, metric, tolerance, margin)


def from_dict(raw: dict, here: Path | None = None, source: Path | None = None) -> PipelineConfig:
    """A checked `PipelineConfig` from the parsed TOML tables."""
    here = Path.cwd() if here is None else here
    _unknown(raw, {"pipeline", "data", "transform", "trainer", "evaluator", "beam"}, "top level")
    pipeline = raw.get("pipeline", {})
    _unknown(pipeline, {"name", "root", "metadata", "serving_base"}, "pipeline")
    name = _get(pipeline, "name", "pipeline", str)
    if not name.replace("_", "").replace("-", "").isalnum():
        raise ConfigError(f"[pipeline] name must be letters, digits, '-' and '_'; received {name!r}.")
    root = Path(_get(pipeline, "root", "pipeline", str, f"synthad_output/{name}/pipeline")).absolute()
    data = _data(_get(raw, "data", "top level", dict), here)
    beam = raw.get("beam", {})
    _unknown(beam, {"args"}, "beam")
    return PipelineConfig(
        name=name,
        root=root,
        metadata=Path(_get(pipeline, "metadata", "pipeline", str, str(root / "metadata.sqlite"))).absolute(),
        serving_base=Path(_get(pipeline, "serving_base", "pipeline", str, f"synthad_output/{name}/serving")).absolute(),
        data=data,
        trainer=_trainer(_get(raw, "trainer", "top level", dict)),
        evaluator=_evaluator(raw.get("evaluator", {}), data.label_column is not None),
        beam_args=_strings(beam.get("args", []), "args", "beam") if beam.get("args") else (),
        source=source,
        transform=_transform(_get(raw, "transform", "top level", dict, {}), here),
    )


def load(path) -> PipelineConfig:
    """Read and check a TOML pipeline config."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"Pipeline config {path} does not exist.")
    try:
        raw = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"Pipeline config {path} is not valid TOML: {err}") from None
    return from_dict(raw, here=path.parent.absolute(), source=path.absolute())

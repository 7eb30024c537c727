"""The TFX-style pipeline end to end, on a small CSV with categorical and numeric columns.

One pipeline run per backend (the Trainer trains on the backend this test process runs);
the failure cases, which stop before training or do not depend on the Trainer's
backend, run in the TensorFlow process only.
"""

import dataclasses
import json
from pathlib import Path

import beam_services
import keras
import numpy as np
import pandas as pd
import pytest

from keras_synthad.export import versions
from keras_synthad.pipelines import ConfigError, DataValidationError, config, examples, run_pipeline
from keras_synthad.pipelines.metadata import PIPELINE_CONTEXT, MetadataStore

BACKEND = keras.backend.backend()
tf_only = pytest.mark.skipif(
    BACKEND != "tensorflow",
    reason="backend-independent (stops before the Trainer or drives the CLI): runs in the TensorFlow process",
)
BEAM = ["--runner=FnApiRunner"]
RAW_FEATURES = ["proto", "service", "rate", "size", "count"]


def make_frame(n: int = 1200, seed: int = 0) -> pd.DataFrame:
    """Normal rows: a tight cluster; anomalies: far numbers and rare categories; 5 anomalies copy normal rows."""
    rng = np.random.default_rng(seed)
    anomalous = rng.random(n) < 0.15
    frame = pd.DataFrame(
        {
            "proto": np.where(anomalous, rng.choice(["icmp", "tcp"], n), rng.choice(["tcp", "udp"], n, p=[0.7, 0.3])),
            "service": np.where(anomalous, rng.choice(["telnet", "http"], n), rng.choice(["http", "smtp", "ftp"], n)),
            "rate": np.where(anomalous, rng.normal(12, 2, n), rng.normal(5, 1, n)).round(3),
            "size": np.where(anomalous, rng.normal(300, 50, n), rng.normal(100, 10, n)).round(1),
            "count": np.where(anomalous, rng.poisson(20, n), rng.poisson(3, n)),
            "label": np.where(anomalous, "attack", "normal"),
        }
    )
    copies = frame[~anomalous].iloc[:5].assign(label="attack")  # ties: the AUROC cannot reach 1
    return pd.concat([frame, copies], ignore_index=True)


def make_config(tmp: Path, csv: Path, **overrides) -> config.PipelineConfig:
    raw = {
        "pipeline": {"name": "test_pipeline", "root": str(tmp / "root"), "serving_base": str(tmp / "serving")},
        "data": {
            "input": str(csv),
            "label_column": "label",
            "anomaly_labels": ["attack"],
            "categorical_columns": ["proto", "service"],
        },
        "trainer": {
            "method": "AdversarialAutoencoder",
            "backend": BACKEND,
            "epochs": 15,
            "batch_size": 64,
            "verbose": 0,
            "args": {"latent_dim": 2, "prior_scale": 1.0, "hidden_units": [32, 32], "learning_rate": 1e-3},
        },
        "evaluator": {"floors": {"auroc": 0.8}},
    }
    for section, values in overrides.items():
        raw[section] = {**raw.get(section, {}), **values}
    return config.from_dict(raw, here=tmp)


USER_TRANSFORM = """
import tensorflow as tf
import tensorflow_transform as tft


def zscore_fn(inputs):
    outputs = {}
    for name, column in inputs.items():
        if column.dtype == tf.string:
            index = tft.compute_and_apply_vocabulary(column, num_oov_buckets=1, vocab_filename=name)
            outputs[name + "_xf"] = tf.one_hot(index, 4)
        else:
            outputs[name + "_xf"] = tf.sigmoid(tft.scale_to_z_score(tf.cast(column, tf.float32)))  # (0, 1)
    return outputs
"""


@pytest.fixture(scope="module")
def runner(tmp_path_factory):
    """The Beam flags of the complete run and of batch scoring, and the folder of the runner's logs.

    In the TensorFlow process: Beam's PortableRunner with a local job service and SDK workers in
    processes of their own (`beam_services`), the path a pipeline takes on Flink, Spark or Dataflow;
    in the other processes the in-process FnApiRunner.
    """
    logs = tmp_path_factory.mktemp("beam")
    if BACKEND != "tensorflow":
        yield BEAM, logs
        return
    with beam_services.portable_runner(logs) as flags:
        yield flags, logs


@pytest.fixture(scope="module")
def pushed(tmp_path_factory, runner):
    """One complete run that pushes version 1, with the user's own preprocessing_fn (sigmoid of z-scores)."""
    tmp = tmp_path_factory.mktemp("pipeline")
    csv = tmp / "rows.csv"
    make_frame().to_csv(csv, index=False)
    (tmp / "user_transform.py").write_text(USER_TRANSFORM)
    cfg = make_config(tmp, csv, transform={"module_file": "user_transform.py", "preprocessing_fn": "zscore_fn"})
    report = run_pipeline(cfg, runner[0], log=lambda line: None)
    return cfg, report, csv


@tf_only
def test_the_run_went_through_the_portable_runner_with_external_workers(pushed, runner):
    flags, logs = runner
    assert "--runner=PortableRunner" in flags and "--environment_type=EXTERNAL" in flags
    started = (logs / "worker_pool.log").read_text().count(beam_services.WORKER_STARTED)
    assert started >= 2  # StatisticsGen's and Transform's jobs each ran in a worker process of their own


def test_run_pushes_a_servable_model_with_lineage(pushed):
    cfg, report, _ = pushed
    assert report["blessed"] and report["pushed_version"] == 1, report["reasons"]
    assert versions(cfg.serving_base) == [1]
    assert report["metrics"]["auroc"] > 0.8 and report["backend"] == BACKEND
    store = MetadataStore(cfg.metadata)
    [pushed_model] = store.artifacts(store.context(PIPELINE_CONTEXT, cfg.name), "PushedModel")
    assert pushed_model.properties["version"] == 1
    upstream = {a.type for a in store.upstream(pushed_model.id)}
    assert {"Examples", "Schema", "TransformGraph", "ModelEvaluation", "Model", "ModelBlessing"} <= upstream
    runs = store.executions(store.context(PIPELINE_CONTEXT, cfg.name))
    assert [state for _, state, _ in runs] == ["COMPLETE"] * 9
    ids = {component: execution_id for component, _, execution_id in runs}
    for component, output in [("ExampleGen", "examples"), ("Transform", "transform_graph"), ("Trainer", "model")]:
        assert (cfg.root / component / output / str(ids[component])).is_dir()  # <root>/<Component>/<output>/<id>/


def test_the_users_preprocessing_fn_transforms_every_split(pushed):
    cfg, _, _ = pushed
    [transformed] = (cfg.root / "Transform" / "transformed_examples").iterdir()
    rows = examples.decode(examples.read(transformed, "train"))
    for name in ("rate_xf", "size_xf", "count_xf"):  # z-scores on the training split, not min-max
        z = np.log(rows[name] / (1 - rows[name]))
        assert abs(np.mean(z)) < 1e-3 and abs(np.std(z) - 1) < 1e-2


def test_the_trainer_streams_the_rows_it_would_load(pushed):
    """The Trainer's batches (`model_input_batches`) hold the split's rows: in order for scoring,
    reshuffled for training."""
    import tensorflow_transform as tft

    cfg, _, _ = pushed
    [transformed] = (cfg.root / "Transform" / "transformed_examples").iterdir()
    [graph] = (cfg.root / "Transform" / "transform_graph").iterdir()
    order = json.loads((graph / "transformed_features.json").read_text())
    spec = tft.TFTransformOutput(str(graph)).transformed_feature_spec()
    whole = examples.model_inputs(transformed, "train", order)

    def streamed(seed):
        batches = examples.model_input_batches(transformed, "train", order, spec, 100, shuffle_seed=seed)
        return np.concatenate([np.asarray(batch) for batch in batches])

    np.testing.assert_array_equal(streamed(None), whole)
    shuffled = streamed(0)
    assert not np.array_equal(shuffled, whole)
    np.testing.assert_array_equal(np.sort(shuffled, axis=0), np.sort(whole, axis=0))


def test_a_preprocessing_fn_without_every_column_is_named(tmp_path):
    from keras_synthad.pipelines import transform

    module = tmp_path / "partial.py"
    module.write_text("def preprocessing_fn(inputs):\n    return {'rate_xf': inputs['rate']}\n")
    with pytest.raises(ConfigError, match=r"\[transform\] module_file .* does not exist|not an existing"):
        make_config(tmp_path, tmp_path / "rows.csv", transform={"module_file": "missing.py"})
    fn = transform.user_preprocessing_fn(config.TransformConfig(module, "preprocessing_fn"), ["rate", "size"])
    with pytest.raises(ConfigError, match=r"missing \['size_xf'\]"):
        fn({"rate": 1.0, "size": 2.0})
    with pytest.raises(ConfigError, match="defines no function nope"):
        transform.user_preprocessing_fn(config.TransformConfig(module, "nope"), ["rate"])


def test_served_scores_equal_the_trainers_scores_on_raw_rows(pushed):
    import tensorflow as tf

    cfg, report, _ = pushed
    model_dir = Path(report["model"])
    train_scores = np.load(model_dir / "train_scores.npy")  # the Trainer's in-process scores, in split order
    [examples_dir] = (cfg.root / "ExampleGen" / "examples").iterdir()
    raw = examples.decode(examples.read(examples_dir, "train"))
    served = tf.saved_model.load(str(cfg.serving_base / "1")).signatures["serving_default"]
    out = served(**{k: tf.constant(raw[k]) for k in RAW_FEATURES})  # raw strings and numbers in
    np.testing.assert_allclose(out["score"].numpy(), train_scores, rtol=1e-5, atol=1e-5)
    threshold = report_threshold(cfg)
    np.testing.assert_array_equal(out["is_anomaly"].numpy(), (train_scores > threshold).astype(np.int32))


def report_threshold(cfg) -> float:
    store = MetadataStore(cfg.metadata)
    [model] = store.artifacts(store.context(PIPELINE_CONTEXT, cfg.name), "Model")[:1]
    return float(model.properties["threshold"])


def schema_file(cfg) -> Path:
    [path] = (cfg.root / "SchemaGen" / "schema").glob("*/schema.pbtxt")
    return path


BAD_INPUTS = {
    # name: (change to the rows, import the first run's schema, words the report must contain)
    "missing numeric column": (lambda f: f.drop(columns=["size"]), True, ["'size'", "dropped"]),
    "missing categorical column": (lambda f: f.drop(columns=["service"]), False, ["'service'", "missing"]),
    "new categorical value": (
        lambda f: f.assign(proto=f["proto"].where(f.index % 50 != 0, "sctp")),
        True,
        ["'proto'", "sctp"],
    ),
    "numeric column holding text": (
        lambda f: f.assign(rate=f["rate"].astype(str).where(f.index != 7, "fast")),
        False,
        ["'rate'", "FLOAT"],
    ),
    "NaN": (lambda f: f.assign(size=f["size"].astype(str).where(f.index != 3, "nan")), False, ["'size'", "NaN"]),
    "empty cell": (
        lambda f: f.assign(count=f["count"].astype(str).where(f.index != 9, "")),
        False,
        ["column 'count': 1 empty cell(s)", "CSV lines 11)", "drop_columns"],
    ),
    "empty split": (lambda f: pd.concat([f[f.label == "normal"][:1], f[f.label == "attack"][:1]]), False, ["is empty"]),
}


@tf_only
@pytest.mark.parametrize("case", list(BAD_INPUTS))
def test_bad_input_stops_the_run_and_pushes_nothing(case, pushed, tmp_path):
    change, import_schema, words = BAD_INPUTS[case]
    csv = tmp_path / "rows.csv"
    change(make_frame()).to_csv(csv, index=False)
    data = {"schema": str(schema_file(pushed[0]))} if import_schema else {}
    cfg = make_config(tmp_path, csv, data=data)
    with pytest.raises(DataValidationError) as caught:
        run_pipeline(cfg, BEAM, log=lambda line: None)
    message = str(caught.value)
    for word in words:
        assert word in message, message
    assert versions(cfg.serving_base) == [] and not (cfg.root / "Trainer").exists()
    assert (cfg.root / "ExampleValidator" / "anomalies").is_dir()  # the report is kept


def test_evaluator_measures_isolation_forest_on_the_same_rows_and_draws_the_scores(pushed):
    cfg, report, _ = pushed
    [evaluation] = (cfg.root / "Evaluator" / "evaluation").iterdir()
    result = json.loads((evaluation / "metrics.json").read_text())
    reference, candidate = result["reference"], result["candidate"]
    assert reference["method"] == "IsolationForest" and reference["auroc"] > 0.8  # the far anomalies are easy
    assert result["reference_margin"] == pytest.approx(candidate["auroc"] - reference["auroc"])
    for name in result["plots"]:
        assert (evaluation / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@tf_only
def test_model_below_a_floor_or_the_reference_is_not_pushed(pushed, tmp_path):
    cfg, _, _ = pushed
    strict = dataclasses.replace(
        cfg, evaluator=dataclasses.replace(cfg.evaluator, floors={"auroc": 1.0}, reference_margin=0.5)
    )
    report = run_pipeline(strict, BEAM, log=lambda line: None)
    assert not report["blessed"] and report["pushed_version"] is None
    assert any("below the floor 1.0" in r for r in report["reasons"])
    assert any("leads IsolationForest's" in r and "reference_margin +0.5000" in r for r in report["reasons"])
    assert report["baseline"]["model_artifact"] > 0  # compared with the first run's blessed model, on the same rows
    assert versions(cfg.serving_base) == [1]


def label_reader(model_dir: Path, high: str) -> None:
    """A stand-in SavedModel (the Evaluator's ``serve_tf_examples``) that scores 1 where the label is `high`."""
    import tensorflow as tf

    class LabelReader(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
        def serve(self, examples):
            label = tf.io.parse_example(examples, {"label": tf.io.FixedLenFeature([], tf.string)})["label"]
            score = tf.cast(tf.equal(label, high), tf.float32)
            return {"score": score, "is_anomaly": tf.cast(score > 0.5, tf.int32)}

    model = LabelReader()
    tf.saved_model.save(model, str(model_dir / "Format-Serving"), signatures={"serve_tf_examples": model.serve})


@tf_only
def test_model_worse_than_the_last_blessed_one_is_not_blessed(pushed, tmp_path):
    from keras_synthad.pipelines import evaluator
    from keras_synthad.pipelines.metadata import Artifact

    cfg, report, _ = pushed

    label_reader(tmp_path / "oracle", "attack")  # a "last blessed model" that reads the label: AUROC 1
    store = MetadataStore(cfg.metadata)
    [examples_artifact] = store.artifacts(store.context(PIPELINE_CONTEXT, cfg.name), "Examples")[:1]
    result, reasons = evaluator.run(
        report["model"],
        examples_artifact.uri,
        examples_artifact.properties,
        cfg.evaluator,
        Artifact(99, "Model", str(tmp_path / "oracle")),
        tmp_path / "evaluation",
        log=lambda line: None,
    )
    assert result["baseline"]["auroc"] == 1.0 and result["candidate"]["auroc"] < 1.0
    assert reasons and "worse than the last blessed model's 1.0000" in reasons[0]


@tf_only
def test_batch_scoring_writes_scores_next_to_the_rows(pushed, runner, tmp_path, capsys):
    """Through the module's runner: the PortableRunner with external workers in the TensorFlow process."""
    import tensorflow as tf

    from keras_synthad import cli

    cfg, _, csv = pushed
    rows = pd.read_csv(csv).iloc[:300].assign(row_id=np.arange(300))
    rows.loc[17, "proto"] = "sctp"  # a category never seen in training: scored, flagged and marked out of range
    rows.to_csv(tmp_path / "in.csv", index=False)
    status = cli.main(
        [
            "score",
            "--model",
            str(cfg.serving_base),
            "--input",
            str(tmp_path / "in.csv"),
            "--output",
            str(tmp_path / "scored"),
            *runner[0],
        ]
    )
    assert status == 0
    out = pd.concat([pd.read_csv(p) for p in sorted(tmp_path.glob("scored-*.csv"))]).sort_values("row_id")
    assert list(out.columns) == [*rows.columns, "score", "is_anomaly", "out_of_range"] and len(out) == 300
    pd.testing.assert_frame_equal(out[rows.columns].reset_index(drop=True), rows, check_dtype=False)
    served = tf.saved_model.load(str(cfg.serving_base / "1")).signatures["serving_default"]
    expected = served(
        **{
            k: tf.constant(rows[k].to_numpy(np.float32 if k not in ("proto", "service") else object))
            for k in RAW_FEATURES
        }
    )
    np.testing.assert_allclose(out["score"].to_numpy(), expected["score"].numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(out["is_anomaly"].to_numpy(), expected["is_anomaly"].numpy())
    np.testing.assert_array_equal(out["out_of_range"].to_numpy(), expected["out_of_range"].numpy())
    assert out["out_of_range"].iloc[17] == 1 and out["is_anomaly"].iloc[17] == 1
    rows[RAW_FEATURES].to_csv(tmp_path / "raw.csv", index=False)  # the same raw rows, through `--url DIR`
    assert (
        cli.main(
            [
                "score",
                "--url",
                str(cfg.serving_base),
                "--input",
                str(tmp_path / "raw.csv"),
                "--output",
                str(tmp_path / "direct.csv"),
            ]
        )
        == 0
    )
    direct = pd.read_csv(tmp_path / "direct.csv")
    np.testing.assert_allclose(direct["score"].to_numpy(), expected["score"].numpy(), rtol=1e-5, atol=1e-6)
    rows.drop(columns=["rate"]).to_csv(tmp_path / "bad.csv", index=False)
    bad = ["score", "--model", str(cfg.serving_base), "--input", str(tmp_path / "bad.csv")]
    assert cli.main([*bad, "--output", str(tmp_path / "bad"), *BEAM]) == 2  # one line, no traceback
    assert "lacks the columns ['rate']" in capsys.readouterr().err
    assert not list(tmp_path.glob("bad*-of-*"))


def test_config_errors_name_the_key(tmp_path):
    csv = tmp_path / "rows.csv"
    make_frame(50).to_csv(csv, index=False)
    with pytest.raises(ConfigError, match=r"\[trainer\] method must be one of"):
        make_config(tmp_path, csv, trainer={"method": "Nope"})
    with pytest.raises(ConfigError, match=r"\[data\] splits must sum to 1"):
        make_config(tmp_path, csv, data={"splits": {"train": 0.5, "eval": 0.2, "test": 0.2}})
    with pytest.raises(ConfigError, match=r"\[trainer\] has unknown keys \['epoch'\]"):
        make_config(tmp_path, csv, trainer={"epoch": 3})
    with pytest.raises(ConfigError, match="anomaly_labels must list"):
        make_config(tmp_path, csv, data={"anomaly_labels": []})
    assert make_config(tmp_path, csv, data={"anomaly_labels": [1, "x"]}).data.anomaly_labels == ("1", "x")
    with pytest.raises(ConfigError, match="input_shape is set by the Transform"):
        make_config(tmp_path, csv, trainer={"args": {"input_shape": [3]}})


def test_splits_are_deterministic_and_follow_the_fractions():
    from keras_synthad.pipelines.example_gen import split_buckets

    fractions = {"train": 0.5, "eval": 0.2, "test": 0.3}
    first, again = split_buckets(20000, fractions, "s"), split_buckets(20000, fractions, "s")
    np.testing.assert_array_equal(first, again)
    np.testing.assert_allclose(np.bincount(first) / 20000, [0.5, 0.2, 0.3], atol=0.015)
    assert (split_buckets(20000, fractions, "other") != first).mean() > 0.3  # the salt reshuffles


@tf_only
@pytest.mark.shared_data  # pipelines/kddcup99 names its column file in ../shared/data
def test_the_user_pipelines_load_and_the_samples_transform_is_the_librarys(tmp_path):
    """pipelines/<name>/config.toml load; the sample's own preprocessing.py equals the built-in Transform."""
    import tensorflow as tf
    import tensorflow_transform.beam as tft_beam
    from tensorflow_transform.tf_metadata import dataset_metadata, schema_utils

    from keras_synthad.pipelines import transform

    root = Path(__file__).parents[1] / "pipelines"
    configs = {p.parent.name: config.load(p) for p in root.glob("*/config.toml")}
    assert {"kddcup99_sample", "kddcup99"} <= set(configs)
    sample = configs["kddcup99_sample"]
    assert sample.data.input.is_file() and sample.transform.module_file.is_file()
    rows = [{"proto": p, "rate": r} for p, r in [("tcp", 1.0), ("udp", 3.0), ("tcp", 5.0), ("icmp", 2.0)]]
    metadata = dataset_metadata.DatasetMetadata(
        schema_utils.schema_from_feature_spec(
            {"proto": tf.io.FixedLenFeature([], tf.string), "rate": tf.io.FixedLenFeature([], tf.float32)}
        )
    )
    fns = {
        "library": transform.preprocessing_fn_for(["proto"], ["rate"]),
        "user": transform.user_preprocessing_fn(sample.transform, ["proto", "rate"]),
    }
    out = {}
    for name, fn in fns.items():
        with tft_beam.Context(temp_dir=str(tmp_path / name)):
            (data, _), _ = (rows, metadata) | tft_beam.AnalyzeAndTransformDataset(fn)
        out[name] = data
    assert len(out["user"]) == 4
    for user, library in zip(out["user"], out["library"], strict=True):
        assert set(user) == {"proto_xf", "rate_xf"}
        for key in user:
            np.testing.assert_allclose(user[key], library[key])


def test_example_gen_refuses_an_empty_file_and_labels_that_match_no_row(tmp_path):
    from keras_synthad.pipelines import example_gen

    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(DataValidationError, match="is empty"):
        example_gen.run(make_config(tmp_path, empty).data, tmp_path / "out", log=lambda line: None)
    csv = tmp_path / "rows.csv"
    make_frame(50).to_csv(csv, index=False)
    cfg = make_config(tmp_path, csv, data={"anomaly_labels": ["attacks"]})
    with pytest.raises(DataValidationError, match=r"no row .* anomaly_labels \['attacks'\]; column 'label' holds"):
        example_gen.run(cfg.data, tmp_path / "out2", log=lambda line: None)


def test_example_gen_reads_tfrecord_input_like_the_same_rows_in_csv(tmp_path):
    import tensorflow as tf

    from keras_synthad.pipelines import example_gen

    frame = make_frame(120)
    csv = tmp_path / "rows.csv"
    frame.to_csv(csv, index=False)
    columns = {k: frame[k].astype(str).to_numpy(dtype=object) for k in ("proto", "service", "label")}
    columns.update({k: frame[k].to_numpy(dtype=np.float32) for k in ("rate", "size", "count")})
    serialized = examples.encode(columns)
    # Two shards, one plain and one gzipped, read in name order through a glob.
    with tf.io.TFRecordWriter(str(tmp_path / "part-0.tfrecord")) as writer:
        for record in serialized[:70]:
            writer.write(record)
    examples.write(tmp_path / "part-1.tfrecord.gz", serialized[70:])
    assert examples.read_records([str(tmp_path / "part-1.tfrecord.gz")]) == serialized[70:]
    outputs = {}
    for name, source in [("csv", csv), ("tfrecord", tmp_path / "part-*")]:
        cfg = make_config(tmp_path, source, data={"format": name})
        example_gen.run(cfg.data, tmp_path / name, log=lambda line: None)
        outputs[name] = {split: examples.decode(examples.read(tmp_path / name, split)) for split in config.SPLITS}
    for split in config.SPLITS:
        from_csv, from_tfrecord = outputs["csv"][split], outputs["tfrecord"][split]
        assert sorted(from_csv) == sorted(from_tfrecord)
        for column in from_csv:
            np.testing.assert_array_equal(from_csv[column], from_tfrecord[column], err_msg=f"{split}/{column}")
    missing = make_config(tmp_path, tmp_path / "shard-*", data={"format": "tfrecord"})
    with pytest.raises(FileNotFoundError, match=r"input .*shard-\* matches no file"):
        example_gen.run(missing.data, tmp_path / "missing", log=lambda line: None)
    first = examples.read(tmp_path / "csv", "train", count=3)
    assert first == examples.read(tmp_path / "csv", "train")[:3]


@tf_only
def test_a_model_no_better_than_chance_is_refused_without_floors(pushed, tmp_path):
    from keras_synthad.pipelines import evaluator

    cfg, _, _ = pushed

    label_reader(tmp_path / "inverted", "normal")  # scores the normal rows high: AUROC 0
    store = MetadataStore(cfg.metadata)
    [examples_artifact] = store.artifacts(store.context(PIPELINE_CONTEXT, cfg.name), "Examples")[:1]
    no_floors = dataclasses.replace(cfg.evaluator, floors={})
    _, reasons = evaluator.run(
        str(tmp_path / "inverted"),
        examples_artifact.uri,
        examples_artifact.properties,
        no_floors,
        None,
        tmp_path / "evaluation",
        log=lambda line: None,
    )
    assert reasons and "no better than chance" in reasons[0]

"""TF Serving export: parity with in-process scores for every method, both signatures,
dynamic batch, warmup records, versioning and faults."""

import os
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf
from conftest import BACKEND, blob_images, plane_data, tiny_aae, tiny_conv_aae, tiny_fence_gan

import keras_synthad as ks
from keras_synthad import export
from keras_synthad.detector import CALIBRATION_ROWS


def fence_gan():
    return tiny_fence_gan(pretrain_epochs=1), plane_data(512)


def aae():
    return tiny_aae(), plane_data(512)


def doping():
    return ks.DOPING(input_shape=(4,), autoencoder=tiny_aae(), seed=0), plane_data(512)


def da3d():
    autoencoder = tiny_aae(hidden_units=(8, 6))
    return ks.DA3D((4,), autoencoder=autoencoder, aae_epochs=2, alarm_units=(16,), seed=0), plane_data(512)


def da3d_images():
    autoencoder = tiny_conv_aae(hidden_units=(8,), conv_filters=(4, 4), decoder_activation=None, learning_rate=1e-4)
    return ks.DA3D((12, 12, 1), autoencoder=autoencoder, aae_epochs=1, alarm_units=(16,), seed=0), blob_images(256)


def dhag():
    return ks.DHAG((4,), k=20, n_perturbators=2, seed=0), plane_data(512)


METHODS = {
    "fence_gan": fence_gan,
    "aae": aae,
    "doping": doping,
    "da3d": da3d,
    "da3d_images": da3d_images,
    "dhag": dhag,
}
NAMES = ["duration", "bytes", "rate", "flag_share"]


@pytest.fixture(scope="module", params=list(METHODS))
def exported(request, tmp_path_factory):
    """(model, rows, SavedModel path, feature names) for each method, trained on this backend."""
    keras.utils.set_random_seed(0)
    model, x = METHODS[request.param]()
    model.fit(x, epochs=2, batch_size=128, verbose=0)
    model.calibrate(x, contamination=0.1)
    names = NAMES if len(model.feature_shape) == 1 else None
    base = tmp_path_factory.mktemp(request.param)
    version = export.export_saved_model(model, base, feature_names=names)
    assert version == 1
    return model, x, base / "1", names


def serve(loaded, rows, names):
    outputs = loaded.signatures[export.SERVING_SIGNATURE](
        **{k: tf.constant(v) for k, v in export.feature_dict(rows, names).items()}
    )
    return outputs["score"].numpy(), outputs["is_anomaly"].numpy()


def test_serving_default_matches_in_process_scores_and_labels(exported):
    model, x, path, names = exported
    loaded = tf.saved_model.load(str(path))
    rows = np.concatenate([x[:200], np.random.default_rng(3).uniform(size=(50, *x.shape[1:])).astype("float32")])
    score, is_anomaly = serve(loaded, rows, names)
    assert score.dtype == np.float32 and is_anomaly.dtype == np.int32
    np.testing.assert_allclose(score, model.predict(rows, verbose=0), atol=1e-5, rtol=0)
    np.testing.assert_array_equal(is_anomaly, model.detect(rows))
    assert 0 < is_anomaly.sum() < len(rows)  # the threshold is really applied


def test_serving_default_carries_the_range_guard(exported):
    model, x, path, names = exported
    loaded = tf.saved_model.load(str(path))
    rows = x[:40].copy()
    rows[::4] += 3.0  # every fourth row far outside the calibration range
    outputs = loaded.signatures[export.SERVING_SIGNATURE](
        **{k: tf.constant(v) for k, v in export.feature_dict(rows, names).items()}
    )
    expected = model.out_of_range(rows)
    assert expected.sum() == 10
    np.testing.assert_array_equal(outputs["out_of_range"].numpy(), expected.astype(np.int32))
    np.testing.assert_array_equal(outputs["is_anomaly"].numpy(), model.detect(rows))
    assert outputs["is_anomaly"].numpy()[::4].all()


def test_tf_examples_signature_matches(exported):
    model, x, path, names = exported
    loaded = tf.saved_model.load(str(path))
    examples = export.tf_examples(export.feature_dict(x[:20], names))
    outputs = loaded.signatures[export.EXAMPLES_SIGNATURE](examples=tf.constant(examples))
    np.testing.assert_allclose(outputs["score"].numpy(), model.predict(x[:20], verbose=0), atol=1e-5, rtol=0)
    np.testing.assert_array_equal(outputs["is_anomaly"].numpy(), model.detect(x[:20]))


@pytest.mark.parametrize("n", [1, 1000])
def test_batch_dimension_is_dynamic(exported, n):
    model, x, path, names = exported
    rows = np.resize(x, (n, *x.shape[1:])).astype("float32")
    score, _ = serve(tf.saved_model.load(str(path)), rows, names)
    assert score.shape == (n,)
    np.testing.assert_allclose(score, model.predict(rows, verbose=0), atol=1e-5, rtol=0)


def test_warmup_records_parse_and_run(exported):
    model, _, path, _ = exported
    loaded = tf.saved_model.load(str(path))
    logs = export.read_warmup(path / export.WARMUP_FILE)
    assert len(logs) == CALIBRATION_ROWS + 2
    signatures = set()
    for log in logs:
        request = log.predict_log.request
        assert request.model_spec.name == "synthad"
        inputs = {k: tf.make_ndarray(v) for k, v in request.inputs.items()}
        outputs = loaded.signatures[request.model_spec.signature_name](**{k: tf.constant(v) for k, v in inputs.items()})
        assert np.all(np.isfinite(outputs["score"].numpy()))
        signatures.add(request.model_spec.signature_name)
    assert signatures == {export.SERVING_SIGNATURE, export.EXAMPLES_SIGNATURE}


def test_signatures_and_shapes(exported):
    model, _, path, names = exported
    loaded = tf.saved_model.load(str(path))
    _, inputs = loaded.signatures[export.SERVING_SIGNATURE].structured_input_signature
    if names:
        assert sorted(inputs) == sorted(names) and all(s.shape.as_list() == [None] for s in inputs.values())
    else:
        assert inputs[export.FEATURES_INPUT].shape.as_list() == [None, *model.feature_shape]
    outputs = loaded.signatures[export.SERVING_SIGNATURE].structured_outputs
    assert outputs["score"].dtype == tf.float32 and outputs["is_anomaly"].dtype == tf.int32


# --- versions and faults -------------------------------------------------------------------


@pytest.fixture(scope="module")
def calibrated():
    keras.utils.set_random_seed(0)
    model, x = fence_gan()
    model.fit(x, epochs=1, batch_size=128, verbose=0)
    model.calibrate(x)
    return model


def tree(path):
    return {p.relative_to(path): p.read_bytes() for p in sorted(path.rglob("*")) if p.is_file()}


def test_corrupt_latest_version_is_kept_and_the_next_integer_written(calibrated, tmp_path):
    assert export.export_saved_model(calibrated, tmp_path) == 1
    good = tree(tmp_path / "1")
    (tmp_path / "2" / "variables").mkdir(parents=True)  # a crashed writer's half version
    (tmp_path / "2" / "saved_model.pb").write_bytes(b"truncated")
    (tmp_path / ".staging-crashed").mkdir()
    assert not export.is_complete_version(tmp_path / "2")
    assert export.export_saved_model(calibrated, tmp_path) == 3
    assert tree(tmp_path / "1") == good
    assert (tmp_path / "2" / "saved_model.pb").read_bytes() == b"truncated"
    assert export.is_complete_version(tmp_path / "3")
    assert export.versions(tmp_path) == [1, 2, 3]


@pytest.mark.skipif(BACKEND != "tensorflow", reason="the writer runs in this process only on TensorFlow")
def test_a_crash_while_writing_leaves_no_version(calibrated, tmp_path, monkeypatch):
    assert export.export_saved_model(calibrated, tmp_path) == 1

    def crash(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(export, "write_warmup", crash)  # the name export_saved_model calls
    with pytest.raises(OSError, match="disk full"):
        export.export_saved_model(calibrated, tmp_path)
    assert sorted(os.listdir(tmp_path)) == ["1"]


def test_uncalibrated_model_is_refused(tmp_path):
    model, x = fence_gan()
    model.fit(x, epochs=1, batch_size=128, verbose=0)
    with pytest.raises(export.NotExportableError, match="calibrate"):
        export.export_saved_model(model, tmp_path)
    assert export.versions(tmp_path) == []


def test_numpy_only_detector_is_refused(tmp_path):
    from sklearn.neighbors import LocalOutlierFactor

    model = ks.DOPING(input_shape=(4,), autoencoder=tiny_aae(), detector=LocalOutlierFactor(novelty=True), seed=0)
    model.fit(plane_data(256), epochs=1, batch_size=128, verbose=0)
    model.calibrate(plane_data(256))
    with pytest.raises(export.NotExportableError, match="LocalOutlierFactor"):
        export.export_saved_model(model, tmp_path)


def test_bad_feature_names_are_refused(calibrated, tmp_path):
    with pytest.raises(ValueError, match="argument `feature_names`"):
        export.export_saved_model(calibrated, tmp_path, feature_names=["a", "b"])
    with pytest.raises(ValueError, match="letters, digits"):
        export.export_saved_model(calibrated, tmp_path, feature_names=["a", "b c", "d", "e"])
    with pytest.raises(ValueError, match="distinct"):
        export.export_saved_model(calibrated, tmp_path, feature_names=["a", "a", "b", "c"])


def test_cli_export_prints_the_version(calibrated, tmp_path):
    path = tmp_path / "model.keras"
    calibrated.save(path)
    command = [sys.executable, "-m", "keras_synthad.cli", "export", str(path), "--base", str(tmp_path / "base")]
    env = {**os.environ, "KERAS_BACKEND": "tensorflow"}
    for expected in (1, 2):
        done = subprocess.run(
            [*command, "--feature-names", "a,b,c,d"], capture_output=True, text=True, env=env, check=True
        )
        assert done.stdout.strip() == str(expected)
    assert export.is_complete_version(tmp_path / "base" / "2")


# --- raw features through a tf.Transform graph ----------------------------------------------


@pytest.fixture(scope="module")
def transform_dir(tmp_path_factory):
    """A tf.Transform output (vocabulary -> one-hot of `proto`, scale_to_0_1 of `rate`) with its raw schema,
    written by tests/make_transform.py in its own process (see there why)."""
    out = tmp_path_factory.mktemp("transform")
    script = Path(__file__).parent / "make_transform.py"
    subprocess.run([sys.executable, str(script), str(out)], check=True, capture_output=True)
    return out


def raw_rows(n=300, seed=0):
    rng = np.random.default_rng(seed)
    return {"proto": rng.choice(["tcp", "udp", "icmp"], n), "rate": rng.uniform(0, 8, n).astype("float32")}


def transformed(transform_dir, raw, order=("proto_onehot", "rate_scaled")):
    import tensorflow_transform as tft

    features = tft.TFTransformOutput(str(transform_dir)).transform_raw_features(
        {k: tf.constant(v) for k, v in raw.items()}
    )
    return np.concatenate([np.reshape(features[k].numpy(), (len(raw["rate"]), -1)) for k in order], axis=1)


def test_raw_features_are_transformed_inside_the_graph(transform_dir, tmp_path):
    keras.utils.set_random_seed(0)
    raw = raw_rows()
    x = transformed(transform_dir, raw).astype("float32")
    model = tiny_fence_gan()
    model.fit(x, epochs=2, batch_size=100, verbose=0)
    model.calibrate(x, contamination=0.2)
    version = export.export_saved_model(
        model,
        tmp_path,
        warmup_rows={k: v[:5] for k, v in raw.items()},
        transform_dir=transform_dir,
        transformed_features=["proto_onehot", "rate_scaled"],
    )
    loaded = tf.saved_model.load(str(tmp_path / str(version)))
    _, inputs = loaded.signatures[export.SERVING_SIGNATURE].structured_input_signature
    assert inputs["proto"].dtype == tf.string and inputs["rate"].dtype == tf.float32
    outputs = loaded.signatures[export.SERVING_SIGNATURE](
        proto=tf.constant(raw["proto"]), rate=tf.constant(raw["rate"])
    )
    np.testing.assert_allclose(outputs["score"].numpy(), model.predict(x, verbose=0), atol=1e-5, rtol=0)
    np.testing.assert_array_equal(outputs["is_anomaly"].numpy(), model.detect(x))
    examples = export.tf_examples({k: v[:10] for k, v in raw.items()})
    by_example = loaded.signatures[export.EXAMPLES_SIGNATURE](examples=tf.constant(examples))
    np.testing.assert_allclose(by_example["score"].numpy(), outputs["score"].numpy()[:10], atol=1e-6)
    for log in export.read_warmup(tmp_path / str(version) / export.WARMUP_FILE):
        request = log.predict_log.request
        feed = {k: tf.constant(tf.make_ndarray(v)) for k, v in request.inputs.items()}
        assert np.all(np.isfinite(loaded.signatures[request.model_spec.signature_name](**feed)["score"].numpy()))


def test_transform_mismatches_are_refused(transform_dir, calibrated, tmp_path):
    warmup = {k: v[:3] for k, v in raw_rows(3).items()}
    with pytest.raises(ValueError, match="transformed_features"):  # the same error type on every backend
        export.export_saved_model(
            calibrated, tmp_path, warmup_rows=warmup, transform_dir=transform_dir, transformed_features=["nope"]
        )
    with pytest.raises(ValueError, match="argument `warmup_rows`"):
        export.export_saved_model(calibrated, tmp_path, transform_dir=transform_dir)
    assert export.versions(tmp_path) == []


def test_warmup_keeps_a_few_rows_and_versions_are_readable(calibrated, tmp_path):
    rows = np.random.default_rng(0).uniform(size=(2000, 4)).astype("float32")
    version = export.export_saved_model(calibrated, tmp_path, warmup_rows=rows)
    logs = export.read_warmup(tmp_path / str(version) / export.WARMUP_FILE)
    assert len(logs) == export.MAX_WARMUP_ROWS + 2  # TF Serving refuses more than 1000 records
    assert (tmp_path / str(version)).stat().st_mode & 0o055 == 0o055 & ~_umask()


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_only_plain_integer_names_are_versions(tmp_path):
    for name in ("3", "007", "x1", "2.tmp", ".staging-9"):
        (tmp_path / name).mkdir()
    assert export.versions(tmp_path) == [3]


@pytest.mark.parametrize(
    "missing", [("range_low", "range_high"), ("calibration_rows", "range_low", "range_high")], ids=["range", "both"]
)
def test_files_saved_before_later_weights_still_load(calibrated, missing):
    """A store without the weights added later (older files) loads; those keep their initial values."""
    store = {}
    calibrated.save_own_variables(store)
    own = calibrated._trainable_variables + calibrated._non_trainable_variables
    dropped = {i for i, v in enumerate(own) if any(v is getattr(calibrated, name) for name in missing)}
    old = {k: v for k, v in store.items() if k.startswith("rng_")}
    indexed = [store[str(i)] for i in range(len(own)) if i not in dropped]
    old.update({str(i): value for i, value in enumerate(indexed)})
    fresh = tiny_fence_gan(pretrain_epochs=1)
    fresh.load_own_variables(old)
    assert float(keras.ops.convert_to_numpy(fresh.threshold)) == float(keras.ops.convert_to_numpy(calibrated.threshold))
    assert not fresh.out_of_range(np.full((2, 4), 50.0, "float32")).any()  # no range guard until calibrated
    if "calibration_rows" in missing:
        assert not np.any(keras.ops.convert_to_numpy(fresh.calibration_rows))
        with pytest.raises(ValueError, match="warmup_rows"):
            export.export_saved_model(fresh, "unused-base")
    else:
        np.testing.assert_array_equal(
            keras.ops.convert_to_numpy(fresh.calibration_rows), keras.ops.convert_to_numpy(calibrated.calibration_rows)
        )

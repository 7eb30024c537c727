"""Readers on the real shared data (these fail, never skip, when ../shared/data is missing)."""

import gzip
import hashlib

import numpy as np
import pytest

from keras_synthad.data import (
    MinMaxScaler,
    data_dir,
    fence_gan_split,
    kdd_features,
    load_adbench,
    load_idx_images,
    load_kddcup99,
    load_sample,
    read_idx,
)

pytestmark = pytest.mark.shared_data


def _checksums():
    lines = data_dir("checksums.sha256").read_text().split("\n")
    return {
        name.strip().lstrip("*"): digest for digest, name in (line.split(maxsplit=1) for line in lines if line.strip())
    }


@pytest.mark.parametrize(
    "name", ["adbench/38_thyroid.npz", "kddcup99/kddcup.data_10_percent.gz", "mnist/t10k-labels-idx1-ubyte.gz"]
)
def test_shared_files_match_their_checksums(name):
    digest = hashlib.sha256(data_dir(name).read_bytes()).hexdigest()
    assert digest == _checksums()[name]


def test_missing_data_fails_loudly(monkeypatch, tmp_path):
    monkeypatch.setenv("KERAS_SYNTHAD_DATA", str(tmp_path / "nowhere"))
    with pytest.raises(FileNotFoundError, match="KERAS_SYNTHAD_DATA"):
        load_adbench("thyroid")


def test_adbench_by_short_name():
    x, y = load_adbench("thyroid")
    assert x.shape == (3772, 6) and y.sum() == 93
    assert load_adbench("38_thyroid")[0].shape == x.shape
    with pytest.raises(ValueError, match="Available"):
        load_adbench("no_such_table")


def test_idx_images_and_labels():
    images, labels = load_idx_images("mnist", "test")
    assert images.shape == (10000, 28, 28, 1) and images.dtype == np.float32
    assert 0.0 <= images.min() and images.max() == 1.0
    assert np.bincount(labels).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


def test_idx_rejects_bad_and_truncated_files(tmp_path):
    bad = tmp_path / "bad.gz"
    bad.write_bytes(gzip.compress(b"\x12\x34\x56\x78" + bytes(8)))
    with pytest.raises(ValueError, match="magic"):
        read_idx(bad)
    truncated = tmp_path / "short.idx"
    truncated.write_bytes(b"\x00\x00\x08\x01" + (10).to_bytes(4, "big") + bytes(5))
    with pytest.raises(ValueError, match="truncated"):
        read_idx(truncated)


def test_kdd_has_121_features_and_the_papers_split():
    frame = load_kddcup99()
    assert len(frame) == 494021
    x, names, _ = kdd_features(frame)
    assert x.shape == (494021, 121) and len(names) == 121
    train, test, y_test = fence_gan_split(frame["label"], seed=0)
    labels = frame["label"].to_numpy()
    assert (labels[train] != "normal.").all()
    assert len(train) == (494021 - 97278) // 2
    assert y_test.sum() == 97278 // 2
    assert not set(train) & set(test)


def test_nsl_kdd_splits_and_features():
    import pandas as pd

    from keras_synthad.data import load_nsl_kdd

    train, test = load_nsl_kdd("train"), load_nsl_kdd("test")
    assert train.shape == (125_973, 43) and test.shape == (22_544, 43)  # SOURCES.md
    assert (train["label"] == "normal").sum() == 67_343 and (test["label"] == "normal").sum() == 9_711
    both = pd.concat([train, test])
    text = ("protocol_type", "service", "flag")
    categories = {c: sorted(both[c].astype(str).unique()) for c in text}
    x, names, _ = kdd_features(test, categorical=text, categories=categories)
    assert x.shape == (22_544, 122) and "difficulty" not in names
    with pytest.raises(ValueError, match="argument `split`"):
        load_nsl_kdd("validation")


def test_embedded_sample_needs_no_shared_data(monkeypatch, tmp_path):
    monkeypatch.setenv("KERAS_SYNTHAD_DATA", str(tmp_path / "nowhere"))
    frame = load_sample()
    assert frame.shape == (6000, 42)
    assert {"protocol_type", "service", "flag", "label"} <= set(frame.columns)


def test_min_max_scaler_uses_training_statistics_only():
    scaler = MinMaxScaler().fit(np.array([[0.0, 5.0], [10.0, 5.0]]))
    np.testing.assert_allclose(scaler.transform([[5.0, 5.0], [20.0, 7.0]]), [[0.5, 0.0], [2.0, 2.0]])
    assert MinMaxScaler(clip=True).fit([[0.0], [1.0]]).transform([[3.0]]).item() == 1.0
    with pytest.raises(ValueError, match="not fitted"):
        MinMaxScaler().transform([[1.0]])
    with pytest.raises(ValueError, match="NaN"):
        MinMaxScaler().fit([[np.nan]])

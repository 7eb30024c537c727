"""`synthad score` against TF Serving-style REST and gRPC front ends and a local SavedModel."""

import numpy as np
import pandas as pd
import pytest
from conftest import exported_fence_gan, plane_data
from serving_fakes import grpc_server, rest_server

from keras_synthad.cli import main as cli_main
from keras_synthad.export import client as serving_client

NAMES = ["a", "b", "c", "d"]


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    x, base = plane_data(300), tmp_path_factory.mktemp("base")
    model = exported_fence_gan(base, x, NAMES, contamination=0.2, epochs=2, batch_size=100)
    rows = tmp_path_factory.mktemp("rows") / "rows.csv"
    pd.DataFrame(x[:40], columns=NAMES).to_csv(rows, index=False)
    return model, x[:40], base, rows


def expected(model, x):
    return model.predict(x, verbose=0), model.detect(x)


def read_output(path):
    frame = pd.read_csv(path)
    return frame["score"].to_numpy(), frame["is_anomaly"].to_numpy()


@pytest.mark.parametrize("front_end", ["rest", "grpc", "local"])
def test_cli_scores_csv_rows(served, front_end, tmp_path, capsys):
    model, x, base, rows = served
    frame = pd.read_csv(rows)
    frame.insert(0, "conn_id", range(len(frame)))  # columns the model does not take pass by, on every front end
    frame["label"] = "normal"
    rows = tmp_path / "rows.csv"
    frame.to_csv(rows, index=False)
    server = None
    if front_end == "rest":
        server, url = rest_server(base / "1")
    elif front_end == "grpc":
        server, url = grpc_server(base / "1")
    else:
        url = str(base)  # a base directory: its newest complete version
    try:
        out = tmp_path / "scores.csv"
        assert cli_main(["score", "--url", url, "--input", str(rows), "--output", str(out)]) == 0
    finally:
        if front_end == "rest":
            server.shutdown()
        elif front_end == "grpc":
            server.stop(0)
    score, is_anomaly = read_output(out)
    want_score, want_label = expected(model, x)
    np.testing.assert_allclose(score, want_score, atol=1e-5)
    np.testing.assert_array_equal(is_anomaly, want_label)
    assert "40 rows scored" in capsys.readouterr().out


def test_unknown_model_name_is_reported(served):
    _, x, base, _ = served
    server, url = rest_server(base / "1")
    try:
        with pytest.raises(RuntimeError, match="404"):
            serving_client.score_rest(url, "other", serving_client.feature_dict(x, NAMES))
    finally:
        server.shutdown()


def test_text_in_a_csv_is_a_clear_error(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("a,b\n1.0,x\n")
    with pytest.raises(ValueError, match="numeric"):
        serving_client.read_rows(path)


def test_base_without_a_complete_version_is_an_error(tmp_path):
    (tmp_path / "1").mkdir()
    with pytest.raises(FileNotFoundError, match="no complete"):
        serving_client.latest_version_dir(tmp_path)


def test_a_mistyped_path_names_itself(tmp_path):
    with pytest.raises(FileNotFoundError, match="no-such-dir"):
        serving_client.score(str(tmp_path / "no-such-dir"), "synthad", {"features": np.zeros((1, 4), "float32")})


def test_local_version_is_honoured(served, tmp_path):
    _, x, base, _ = served
    with pytest.raises(FileNotFoundError, match="holds no complete SavedModel"):
        serving_client.latest_version_dir(base, version=7)
    assert serving_client.latest_version_dir(base, version=1) == base / "1"


def test_local_scoring_takes_the_models_columns_and_names_bad_cells(served, tmp_path, capsys):
    model, x, base, _ = served
    frame = pd.DataFrame(x[:5], columns=NAMES)
    frame.insert(0, "conn_id", range(5))  # columns the model does not take pass through, as with --model
    frame["label"] = "normal"
    extra = tmp_path / "extra.csv"
    frame.to_csv(extra, index=False)
    out = tmp_path / "scores.csv"
    assert cli_main(["score", "--url", str(base), "--input", str(extra), "--output", str(out)]) == 0
    np.testing.assert_allclose(read_output(out)[0], expected(model, x[:5])[0], atol=1e-5)
    frame.loc[3, "b"] = ""  # an empty cell
    frame.to_csv(extra, index=False)
    assert cli_main(["score", "--url", str(base), "--input", str(extra)]) == 2
    assert "column 'b' must hold numbers for this model; row 4 holds ''" in capsys.readouterr().err
    assert cli_main(["score", "--url", str(base), "--input", str(extra.with_name("none.csv"))]) == 2
    frame.drop(columns=["c"]).to_csv(extra, index=False)
    assert cli_main(["score", "--url", str(base), "--input", str(extra)]) == 2
    assert "lacks the model's columns ['c']" in capsys.readouterr().err

"""The README's main job: `synthad pipeline run` on the embedded sample, no ../shared needed."""

import json

import keras
import pytest

from keras_synthad import cli
from keras_synthad.export import versions


@pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="the default config trains on TensorFlow")
def test_main_job_runs_the_pipeline_on_the_embedded_sample(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("KERAS_SYNTHAD_DATA", str(tmp_path / "no-shared-data-needed"))
    monkeypatch.chdir(tmp_path)
    assert cli.main(["pipeline", "run", "--runner=FnApiRunner"]) == 0
    out = capsys.readouterr().out
    assert "blessed and pushed: version 1" in out and "docker run" in out and "AUROC" in out
    base = tmp_path / "synthad_output" / "kddcup99_sample" / "serving"
    assert versions(base) == [1]
    [report] = (tmp_path / "synthad_output" / "kddcup99_sample" / "pipeline" / "reports").glob("*.json")
    assert json.loads(report.read_text())["metrics"]["auroc"] >= 0.7


def test_unknown_flags_are_refused_outside_beam_commands(capsys):
    with pytest.raises(SystemExit):
        cli.main(["export", "m.keras", "--base", "b", "--runner=DirectRunner"])
    assert "unrecognized arguments: --runner=DirectRunner" in capsys.readouterr().err

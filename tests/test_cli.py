"""The README's main job, with a tiny budget."""

import json

from keras_synthad import cli


def test_quickstart_trains_reports_and_saves(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("KERAS_SYNTHAD_DATA", str(tmp_path / "no-shared-data-needed"))
    assert (
        cli.main(
            ["quickstart", "--output-dir", str(tmp_path), "--epochs", "2", "--pretrain-epochs", "1", "--verbose", "0"]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "AUROC" in out and "model saved to" in out
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["features"] > 80 and 0.0 <= report["calibrated"]["auroc"] <= 1.0
    assert (tmp_path / "fence_gan_kdd99_sample.keras").stat().st_size > 0

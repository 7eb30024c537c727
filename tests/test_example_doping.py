"""Smoke test of examples/doping_toy_2d.py (the DOPING paper's Fig. 1 setting)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "doping_toy_2d.py"


def test_toy_writes_png_and_synthesises_rim_rows(tmp_path):
    spec = importlib.util.spec_from_file_location("doping_toy_2d", EXAMPLE)
    toy = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = toy
    spec.loader.exec_module(toy)
    output = tmp_path / "toy.png"
    result = toy.main(["--output", str(output), "--steps", "600", "--hidden", "64", "--learning-rate", "1e-3"])
    assert output.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert result.doping_rows.shape == result.smote_rows.shape == (100, 2)
    assert set(result.auroc) == {"iForest", "iForest + SMOTE variant", "iForest + DOPING"}
    # DOPING's rows come from the edge of the latent Gaussian: farther from the data's
    # centre than typical training rows (the ring's radius is 30 / 90 in model units).
    centre = np.median(result.x_train, axis=0)
    typical = np.median(np.linalg.norm(result.x_train - centre, axis=1))
    assert np.median(np.linalg.norm(result.doping_rows - centre, axis=1)) > 0.8 * typical

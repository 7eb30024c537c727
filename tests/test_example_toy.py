"""Smoke test of examples/fence_gan_toy_2d.py (the Fence GAN paper's Fig. 1 toy)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "fence_gan_toy_2d.py"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def load_example():
    """Imports the example script as a module (examples/ is not a package)."""
    spec = importlib.util.spec_from_file_location("fence_gan_toy_2d", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look the module up by name
    spec.loader.exec_module(module)
    return module


def test_toy_writes_png_and_fences_the_data(tmp_path):
    toy = load_example()
    output = tmp_path / "toy.png"

    # 10 steps per epoch x 100 epochs = 1,000 iterations (the default is 4,000).
    result = toy.main(["--output", str(output), "--epochs", "100", "--n-samples", "1000", "--seed", "0"])

    assert output.is_file()
    assert output.read_bytes()[:8] == PNG_MAGIC
    assert result.generated.shape == (200, 2)
    assert np.all(np.isfinite(result.generated))
    assert result.discriminator.shape == result.grid_x.shape
    assert np.all((result.discriminator >= 0.0) & (result.discriminator <= 1.0))

    # Anomaly score = 1 - D(x): the training data must score lower than the corners of the box.
    corners = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]], dtype=np.float32)
    real_score = result.model.predict(result.real / toy.BOX, verbose=0).mean()
    corner_score = result.model.predict(corners, verbose=0).mean()
    assert real_score < 0.5 < corner_score, (real_score, corner_score)

"""The README's main job: `synthad pipeline run` on the embedded sample, no ../shared needed."""

import ast
import functools
import json
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import keras
import pytest

from keras_synthad import cli
from keras_synthad.export import versions

ROOT = Path(__file__).parents[1]


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """keras_synthad built as a wheel and installed into a fresh venv outside the source tree.

    The venv sees the test environment's dependencies (TensorFlow, Beam, ...) through a
    ``.pth`` line, but not its editable keras_synthad: only the wheel's files.
    """
    tmp = tmp_path_factory.mktemp("wheel")
    run = functools.partial(subprocess.run, check=True, capture_output=True, text=True)
    source = tmp / "source"  # a copy: setuptools writes build/ and *.egg-info/ into the tree it builds
    shutil.copytree(ROOT / "keras_synthad", source / "keras_synthad", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-w", str(tmp), str(source)])
    [wheel] = tmp.glob("keras_synthad-*.whl")
    venv = tmp / "venv"
    run([sys.executable, "-m", "venv", str(venv)])
    [site] = (venv / "lib").glob("python*/site-packages")
    (site / "dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    run([str(venv / "bin" / "python"), "-m", "pip", "install", "--no-deps", "--no-index", str(wheel)])
    return venv


@pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="the default config trains on TensorFlow")
def test_main_job_runs_from_the_installed_wheel_on_the_embedded_sample(installed, tmp_path):
    env = {**os.environ, "KERAS_SYNTHAD_DATA": str(tmp_path / "no-shared-data-needed"), "PYTHONPATH": ""}
    where = subprocess.run(
        [str(installed / "bin" / "python"), "-c", "import keras_synthad; print(keras_synthad.__file__)"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        check=True,
    ).stdout
    assert str(installed) in where, where  # the wheel's copy, not the source tree's
    done = subprocess.run(
        [str(installed / "bin" / "synthad"), "pipeline", "run", "--runner=FnApiRunner"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "blessed and pushed: version 1" in done.stdout and "docker run" in done.stdout
    base = tmp_path / "synthad_output" / "kddcup99_sample" / "serving"
    assert versions(base) == [1]
    [report] = (tmp_path / "synthad_output" / "kddcup99_sample" / "pipeline" / "reports").glob("*.json")
    assert json.loads(report.read_text())["metrics"]["auroc"] >= 0.7


def test_the_cli_imports_nothing_outside_the_package():
    """No import in cli.py, at the top or inside a command, reaches a source-tree folder (benchmarks/, ...)."""
    tree = ast.parse(Path(cli.__file__).read_text())
    modules = [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
    modules += [n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.level == 0]
    tree_only = {p.name for p in ROOT.iterdir() if p.is_dir()} - {"keras_synthad"}
    assert "benchmarks" in tree_only
    assert not {m for m in modules if m.split(".")[0] in tree_only}


def test_unknown_flags_are_refused_outside_beam_commands(capsys):
    with pytest.raises(SystemExit):
        cli.main(["export", "m.keras", "--base", "b", "--runner=DirectRunner"])
    assert "unrecognized arguments: --runner=DirectRunner" in capsys.readouterr().err


def test_user_mistakes_are_one_line_without_a_traceback(tmp_path, capsys):
    config = tmp_path / "bad.toml"
    config.write_text('[pipeline]\nname = "x"\n[data]\ninput = "rows.csv"\n[trainer]\nmethod = "Nope"\nepochs = 1\n')
    assert cli.main(["pipeline", "run", "--config", str(config)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("synthad pipeline: error: [trainer] method must be one of") and "Traceback" not in err
    truncated = tmp_path / "model.keras"
    truncated.write_bytes(b"PK\x03\x04 half a zip")
    assert cli.main(["export", str(truncated), "--base", str(tmp_path / "serving")]) == 2
    err = capsys.readouterr().err
    assert "is not a readable .keras file (not a zip archive: truncated or corrupt?)" in err
    assert "File not found" not in err and not (tmp_path / "serving").exists()
    assert cli.main(["export", str(tmp_path / "missing.keras"), "--base", str(tmp_path / "serving")]) == 2
    assert "no .keras file at" in capsys.readouterr().err
    with pytest.raises(FileNotFoundError):  # --debug: the traceback
        cli.main(["--debug", "export", str(tmp_path / "missing.keras"), "--base", str(tmp_path / "serving")])

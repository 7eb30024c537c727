"""Pipeline runs that need no earlier run: a run killed mid-training, and DHAG's default inside the pipeline.

Apart from `test_pipeline.py` so that pytest-xdist can run them beside its module-wide run.
"""

import dataclasses
import os
import signal
import subprocess
import sys
import time

from test_pipeline import BEAM, make_config, make_frame, tf_only

from keras_synthad.export import versions
from keras_synthad.pipelines import config, run_pipeline
from keras_synthad.pipelines.metadata import PIPELINE_CONTEXT, MetadataStore

TOML = """
[pipeline]
name = "killed"
root = "{root}"
serving_base = "{serving}"
[data]
input = "{csv}"
label_column = "label"
anomaly_labels = ["attack"]
categorical_columns = ["proto", "service"]
[trainer]
method = "AdversarialAutoencoder"
epochs = 400
batch_size = 64
verbose = 2
args = {{ latent_dim = 2, prior_scale = 1.0, hidden_units = [32, 32] }}
"""


@tf_only
def test_a_killed_run_leaves_serving_and_metadata_intact(tmp_path):
    csv = tmp_path / "rows.csv"
    make_frame().to_csv(csv, index=False)
    toml = tmp_path / "killed.toml"
    toml.write_text(TOML.format(root=tmp_path / "root", serving=tmp_path / "serving", csv=csv))
    command = [sys.executable, "-m", "keras_synthad.cli", "pipeline", "run", "--config", str(toml), *BEAM]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.time() + 240
    while not list((tmp_path / "root" / "Trainer" / "model").glob("*/train_scores.npy")) and not list(
        (tmp_path / "root" / "Trainer" / "model").glob("*/trainer.log")
    ):
        assert process.poll() is None and time.time() < deadline, "the pipeline ended before its Trainer started"
        time.sleep(0.2)
    time.sleep(3)  # mid-training (400 epochs take far longer)
    os.killpg(process.pid, signal.SIGKILL)  # the CLI and its Trainer process
    process.wait()
    cfg = dataclasses.replace(config.load(toml), trainer=dataclasses.replace(config.load(toml).trainer, epochs=10))
    report = run_pipeline(cfg, BEAM, log=lambda line: None)
    assert report["pushed_version"] == 1 and versions(cfg.serving_base) == [1]
    store = MetadataStore(cfg.metadata)
    states = store.executions(store.context(PIPELINE_CONTEXT, "killed"))
    assert [c for c, s, _ in states if s == "CANCELED"] == ["Trainer"]  # the killed execution, marked by the re-run
    assert [s for c, s, _ in states if c == "Trainer"] == ["CANCELED", "COMPLETE"]
    assert len(store.artifacts(store.context(PIPELINE_CONTEXT, "killed"), "Model")) == 1  # no artifact from the kill


def test_dhag_default_trains_inside_the_pipeline_with_a_short_last_batch(tmp_path):
    """DHAG's default preset through Transform, Trainer, Evaluator and Pusher; the training split's
    row count is not known in advance, so its last batch is short (fewer than k = 64 rows)."""
    csv = tmp_path / "rows.csv"
    make_frame().to_csv(csv, index=False)
    cfg = make_config(
        tmp_path,
        csv,
        # About 900 steps: the default's rates are set for the peer benchmark's budget of about 1,000.
        trainer={"method": "DHAG", "epochs": 100, "batch_size": 100, "args": {"n_perturbators": 2}},
    )
    report = run_pipeline(cfg, BEAM, log=lambda line: None)
    assert report["metrics"]["auroc"] > 0.8, report
    assert report["blessed"] and report["pushed_version"] == 1, report["reasons"]

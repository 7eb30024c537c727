"""Pusher: copy a blessed SavedModel into the serving base directory as the next integer version.

The copy is staged next to the versions and renamed into place (`publish_copy`), so
TF Serving never sees a half-written version and no existing version is replaced.
"""

from __future__ import annotations

import json
from pathlib import Path

from keras_synthad.export import publish_copy
from keras_synthad.pipelines.runner import Component

PUSH_FILE = "push.json"


def run(model_dir: str, blessed: bool, reasons: list[str], serving_base: Path, output: Path, log) -> dict:
    from keras_synthad.pipelines.trainer import SERVING_DIR

    output.mkdir(parents=True, exist_ok=True)
    record = {"pushed": False, "reasons": reasons, "serving_base": str(serving_base)}
    if blessed:
        version = publish_copy(Path(model_dir) / SERVING_DIR, serving_base)
        record.update(pushed=True, version=version, destination=str(serving_base / str(version)))
        log(f"version {version} -> {record['destination']}")
    else:
        log("nothing pushed: " + "; ".join(reasons))
    (output / PUSH_FILE).write_text(json.dumps(record, indent=2) + "\n")
    return {
        "pushed": int(record["pushed"]),
        "version": record.get("version", 0),
        "destination": record.get("destination", ""),
    }


def component(model, evaluation, infra, serving_base: Path) -> Component:
    blessing = evaluation["blessing"]
    reasons = json.loads(blessing.properties["reasons"])
    if not infra.properties["blessed"]:
        reasons.append("InfraValidator: the SavedModel did not answer its warmup requests")
    inputs = {
        "model": model,
        "model_blessing": blessing,
        "evaluation": evaluation["evaluation"],
        "infra_blessing": infra,
    }
    return Component(
        "Pusher",
        inputs,
        {"pushed_model": "PushedModel"},
        lambda out, log: {"pushed_model": run(model.uri, not reasons, reasons, serving_base, out["pushed_model"], log)},
    )

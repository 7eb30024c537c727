"""What every benchmark records next to its numbers: machine, backend, versions, commit."""

from __future__ import annotations

import gzip
import json
import os
import platform
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import keras
import numpy as np

RESULTS = Path(__file__).parent / "results"


def environment() -> dict:
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True, cwd=Path(__file__).parent
        ).stdout.strip()
        dirty = bool(
            subprocess.run(
                # results files are outputs: rewriting one does not make the code differ from `commit`
                [
                    "git",
                    "status",
                    "--porcelain",
                    "--untracked-files=no",
                    "--",
                    ":(top)",
                    ":(top,exclude)benchmarks/results",
                ],
                capture_output=True,
                text=True,
                cwd=Path(__file__).parent,
            ).stdout.strip()
        )
    except (OSError, subprocess.CalledProcessError):
        commit, dirty = "unknown", None
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "commit": commit,
        "uncommitted_changes": dirty,
        "backend": keras.backend.backend(),
        "keras": keras.__version__,
        "machine": f"{platform.machine()}, {os.cpu_count()} CPU cores, {platform.platform()}",
        "cpu_cores_used": len(os.sched_getaffinity(0)),  # fewer than the machine's under taskset
        "accelerator": "none (CPU)",
        "python": platform.python_version(),
    }


def mean_std(rows: list[dict], keys) -> dict:
    return {k: {"mean": float(np.mean([r[k] for r in rows])), "std": float(np.std([r[k] for r in rows]))} for k in keys}


def with_header(source_gz: str | Path, names, target: str | Path) -> Path:
    """A copy of the gzipped, header-less CSV `source_gz` with `names` as its header row (batch scoring needs one)."""
    with gzip.open(source_gz, "rt") as source, open(target, "w") as out:
        out.write(",".join(names) + "\n")
        shutil.copyfileobj(source, out)
    return Path(target)


def write_json(path: str | Path, payload: dict) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(payload, indent=2) + "\n")
    tmp.replace(path)
    return path


def run_all(payload: dict, jobs, run, describe, summarize, output: str | Path) -> dict:
    """``run(*job)`` for every job; after each, print ``describe(row)`` and rewrite `output`
    with the rows so far and their ``summarize(rows)``, so a cut-off run keeps its results."""
    rows = []
    for job in jobs:
        rows.append(run(*job))
        print(describe(rows[-1]), flush=True)
        write_json(output, {**payload, "rows": rows, "summary": summarize(rows)})
    return {**payload, "rows": rows, "summary": summarize(rows)}


def parse_seeds(text: str) -> list[int]:
    """ "0-4" -> [0, 1, 2, 3, 4]; "0,3" -> [0, 3]."""
    if "-" in text:
        low, high = text.split("-")
        return list(range(int(low), int(high) + 1))
    return [int(s) for s in text.split(",")]

"""Choose default recipes on the tuning tables only (``peers.TUNING_TABLES``), never on the others.

Each variant is a method with constructor overrides on top of its default preset,
run on the peer benchmark's split, budget and scaling (``benchmarks.peers``), with
IForest and KNN beside it. The AUROC per table and the mean go to the terminal and
to ``benchmarks/results/tuning/<label>.json``; the 18 other ADBench tables are never
read here, so the peer benchmark's figures on them are untouched by this selection.

Usage::

    KERAS_BACKEND=jax python -m benchmarks.tune --method FenceGAN --label fg-default --seeds 0
    KERAS_BACKEND=jax python -m benchmarks.tune --method FenceGAN --label fg-prob \\
        --params '{"score": "probability"}'
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from benchmarks.common import environment, parse_seeds, write_json
from benchmarks.peers import SETTINGS, TUNING_TABLES, add_protocol_arguments, evaluate, split
from keras_synthad.data import load_adbench
from keras_synthad.data.paths import data_dir


def adbench_file(table: str) -> str:
    matches = [p.stem for p in data_dir("adbench").glob("*.npz") if p.stem.lower().endswith("_" + table)]
    if len(matches) != 1:
        raise ValueError(f"No single ADBench file for {table!r}: {matches}")
    return matches[0]


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--method", required=True, help="a keras_synthad method, or a peer (IForest, KNN, ...)")
    parser.add_argument("--label", required=True, help="name of the variant (results file name)")
    parser.add_argument("--params", default="{}", help="JSON constructor overrides on the default preset")
    parser.add_argument("--tables", default=",".join(TUNING_TABLES))
    parser.add_argument("--seeds", default="0")
    add_protocol_arguments(parser)
    parser.add_argument("--output-dir", default="benchmarks/results/tuning")
    args = parser.parse_args(argv)
    tables = args.tables.split(",")
    untouched = sorted(set(tables) - set(TUNING_TABLES))
    if untouched:
        parser.error(f"{untouched} are not tuning tables {TUNING_TABLES}: recipes are never chosen on them")
    params = json.loads(args.params)
    rows = []
    for table in tables:
        x, y = load_adbench(adbench_file(table))
        for seed in parse_seeds(args.seeds):
            x_train, x_test, y_test, _ = split(x, y, seed, 0.0, args.max_train, args.max_test)
            row = evaluate(args.method, x_train, x_test, y_test, seed, args, False, params)
            row.update(dataset=table, seed=seed)
            print(
                f"{args.label} {table} seed {seed}: AUROC {row['auroc']:.4f} fit {row['fit_seconds']:.1f}s", flush=True
            )
            rows.append(row)
    mean = float(np.mean([r["auroc"] for r in rows]))
    print(f"{args.label}: mean AUROC {mean:.4f} over {len(rows)} runs", flush=True)
    write_json(
        Path(args.output_dir) / f"{args.label}.json",
        {
            "environment": environment(),
            "method": args.method,
            "params": params,
            "settings": {k: getattr(args, k) for k in SETTINGS},
            "mean_auroc": mean,
            "results": rows,
        },
    )


if __name__ == "__main__":
    main()

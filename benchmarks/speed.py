"""Training speed of every method on the current backend, against its own floor.

For each method, on random rows of ``--features`` columns in [0, 1] at the batch size
of the method's paper:

- **adversarial step**: the method's own ``fit`` (its multi-role ``train_step``);
  one warm-up ``fit`` of ``--steps`` steps traces and compiles, then ``--repeats``
  timed ``fit`` calls of ``--steps`` steps each; the median gives seconds per step
  and samples per second;
- **floor**: every network the step trains (each network of ``roles()`` once), cloned
  with fresh weights and trained alone the plain Keras way (``compile("adam", "mse")``,
  ``fit`` on random inputs and targets of its shapes, same batch size, timed in turn
  with the adversarial step so that both see the same machine load).
  The floor is the sum of those plain steps, and ``ratio = adversarial / floor``
  says how close one multi-role step is to training its networks one after the
  other with stock Keras.

An algorithm step does more work than one plain step per network: a GAN's
discriminator sees real and generated rows, and the generator's update back-propagates
through it. The **work floor** counts that: each network's plain step on as many
rows as the algorithm step trains it on (``passes`` below, from each
``algorithm_step``), so ``work_ratio`` near 1 means the multi-role machinery adds
little beyond the algorithm's own arithmetic. Neither floor counts forward-only
passes (the generator's forward under the discriminator's update, DA3D's frozen
autoencoder).

Methods: Fence GAN (adversarial phase, batch 256, Table IV), DOPING's adversarial
autoencoder (2 x 1000 units, batch 128), DA3D's Algorithm 1 (alarm, generator and
critic on a frozen AAE, batch 256), DHAG (Algorithm 1 with its default networks and
L = 5, batch 256 as in the authors' Thyroid setting). Results: ``benchmarks/results/speed/<backend>.json``.

Usage: ``KERAS_BACKEND=jax taskset -c 1 python -m benchmarks.speed``

``--backends jax,tensorflow,torch --rounds 3`` compares backends under the same
machine load: it runs this script once per backend in turn (a child process each,
``--repeats`` timed fits per method), ``--rounds`` times, and writes each backend's
median over the rounds, with every round's step time. ``backend:true`` (for example
``tensorflow:true``) runs that backend with ``jit_compile=True``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import keras
import numpy as np

import keras_synthad as ks
from benchmarks.common import RESULTS, environment, write_json


def methods(features: int, seed: int) -> dict:
    """``{name: (builder of the model whose fit runs the step, batch size, passes)}``.

    ``passes``: how many batches of rows one step trains each network on (forward and
    backward), read off each ``algorithm_step``; networks not named take 1.
    """
    shape = (features,)
    return {
        # G: its own update. D: real + fake in its update, fake again under G's update.
        "FenceGAN": (lambda: ks.FenceGAN(shape, seed=seed, preset="paper"), 256, {"discriminator": 3}),
        # Encoder: reconstruction + generator updates. D: prior + codes, then codes under the generator.
        "DOPING (AAE)": (
            lambda: ks.DOPING(shape, seed=seed, preset="paper").autoencoder,
            128,
            {"encoder": 2, "discriminator": 3},
        ),
        # Alarm: normal, trivial, generated (eq. 1), generated again (eq. 3). Critic: 3 sets (eq. 2) + eq. 3.
        "DA3D": (lambda: ks.DA3D(shape, aae_epochs=0, seed=seed, preset="paper"), 256, {"alarm": 4, "critic": 4}),
        # Discriminator: the codes and the L = 5 perturbed copies (eq. 2).
        "DHAG": (lambda: ks.DHAG(shape, seed=seed, preset="paper"), 256, {"discriminator": 6}),
    }


def fit_closure(model, inputs, targets, batch: int):
    return lambda: model.fit(inputs, targets, batch_size=batch, epochs=1, shuffle=False, verbose=0)


def random_like(tensors, rows: int, rng):
    arrays = [rng.random((rows, *t.shape[1:]), dtype=np.float32) for t in tensors]
    return arrays[0] if len(arrays) == 1 else arrays


def plain_fit(network: keras.Model, batch: int, steps: int, rng, jit_compile="auto"):
    """``fit`` of a fresh copy of `network` the stock Keras way (Adam, MSE on random targets)."""
    clone = keras.models.clone_model(network)
    clone.compile(optimizer="adam", loss="mse", jit_compile=jit_compile)
    return fit_closure(
        clone, random_like(clone.inputs, batch * steps, rng), random_like(clone.outputs, batch * steps, rng), batch
    )


def median_seconds_per_step(fits: dict, steps: int, repeats: int) -> dict:
    """Warm every ``fit`` up once (trace / compile), then time them in turn, ``repeats`` rounds.

    Interleaving puts the adversarial step and its floor under the same machine load.
    """
    for fit in fits.values():
        fit()
    timings = {name: [] for name in fits}
    for _ in range(repeats):
        for name, fit in fits.items():
            start = time.perf_counter()
            fit()
            timings[name].append((time.perf_counter() - start) / steps)
    return {name: statistics.median(values) for name, values in timings.items()}


def measure(name: str, model, batch: int, passes: dict, args, rng) -> dict:
    model.compile(jit_compile=args.jit_compile)
    x = rng.random((batch * args.steps, args.features), dtype=np.float32)
    fits = {("step", 1): fit_closure(model, x, None, batch)}
    for role_networks in model.roles().values():
        for network in role_networks:
            for times in {1, passes.get(network.name, 1)}:
                fits.setdefault(
                    (network.name, times), plain_fit(network, batch * times, args.steps, rng, args.jit_compile)
                )
    seconds = median_seconds_per_step(fits, args.steps, args.repeats)
    step = seconds.pop(("step", 1))
    plain = {network: value for (network, times), value in seconds.items() if times == 1}
    work = {network: seconds[(network, passes.get(network, 1))] for network in plain}
    floor, work_floor = sum(plain.values()), sum(work.values())
    row = {
        "method": name,
        "batch_size": batch,
        "step_ms": round(step * 1e3, 4),
        "samples_per_second": round(batch / step, 1),
        "plain_step_ms": {k: round(v * 1e3, 4) for k, v in plain.items()},
        "floor_ms": round(floor * 1e3, 4),
        "ratio": round(step / floor, 3),
        "passes": {k: passes.get(k, 1) for k in plain},
        "work_floor_ms": round(work_floor * 1e3, 4),
        "work_ratio": round(step / work_floor, 3),
    }
    print(
        f"{name}: {row['step_ms']:.2f} ms/step, {row['samples_per_second']:.0f} samples/s, "
        f"floor {row['floor_ms']:.2f} ms (ratio {row['ratio']:.2f}), "
        f"work floor {row['work_floor_ms']:.2f} ms (ratio {row['work_ratio']:.2f})",
        flush=True,
    )
    return row


def merge_rounds(payloads: list[dict], interleaving: dict) -> dict:
    """One backend's rounds -> per method the median of each timing, and every round's step time."""
    rows = []
    for name in [r["method"] for r in payloads[0]["rows"]]:
        runs = [next(r for r in p["rows"] if r["method"] == name) for p in payloads]
        step, floor, work = (
            statistics.median(r[key] for r in runs) for key in ("step_ms", "floor_ms", "work_floor_ms")
        )
        plain = {k: round(statistics.median(r["plain_step_ms"][k] for r in runs), 4) for k in runs[0]["plain_step_ms"]}
        rows.append(
            {
                **runs[0],
                "step_ms": round(step, 4),
                "samples_per_second": round(runs[0]["batch_size"] / step * 1e3, 1),
                "plain_step_ms": plain,
                "floor_ms": round(floor, 4),
                "ratio": round(step / floor, 3),
                "work_floor_ms": round(work, 4),
                "work_ratio": round(step / work, 3),
                "step_ms_rounds": [r["step_ms"] for r in runs],
            }
        )
    return {**payloads[0], "settings": {**payloads[0]["settings"], "interleaved": interleaving}, "rows": rows}


def interleave(args) -> None:
    """Run every backend of ``--backends`` in turn, ``--rounds`` times, and write each one's medians."""
    specs = [spec.strip() for spec in args.backends.split(",")]
    interleaving = {"backends": specs, "rounds": args.rounds, "repeats_per_round": args.repeats}
    payloads = {spec: [] for spec in specs}
    with tempfile.TemporaryDirectory() as tmp:
        for round_ in range(args.rounds):
            for spec in specs:
                backend, _, jit = spec.partition(":")
                output = Path(tmp) / f"{round_}-{backend}-{jit or 'auto'}.json"
                command = [sys.executable, "-m", "benchmarks.speed", "--output", str(output)]
                for option in ("features", "steps", "repeats", "methods", "seed"):
                    command += [f"--{option}", str(getattr(args, option))]
                command += ["--jit-compile", jit or "auto"]
                print(f"round {round_ + 1}/{args.rounds}: {spec}", flush=True)
                subprocess.run(command, env={**os.environ, "KERAS_BACKEND": backend}, check=True)
                payloads[spec].append(json.loads(output.read_text()))
    for spec, runs in payloads.items():
        backend, _, jit = spec.partition(":")
        name = f"{backend}.json" if jit in ("", "auto") else f"{backend}_jit-{jit}.json"
        write_json(RESULTS / "speed" / name, merge_rounds(runs, interleaving))


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--features", type=int, default=121, help="columns (121: KDD Cup 99 one-hot encoded)")
    parser.add_argument("--steps", type=int, default=100, help="steps per timed fit")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--methods", default="all", help="comma-separated names, or 'all'")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--jit-compile",
        default="auto",
        type=lambda v: {"true": True, "false": False}.get(v.lower(), v),
        help="compile(jit_compile=...) of the method and its floors: auto (Keras' choice), true (XLA) or false",
    )
    parser.add_argument("--output", default=None, help="default: benchmarks/results/speed/<backend>.json")
    parser.add_argument("--backends", help="comma-separated backend[:jit_compile] specs to interleave (see above)")
    parser.add_argument("--rounds", type=int, default=3, help="with --backends: how many turns each backend gets")
    args = parser.parse_args(argv)
    if args.backends:
        return interleave(args)
    keras.utils.set_random_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    chosen = methods(args.features, args.seed)
    if args.methods != "all":
        unknown = sorted(set(args.methods.split(",")) - set(chosen))
        if unknown:
            raise SystemExit(f"Unknown methods {unknown}; known: {sorted(chosen)}")
        chosen = {k: v for k, v in chosen.items() if k in args.methods.split(",")}
    rows = [measure(name, build(), batch, passes, args, rng) for name, (build, batch, passes) in chosen.items()]
    backend = keras.backend.backend()
    write_json(
        args.output or RESULTS / "speed" / f"{backend}.json",
        {
            "benchmark": "training step vs. the sum of its networks' plain Keras steps",
            "environment": environment(),
            "settings": {
                "features": args.features,
                "steps": args.steps,
                "repeats": args.repeats,
                "seed": args.seed,
                "jit_compile": args.jit_compile,
            },
            "rows": rows,
        },
    )


if __name__ == "__main__":
    main()

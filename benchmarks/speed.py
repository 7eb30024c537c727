"""Training speed of every method on the current backend, against its own floor.

For each method, on random rows of ``--features`` columns in [0, 1] at the batch size
of the method's paper:

- **adversarial step**: the method's own ``fit`` (its multi-role ``train_step``);
  one warm-up ``fit`` of ``--steps`` steps traces and compiles, then ``--repeats``
  timed ``fit`` calls of ``--steps`` steps each; the median gives seconds per step
  and samples per second;
- **floor**: every network the step trains (each network of ``roles()`` once), cloned
  with fresh weights and trained alone the plain Keras way (``compile("adam", "mse")``,
  ``fit`` on random inputs and targets of its shapes, same batch size, same timing).
  The floor is the sum of those plain steps, and ``ratio = adversarial / floor``
  says how close one multi-role step is to training its networks one after the
  other with stock Keras.

What the floor leaves out, by construction: a role that runs a network it does not
train (DOPING's AAE runs the encoder in all three of its updates, DA3D runs its frozen
autoencoder several times per step) pays forward passes the floor does not count.

Methods: Fence GAN (adversarial phase, batch 256, Table IV), DOPING's adversarial
autoencoder (2 x 1000 units, batch 128), DA3D's Algorithm 1 (alarm, generator and
critic on a frozen AAE, batch 256), DHAG (Algorithm 1, batch 256, the authors' Thyroid
setting). Results: ``benchmarks/results/speed/<backend>.json``.

Usage: ``KERAS_BACKEND=jax taskset -c 1 python -m benchmarks.speed``
"""

from __future__ import annotations

import argparse
import statistics
import time

import keras
import numpy as np

import keras_synthad as ks
from benchmarks.common import RESULTS, environment, write_json


def methods(features: int, seed: int) -> dict:
    """``{name: (model whose fit runs the step, batch size)}``."""
    shape = (features,)
    return {
        "FenceGAN": (ks.FenceGAN(shape, seed=seed), 256),
        "DOPING (AAE)": (ks.DOPING(shape, seed=seed).autoencoder, 128),
        "DA3D": (ks.DA3D(shape, aae_epochs=0, seed=seed), 256),
        "DHAG": (ks.DHAG(shape, seed=seed), 256),
    }


def seconds_per_step(fit, steps: int, repeats: int) -> float:
    fit()  # trace / compile
    timings = []
    for _ in range(repeats):
        start = time.perf_counter()
        fit()
        timings.append((time.perf_counter() - start) / steps)
    return statistics.median(timings)


def random_like(tensors, rows: int, rng) -> list[np.ndarray]:
    return [rng.random((rows, *t.shape[1:]), dtype=np.float32) for t in tensors]


def plain_step_seconds(network: keras.Model, batch: int, steps: int, repeats: int, rng) -> float:
    """One stock Keras training step of a fresh copy of `network` (Adam, MSE)."""
    clone = keras.models.clone_model(network)
    clone.compile(optimizer="adam", loss="mse")
    inputs = random_like(clone.inputs, batch * steps, rng)
    targets = random_like(clone.outputs, batch * steps, rng)
    inputs, targets = (inputs[0] if len(inputs) == 1 else inputs), (targets[0] if len(targets) == 1 else targets)
    return seconds_per_step(
        lambda: clone.fit(inputs, targets, batch_size=batch, epochs=1, shuffle=False, verbose=0), steps, repeats
    )


def measure(name: str, model, batch: int, args, rng) -> dict:
    x = rng.random((batch * args.steps, args.features), dtype=np.float32)
    model.compile()
    step = seconds_per_step(
        lambda: model.fit(x, batch_size=batch, epochs=1, shuffle=False, verbose=0), args.steps, args.repeats
    )
    networks = {}
    for role_networks in model.roles().values():
        for network in role_networks:
            if network.name not in networks:
                networks[network.name] = plain_step_seconds(network, batch, args.steps, args.repeats, rng)
    floor = sum(networks.values())
    row = {
        "method": name,
        "batch_size": batch,
        "step_ms": round(step * 1e3, 4),
        "samples_per_second": round(batch / step, 1),
        "plain_step_ms": {k: round(v * 1e3, 4) for k, v in networks.items()},
        "floor_ms": round(floor * 1e3, 4),
        "ratio": round(step / floor, 3),
    }
    print(
        f"{name}: {row['step_ms']:.2f} ms/step, {row['samples_per_second']:.0f} samples/s, "
        f"floor {row['floor_ms']:.2f} ms, ratio {row['ratio']:.2f}",
        flush=True,
    )
    return row


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--features", type=int, default=121, help="columns (121: KDD Cup 99 one-hot encoded)")
    parser.add_argument("--steps", type=int, default=100, help="steps per timed fit")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--methods", default="all", help="comma-separated names, or 'all'")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output", default=None, help="default: benchmarks/results/speed/<backend>.json")
    args = parser.parse_args(argv)
    keras.utils.set_random_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    chosen = methods(args.features, args.seed)
    if args.methods != "all":
        unknown = sorted(set(args.methods.split(",")) - set(chosen))
        if unknown:
            raise SystemExit(f"Unknown methods {unknown}; known: {sorted(chosen)}")
        chosen = {k: v for k, v in chosen.items() if k in args.methods.split(",")}
    rows = [measure(name, model, batch, args, rng) for name, (model, batch) in chosen.items()]
    backend = keras.backend.backend()
    write_json(
        args.output or RESULTS / "speed" / f"{backend}.json",
        {
            "benchmark": "training step vs. the sum of its networks' plain Keras steps",
            "environment": environment(),
            "settings": {"features": args.features, "steps": args.steps, "repeats": args.repeats, "seed": args.seed},
            "rows": rows,
        },
    )


if __name__ == "__main__":
    main()

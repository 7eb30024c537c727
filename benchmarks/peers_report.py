"""Report of `benchmarks.peers`: Markdown tables and PNG plots from its JSON files.

Writes ``<dir>/REPORT.md`` (AUROC / AUPRC / F1 per dataset and method, mean ranks,
wall times), ``<dir>/ranks.png`` (mean AUROC rank per method, each variant),
``<dir>/roc_<dataset>.png`` and ``<dir>/histograms_<dataset>.png`` (seed 0,
normal-only training) for the dataset whose scores were kept, and prints the summary
table that the README shows.

Usage: ``python -m benchmarks.peers_report [--dir benchmarks/results/peers]``
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from scipy.stats import rankdata  # noqa: E402
from sklearn.metrics import roc_curve  # noqa: E402

from benchmarks.peers import OURS, PEERS, TUNING_TABLES  # noqa: E402

# The ADBench tables each method's own paper reports on (../shared/REFERENCE.md). Fence GAN's
# (KDD Cup 99, MNIST and CIFAR-10 images) are not among them.
PAPER_DATASETS = {
    "DOPING": ("mammography", "thyroid", "lymphography", "cardio"),
    "DA3D": ("mammography",),
    "DHAG": ("thyroid", "pageblocks", "shuttle"),
}


def column_order(runs) -> list[str]:
    """The methods present, each variant of earlier settings (e.g. "DOPING[paper]") after its method."""
    present = {row["method"] for run in runs for row in run["results"]}
    return [v for m in OURS + PEERS for v in [m, *sorted(p for p in present if p.startswith(m + "["))] if v in present]


def load(directory: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted(directory.glob("*_seed*.json"))]


def table(runs, pollution: float, metric: str, methods) -> tuple[list[str], dict]:
    """Markdown rows of mean ± std per dataset, and the mean rank per method (over datasets)."""
    values = defaultdict(lambda: defaultdict(list))
    for run in runs:
        if run["pollution"] == pollution:
            for row in run["results"]:
                values[run["dataset"]][row["method"]].append(row[metric])
    methods = [m for m in methods if any(values[d][m] for d in values)]
    # Ranks among the methods run on every table (a partly run method gets none).
    ranked = [m for m in methods if all(values[d][m] for d in values)]
    lines = [
        "| dataset | seeds | " + " | ".join(methods) + " |",
        "| --- | --- | " + " | ".join("---" for _ in methods) + " |",
    ]
    ranks = defaultdict(list)
    for dataset in sorted(values):
        means = [np.mean(values[dataset][m]) if values[dataset][m] else np.nan for m in methods]
        best = np.nanmax(means)
        cells = [
            ("**{:.3f}**" if mean == best else "{:.3f}").format(mean) + f" ± {np.std(values[dataset][m]):.3f}"
            if values[dataset][m]
            else "–"
            for m, mean in zip(methods, means, strict=True)
        ]
        seeds = max(len(v) for v in values[dataset].values())
        lines.append(f"| {dataset} | {seeds} | " + " | ".join(cells) + " |")
        ranked_means = [np.mean(values[dataset][m]) for m in ranked]
        for m, r in zip(ranked, rankdata(-np.asarray(ranked_means)), strict=True):
            ranks[m].append(r)
    lines.append(
        "| mean rank | | " + " | ".join(f"{np.mean(ranks[m]):.2f}" if ranks[m] else "–" for m in methods) + " |"
    )
    return lines, {m: float(np.mean(ranks[m])) for m in methods if ranks[m]}


def selection_summary(runs, pollution: float, methods) -> list[str]:
    """Mean AUROC per method on the tuning tables, on the untouched ones and on all, with the
    inversions the issue counts (AUROC < .5 on a table where IForest's is > .7)."""
    values = defaultdict(lambda: defaultdict(list))
    for run in runs:
        if run["pollution"] == pollution:
            for row in run["results"]:
                values[run["dataset"]][row["method"]].append(row["auroc"])
    datasets = sorted(values)
    methods = [m for m in methods if any(values[d][m] for d in datasets)]
    groups = {
        "tuning tables": [d for d in datasets if d in TUNING_TABLES],
        "untouched tables": [d for d in datasets if d not in TUNING_TABLES],
        "all": datasets,
    }
    lines = [
        "| method | " + " | ".join(f"{name} ({len(group)})" for name, group in groups.items()) + " | inverted |",
        "| --- | " + " | ".join("---" for _ in groups) + " | --- |",
    ]
    for m in methods:
        cells = []
        for group in groups.values():
            means = [np.mean(values[d][m]) for d in group if values[d][m]]
            cells.append(f"{np.mean(means):.3f}" + ("" if len(means) == len(group) else f" ({len(means)} tables)"))
        inverted = [
            d
            for d in datasets
            if values[d][m]
            and values[d]["IForest"]
            and np.mean(values[d][m]) < 0.5
            and np.mean(values[d]["IForest"]) > 0.7
        ]
        lines.append(f"| {m} | " + " | ".join(cells) + f" | {', '.join(inverted) or '–'} |")
    return lines


def targets(runs, methods) -> list[str]:
    """The issue's target: each method's mean AUROC at least IForest's on its paper's
    datasets, for each training variant; datasets weigh equally, each the mean over its seeds."""
    lines = [
        "| method | training | its paper's datasets run | mean AUROC | IForest | at least IForest's |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for method, datasets in PAPER_DATASETS.items():
        if method not in methods:
            continue
        for pollution in sorted({run["pollution"] for run in runs}):
            training = "normal-only" if pollution == 0.0 else f"{100 * pollution:g} % polluted"
            means = {}
            for dataset in datasets:
                aurocs = [
                    {r["method"]: r["auroc"] for r in run["results"]}
                    for run in runs
                    if run["pollution"] == pollution and run["dataset"] == dataset
                ]
                pairs = [a for a in aurocs if method in a and "IForest" in a]
                if pairs:
                    means[dataset] = (np.mean([a[method] for a in pairs]), np.mean([a["IForest"] for a in pairs]))
            if not means:
                lines.append(f"| {method} | {training} | none yet | – | – | – |")
                continue
            ours, forest = np.mean([m for m, _ in means.values()]), np.mean([f for _, f in means.values()])
            lines.append(
                f"| {method} | {training} | {', '.join(means)} | {ours:.3f} | {forest:.3f} | "
                f"{'yes' if ours >= forest else 'no'} |"
            )
    return lines


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dir", default="benchmarks/results/peers")
    args = parser.parse_args(argv)
    directory = Path(args.dir)
    runs = load(directory)
    if not runs:
        raise SystemExit(f"No results in {directory}: run `python -m benchmarks.peers` first.")
    methods = column_order(runs)
    env = runs[0]["environment"]
    settings = runs[0]["settings"]
    environments = [run["environment"] for run in runs] + [
        later["environment"]
        for run in runs
        for later in run.get("added_later", []) + run.get("replaced", [])
        if "environment" in later
    ]
    commits = ", ".join(sorted({e["commit"][:7] for e in environments}))
    backends = ", ".join(sorted({e["backend"] for e in environments}))
    out = [
        "# keras_synthad methods against PyOD on ADBench",
        "",
        f"{len(runs)} runs; {env['machine']}; {env['accelerator']}; Keras backend {backends}; commits "
        f"{commits} (per run in its JSON file). Settings: {settings}. Stratified 70/30 split per seed; min-max "
        "scaling fitted on the training rows; thresholds at the contamination above; F1 of each detector's own labels.",
        "",
    ]
    summary = {}
    for pollution, label in ((0.0, "normal-only training"), (0.01, "training polluted with 1 % anomalies")):
        if not any(run["pollution"] == pollution for run in runs):
            continue
        for metric in ("auroc", "auprc", "f1"):
            lines, ranks = table(runs, pollution, metric, methods)
            out += [f"## {metric.upper()}, {label}", "", *lines, ""]
            if metric == "auroc":
                summary[label] = (lines, ranks)
                selection = selection_summary(runs, pollution, methods)
                out += [f"## Mean AUROC, {label}: tuning and untouched tables", "", *selection, ""]
    target_lines = targets(runs, methods)
    out += ["## Target: at least IForest's mean AUROC on each method's paper datasets", "", *target_lines, ""]
    seconds = defaultdict(lambda: defaultdict(list))
    for run in runs:
        for row in run["results"]:
            seconds[row["method"]]["fit"].append(row["fit_seconds"])
            seconds[row["method"]]["score"].append(row["score_seconds"])
    out += ["## Wall time per run (median seconds)", "", "| method | fit | score |", "| --- | --- | --- |"]
    out += [f"| {m} | {np.median(seconds[m]['fit']):.2f} | {np.median(seconds[m]['score']):.3f} |" for m in methods]

    figure, axis = plt.subplots(figsize=(8, 4))
    width = 0.4
    for i, (label, (_, ranks)) in enumerate(summary.items()):
        axis.bar(np.arange(len(methods)) + i * width, [ranks.get(m, np.nan) for m in methods], width, label=label)
    axis.set_xticks(np.arange(len(methods)) + width / 2, methods, rotation=30)
    axis.set_ylabel("mean AUROC rank (1 = best)")
    axis.legend()
    figure.tight_layout()
    figure.savefig(directory / "ranks.png", dpi=120)
    plt.close(figure)
    out += ["", "![mean ranks](ranks.png)"]

    kept = [run for run in runs if run.get("test_labels") and run["pollution"] == 0.0 and run["seed"] == 0]
    for run in kept:
        y = np.asarray(run["test_labels"])
        figure, axis = plt.subplots(figsize=(5, 5))
        scored = [row for row in run["results"] if "test_scores" in row]
        for row in scored:
            fpr, tpr, _ = roc_curve(y, row["test_scores"])
            axis.plot(fpr, tpr, label=f"{row['method']} ({row['auroc']:.3f})")
        axis.plot([0, 1], [0, 1], "k:", linewidth=0.8)
        axis.set(xlabel="false positive rate", ylabel="true positive rate", title=f"ROC, {run['dataset']}, seed 0")
        axis.legend(fontsize=7)
        figure.tight_layout()
        figure.savefig(directory / f"roc_{run['dataset']}.png", dpi=120)
        plt.close(figure)
        cols = 5
        figure, axes = plt.subplots(int(np.ceil(len(scored) / cols)), cols, figsize=(14, 5.5))
        for axis, row in zip(np.ravel(axes), scored, strict=False):
            scores = np.asarray(row["test_scores"])
            bins = np.histogram_bin_edges(scores, bins=40)
            axis.hist(scores[y == 0], bins=bins, alpha=0.6, density=True, label="normal")
            axis.hist(scores[y == 1], bins=bins, alpha=0.6, density=True, label="anomaly")
            axis.set_title(row["method"], fontsize=9)
            axis.set_yticks([])
        np.ravel(axes)[0].legend(fontsize=7)
        figure.suptitle(f"test scores, {run['dataset']}, seed 0, normal-only training")
        figure.tight_layout()
        figure.savefig(directory / f"histograms_{run['dataset']}.png", dpi=110)
        plt.close(figure)
        out += [f"![ROC {run['dataset']}](roc_{run['dataset']}.png)", f"![histograms](histograms_{run['dataset']}.png)"]
    (directory / "REPORT.md").write_text("\n".join(out) + "\n")
    for label, (lines, _) in summary.items():
        print(f"AUROC, {label}\n" + "\n".join(lines) + "\n")
        print("\n".join(selection_summary(runs, 0.0 if "normal" in label else 0.01, methods)) + "\n")
    print("Target\n" + "\n".join(target_lines))


if __name__ == "__main__":
    main()

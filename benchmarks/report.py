"""Markdown tables of the DOPING, DA3D and DHAG benchmark results and of training speed, for the README.

Usage: ``python -m benchmarks.report`` (reads ``benchmarks/results/{doping,da3d,dhag}_*.json``
and ``benchmarks/results/speed/*.json``).
"""

from __future__ import annotations

import json

import numpy as np

from benchmarks.common import RESULTS, mean_std

LABELS = {"iforest": "iForest", "iforest_doping": "iForest + DOPING", "iforest_smote": "iForest + SMOTE variant"}


def odds_table(payload: dict) -> str:
    lines = [
        "| dataset | seeds | detector | best F1 | best G-measure | AUC (sweep) | AUROC |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name, summary in payload["summary"].items():
        for variant, label in LABELS.items():
            cells = [
                f"{summary[variant][m]['mean']:.4f} ± {summary[variant][m]['std']:.4f}"
                for m in ("best_f1", "best_g", "sweep_auc", "auroc")
            ]
            lines.append(f"| {name} | {summary['seeds']} | {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def synthetic_table(payload: dict) -> str:
    rows = payload["rows"]
    lines = [
        "| dataset | seeds | iForest | + DOPING (edge) | best ring norm | AUC there | AUC at norm 15 / 20 | code norm mean |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name in dict.fromkeys(r["dataset"] for r in rows):
        mine = [r for r in rows if r["dataset"] == name]
        curve = np.array([[p["sweep_auc"] for p in r["by_norm"]] for r in mine]).mean(axis=0)
        norms = [p["norm"] for p in mine[0]["by_norm"]]
        best = int(np.argmax(curve))
        at = {n: curve[norms.index(n)] for n in (15.0, 20.0)}
        base = np.mean([r["baseline"]["sweep_auc"] for r in mine])
        edge = np.mean([r["doping_edge"]["sweep_auc"] for r in mine])
        code = np.mean([r["code_norm_mean"] for r in mine])
        lines.append(
            f"| {name} | {len(mine)} | {base:.4f} | {edge:.4f} | {norms[best]:.0f} | {curve[best]:.4f} | "
            f"{at[15.0]:.4f} / {at[20.0]:.4f} | {code:.1f} |"
        )
    return "\n".join(lines)


def da3d_table(payloads: list[dict]) -> str:
    """One line per dataset, pollution, variant and training budget, pooling the seeds of every file."""
    from benchmarks.da3d_table2 import PAPER

    groups: dict[tuple, list] = {}
    for payload in payloads:
        budget = (payload["args"]["epochs"], payload["args"]["aae_epochs"])
        for r in payload["rows"]:
            groups.setdefault((r["dataset"], r["pollution"], r["variant"], *budget), []).append(r)
    lines = [
        "| dataset | pollution | variant | epochs (DA3D / AAE) | seeds | AUROC | AP | paper AUROC |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for (name, pollution, variant, epochs, aae_epochs), rows in sorted(groups.items()):
        stats = mean_std(rows, ("auroc", "ap"))
        paper = PAPER.get((name, pollution), {}).get(variant.split("_")[0])
        lines.append(
            f"| {name} | {pollution:.0%} | {variant} | {epochs} / {aae_epochs} | {len(rows)} | "
            f"{stats['auroc']['mean']:.4f} ± {stats['auroc']['std']:.4f} | "
            f"{stats['ap']['mean']:.4f} ± {stats['ap']['std']:.4f} | {'–' if paper is None else f'{paper:.2f}'} |"
        )
    return "\n".join(lines)


def dhag_table(payload: dict) -> str:
    lines = [
        "| dataset | known-anomaly ratio γ | seeds | F1 at test ratio | F1 calibrated on train | AUROC | paper F1 |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for s in payload["summary"]:
        cells = [f"{100 * s[m]['mean']:.1f} ± {100 * s[m]['std']:.1f}" for m in ("f1_test_ratio", "f1_calibrated")]
        gamma = "–" if s["gamma"] is None else f"{s['gamma']:.2f}"
        paper = "–" if s["paper_f1_percent"] is None else f"{s['paper_f1_percent']:.1f}"
        lines.append(
            f"| {s['dataset']} | {gamma} | {s['seeds']} | {cells[0]} | {cells[1]} | "
            f"{s['auroc']['mean']:.4f} ± {s['auroc']['std']:.4f} | {paper} |"
        )
    return "\n".join(lines)


def dhag_image_table(payload: dict) -> str:
    summary = payload["summary"]
    measures = ["auroc", "auroc_last_epoch"]
    header = "| normal class | seeds | selected epoch | AUROC (%) | AUROC last epoch (%) |"
    if all("auroc_best_test_epoch" in s for s in summary):  # --trace runs
        measures.append("auroc_best_test_epoch")
        header += " AUROC best test epoch (%) |"
    lines = [header + " paper (%) |", "| --- " * (len(measures) + 4) + "|"]
    for s in summary:
        epochs = sorted(r["selected_epoch"] for r in payload["rows"] if r["normal_class"] == s["normal_class"])
        cells = [
            f"{100 * s[m]['mean']:.1f}" + (f" ± {100 * s[m]['std']:.1f}" if s["seeds"] > 1 else "") for m in measures
        ]
        lines.append(
            f"| {s['normal_class']} | {s['seeds']} | {', '.join(map(str, epochs))} | {' | '.join(cells)} | "
            f"{s['paper_auroc_percent']:.1f} |"
        )
    if len(summary) > 1:
        means = [f"{100 * np.mean([s[m]['mean'] for s in summary]):.1f}" for m in measures]
        paper = np.mean([s["paper_auroc_percent"] for s in summary])
        lines.append(f"| mean | | | {' | '.join(means)} | {paper:.1f} |")
    return "\n".join(lines)


def dhag_image_runs(paths) -> list[tuple[list[str], dict]]:
    """Table 1 files run with the same settings and backend (classes, seeds and output aside), their rows as one payload."""
    from benchmarks.dhag_table1 import summarize

    groups = {}
    for path in paths:
        payload = json.loads(path.read_text())
        settings = {k: v for k, v in payload["args"].items() if k not in ("classes", "seeds", "output")}
        settings["backend"] = payload["environment"]["backend"]
        names, rows = groups.setdefault(json.dumps(settings, sort_keys=True), ([], []))
        names.append(path.name)
        rows += payload["rows"]
    out = []
    for names, rows in groups.values():
        rows = sorted(rows, key=lambda r: (r["normal_class"], r["seed"]))
        out.append((names, {"rows": rows, "summary": summarize(rows)}))
    return out


def speed_table(payloads: list[dict]) -> str:
    lines = [
        "| backend | method | batch | ms / step | samples / s | floor ms (ratio) | work floor ms (ratio) |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for payload in payloads:
        for r in payload["rows"]:
            lines.append(
                f"| {payload['environment']['backend']} | {r['method']} | {r['batch_size']} | {r['step_ms']:.2f} | "
                f"{r['samples_per_second']:,.0f} | {r['floor_ms']:.2f} ({r['ratio']:.2f}) | "
                f"{r['work_floor_ms']:.2f} ({r['work_ratio']:.2f}) |"
            )
    return "\n".join(lines)


def main() -> None:
    for name, render in (
        ("doping_synthetic.json", synthetic_table),
        ("doping_synthetic_labeled.json", synthetic_table),
        ("doping_odds.json", odds_table),
        *((p.name, dhag_table) for p in sorted(RESULTS.glob("dhag_table[23]*.json"))),
    ):
        path = RESULTS / name
        if path.exists():
            print(f"{name}\n\n{render(json.loads(path.read_text()))}\n")
    for names, payload in dhag_image_runs(sorted(RESULTS.glob("dhag_table1*.json"))):
        print(f"{' + '.join(names)}\n\n{dhag_image_table(payload)}\n")
    da3d = [json.loads(p.read_text()) for p in sorted(RESULTS.glob("da3d_table2*.json"))]
    if da3d:
        print(f"da3d_table2*.json\n\n{da3d_table(da3d)}\n")
    speed = [json.loads(p.read_text()) for p in sorted((RESULTS / "speed").glob("*.json"))]
    if speed:
        print(f"speed/*.json\n\n{speed_table(speed)}\n")


if __name__ == "__main__":
    main()

"""Writes the tables of `benchmarks/README.md` from the results files, so no number there is pasted.

The page marks each table as ``<!-- generated: NAME -->`` ... ``<!-- /generated -->``;
NAME is a results file (``doping_odds.json``), a group of them (``da3d_table2*.json``,
``speed/*.json``) or a peer-benchmark summary (``peers/auroc``, ``peers/selection``).

Usage: ``python -m benchmarks.report`` (rewrite the page), ``--check`` (exit 1 if it is
stale; the tests run this), ``--print`` (every table, to choose where one goes).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

import numpy as np

from benchmarks.common import RESULTS, mean_std

PAGE = Path(__file__).parent / "README.md"
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
    jax = {
        r["method"]: r["step_ms"]
        for p in payloads
        if p["environment"]["backend"] == "jax" and p["settings"].get("jit_compile", "auto") == "auto"
        for r in p["rows"]
    }
    lines = [
        "| backend | jit_compile | method | batch | ms / step | × JAX | samples / s | floor ms (ratio) | "
        "work floor ms (ratio) |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for payload in payloads:
        jit = payload["settings"].get("jit_compile", "auto")
        for r in payload["rows"]:
            times = f"{r['step_ms'] / jax[r['method']]:.2f}" if r["method"] in jax else "–"
            lines.append(
                f"| {payload['environment']['backend']} | {jit} | {r['method']} | {r['batch_size']} | {r['step_ms']:.2f} | "
                f"{times} | {r['samples_per_second']:,.0f} | {r['floor_ms']:.2f} ({r['ratio']:.2f}) | "
                f"{r['work_floor_ms']:.2f} ({r['work_ratio']:.2f}) |"
            )
    return "\n".join(lines)


def serving_table(payload: dict) -> str:
    batches = sorted({r["batch"] for r in payload["rows"]})
    lines = ["| method | " + " | ".join(f"batch {b}" for b in batches) + " |", "| --- |" + " --- |" * len(batches)]
    for method in dict.fromkeys(r["method"] for r in payload["rows"]):
        rate = {r["batch"]: r["rows_per_second"] for r in payload["rows"] if r["method"] == method}
        lines.append(f"| {method} | " + " | ".join(f"{rate[b]:,.0f}" if b in rate else "–" for b in batches) + " |")
    return "\n".join(lines)


def trainer_memory_table(payload: dict) -> str:
    lines = [
        "| method | backend | rows | peak RSS (MiB) | Trainer process (s) | fit (s) | commit |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in payload["runs"]:
        lines.append(
            f"| {r['method']} | {r['backend']} | {r['rows']:,} | {r['peak_rss_mib']:,.0f} | {r['trainer_seconds']:.0f} | "
            f"{r['fit_seconds']:.0f} | {r['environment']['commit'][:7]} |"
        )
    return "\n".join(lines)


def batch_scoring_table(payload: dict) -> str:
    lines = [
        "| scoring | seconds (each run) | rows/s (median) | of the ceiling | of the ceiling without its load | commit |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    commit = payload["environment"]["commit"][:7]
    for what, seconds, rate, ratios in (
        ("one process: load, pandas reader + SavedModel", "ceiling_seconds", "ceiling_rows_per_second", "1 | –"),
        (
            "the same without the model's load",
            "ceiling_without_load_seconds",
            "ceiling_without_load_rows_per_second",
            "– | 1",
        ),
    ):
        times = ", ".join(f"{s:.2f}" for s in payload[seconds])
        lines.append(f"| {what} | {times} | {payload[rate]:,} | {ratios} | {commit} |")
    for run in payload["beam"]:
        times = ", ".join(f"{s:.2f}" for s in run["seconds"])
        lines.append(
            f"| Beam, {run['runner']} | {times} | {run['rows_per_second']:,} | {run['over_ceiling']:.2f} | "
            f"{run['over_ceiling_without_load']:.2f} | {commit} |"
        )
    return "\n".join(lines)


def generated_tables() -> dict[str, str]:
    """Every table `benchmarks/README.md` shows, by region name, rendered from the results files."""
    from benchmarks import peers_report

    tables = {}
    for name, render in (
        ("doping_synthetic.json", synthetic_table),
        ("doping_synthetic_labeled.json", synthetic_table),
        ("doping_odds.json", odds_table),
        *((p.name, dhag_table) for p in sorted(RESULTS.glob("dhag_table[23]*.json"))),
    ):
        path = RESULTS / name
        if path.exists():
            tables[name] = render(json.loads(path.read_text()))
    for names, payload in dhag_image_runs(sorted(RESULTS.glob("dhag_table1*.json"))):
        tables[" + ".join(names)] = dhag_image_table(payload)
    da3d = [json.loads(p.read_text()) for p in sorted(RESULTS.glob("da3d_table2*.json"))]
    if da3d:
        tables["da3d_table2*.json"] = da3d_table(da3d)
    speed = [json.loads(p.read_text()) for p in sorted((RESULTS / "speed").glob("*.json"))]
    if speed:
        tables["speed/*.json"] = speed_table(speed)
    if (RESULTS / "serving_throughput.json").exists():
        tables["serving_throughput.json"] = serving_table(json.loads((RESULTS / "serving_throughput.json").read_text()))
    if (RESULTS / "batch_scoring.json").exists():
        tables["batch_scoring.json"] = batch_scoring_table(json.loads((RESULTS / "batch_scoring.json").read_text()))
    if (RESULTS / "trainer_memory.json").exists():
        tables["trainer_memory.json"] = trainer_memory_table(json.loads((RESULTS / "trainer_memory.json").read_text()))
    runs = peers_report.load(RESULTS / "peers")
    if runs:
        methods = peers_report.column_order(runs)
        tables["peers/auroc"] = "\n".join(peers_report.table(runs, 0.0, "auroc", methods)[0])
        tables["peers/selection"] = "\n".join(peers_report.selection_summary(runs, 0.0, methods))
    return tables


# An empty region (its end marker on the next line) is matched too, and never runs on into the next region.
REGION = re.compile(r"(<!-- generated: (?P<name>[^>]+?) -->\n)(?:(?P<body>.*?)\n)??(<!-- /generated -->)", re.S)


def render_page(text: str, tables: dict[str, str]) -> str:
    """``text`` with every ``<!-- generated: NAME -->`` region holding ``tables[NAME]``."""
    unknown = sorted({m["name"] for m in REGION.finditer(text)} - set(tables))
    if unknown:
        raise SystemExit(f"{PAGE} names regions no results file renders: {unknown}")
    return REGION.sub(lambda m: m.group(1) + tables[m["name"]] + "\n" + m.group(4), text)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="exit 1 if the page differs from the results files")
    parser.add_argument("--print", action="store_true", help="print every table instead of writing the page")
    args = parser.parse_args(argv)
    tables = generated_tables()
    if args.print:
        for name, markdown in tables.items():
            print(f"<!-- generated: {name} -->\n{markdown}\n<!-- /generated -->\n")
        return 0
    text = PAGE.read_text()
    page = render_page(text, tables)
    if args.check:
        stale = [m["name"] for m in REGION.finditer(text) if m["body"] != tables[m["name"]]]
        if stale:
            print(f"{PAGE} is out of date for {stale}: run python -m benchmarks.report", file=sys.stderr)
            return 1
        return 0
    PAGE.write_text(page)
    return 0


if __name__ == "__main__":
    sys.exit(main())

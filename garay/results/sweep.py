"""Sweep summaries: a Hydra callback that, at the end of a multirun, reads every job's
summary.json and writes sweep_summary.csv, a plot of best accuracy against each swept key
(the study's Table 4 as a picture), and for seed sweeps a grouping of similar best
architectures."""

from __future__ import annotations

import csv
import json
import logging
import statistics
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from garay.search.distance import genome_distance, group_similar
from garay.search.genome import Genome

log = logging.getLogger(__name__)
CSV = "sweep_summary.csv"
REPRODUCTIONS = "reproductions.txt"


def _value(text: str) -> Any:
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return text


def load_jobs(sweep_dir: Path) -> list[dict[str, Any]]:
    """One row per job directory holding a summary.json, in job order."""
    rows = []
    for path in sorted(sweep_dir.glob("*/summary.json"), key=lambda p: (len(p.parent.name), p.parent.name)):
        s = json.loads(path.read_text())
        overrides = dict(o.lstrip("+").split("=", 1) for o in s.get("overrides", []) if "=" in o)
        best = s.get("best", {})
        rows.append({
            "job": path.parent.name,
            "overrides": {k: _value(v) for k, v in overrides.items()},
            "best_val_accuracy": best.get("val_accuracy", 0.0),
            "best_test_accuracy": best.get("test_accuracy", 0.0),
            "evaluations": s.get("evaluations", 0),
            "worker_seconds": s.get("worker_seconds"),
            "wall_seconds": s.get("total_seconds", s.get("wall_seconds")),
            "best_hash": best.get("hash"),
            "best_genome": best.get("genome"),
        })
    return rows


def swept_keys(rows: list[dict[str, Any]]) -> list[str]:
    """Override keys whose values differ between jobs (or every key, for a single job)."""
    keys = sorted({k for r in rows for k in r["overrides"]})
    if len(rows) == 1:
        return keys
    return [k for k in keys if len({json.dumps(r["overrides"].get(k)) for r in rows}) > 1]


def write_csv(rows: list[dict[str, Any]], keys: list[str], path: Path) -> None:
    cols = ["job", *keys, "best_val_accuracy", "best_test_accuracy", "evaluations", "worker_seconds",
            "wall_seconds", "best_hash", "best_architecture"]
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(cols)
        for r in rows:
            arch = Genome.from_dict(r["best_genome"]).describe() if r["best_genome"] else ""
            w.writerow([r["job"], *[r["overrides"].get(k, "") for k in keys], r["best_val_accuracy"],
                        r["best_test_accuracy"], r["evaluations"], r["worker_seconds"], r["wall_seconds"],
                        r["best_hash"], arch])


def aggregate(rows: list[dict[str, Any]], key: str) -> list[tuple[Any, float, float, float, float, int]]:
    """(value, mean val, std val, mean test, std test, n) per value of `key`."""
    by: dict[Any, list[dict[str, Any]]] = {}
    for r in rows:
        by.setdefault(r["overrides"].get(key), []).append(r)
    out = []
    for value in sorted(by, key=lambda v: (isinstance(v, str), v)):
        vals = [r["best_val_accuracy"] for r in by[value]]
        tests = [r["best_test_accuracy"] for r in by[value]]
        sd = (lambda xs: statistics.stdev(xs) if len(xs) > 1 else 0.0)
        out.append((value, statistics.fmean(vals), sd(vals), statistics.fmean(tests), sd(tests), len(vals)))
    return out


def plot_key(rows: list[dict[str, Any]], key: str, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    agg = aggregate(rows, key)
    xs = list(range(len(agg)))
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.errorbar(xs, [a[1] for a in agg], yerr=[a[2] for a in agg], marker="o", capsize=4, label="validation")
    ax.errorbar(xs, [a[3] for a in agg], yerr=[a[4] for a in agg], marker="s", capsize=4, label="test")
    ax.set_xticks(xs, [str(a[0]) for a in agg])
    ax.set_xlabel(key)
    ax.set_ylabel("best accuracy (mean ± sd over jobs)")
    ax.set_ylim(0, 1)
    ax.legend()
    ax.set_title(f"best accuracy against {key}")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def reproductions_report(rows: list[dict[str, Any]], threshold: float = 0.25) -> str:
    """Each run's best architecture, and groups of runs whose best genomes lie within
    `threshold` of each other (garay.search.distance)."""
    done = [r for r in rows if r["best_genome"]]
    genomes = [Genome.from_dict(r["best_genome"]) for r in done]
    lines = ["job  seed  val     test    best architecture"]
    for r, g in zip(done, genomes):
        lines.append(f"{r['job']:<4} {str(r['overrides'].get('seed', '')):<5} {r['best_val_accuracy']:.4f}  "
                     f"{r['best_test_accuracy']:.4f}  {g.describe()}")
    lines.append(f"\nGroups of similar best architectures (genome distance <= {threshold}):")
    for group in group_similar(genomes, threshold):
        jobs = ", ".join(done[i]["job"] for i in group)
        lines.append(f"  {len(group)} run(s): jobs {jobs}: e.g. {genomes[group[0]].describe()}")
    if len(genomes) > 1:
        d, i, j = min((genome_distance(a, b), i, j) for i, a in enumerate(genomes)
                      for j, b in enumerate(genomes) if i < j)
        lines.append(f"  closest pair: jobs {done[i]['job']} and {done[j]['job']}, distance {d:.3f}")
    lines.append("\nRuns by layer pattern (C = conv, D = dense), a coarser view of recurrence:")
    patterns: dict[str, list[str]] = {}
    for r, g in zip(done, genomes):
        patterns.setdefault("-".join("C" if gene.kind == "conv" else "D" for gene in g.genes), []).append(r["job"])
    for pattern, jobs in sorted(patterns.items(), key=lambda kv: (-len(kv[1]), kv[0])):
        lines.append(f"  {pattern:<12} {len(jobs)} run(s): jobs {', '.join(jobs)}")
    return "\n".join(lines) + "\n"


def summarise_sweep(sweep_dir: Path | str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Write the sweep's CSV, one plot per swept key, and, when seeds were swept, the
    reproductions report and (when some setting has several seeds) the anytime curves and
    the comparison of methods (garay.results.anytime). Returns the rows and the comparison."""
    from garay.results.anytime import group_label, write_anytime

    sweep_dir = Path(sweep_dir)
    rows = load_jobs(sweep_dir)
    if not rows:
        log.warning("no job of %s wrote a summary.json", sweep_dir)
        return rows, []
    keys = swept_keys(rows)
    write_csv(rows, keys, sweep_dir / CSV)
    for key in keys:
        if key != "seed":
            plot_key(rows, key, sweep_dir / f"sweep_{key.replace('.', '_')}.png")
    compare: list[dict[str, Any]] = []
    if "seed" in keys:
        (sweep_dir / REPRODUCTIONS).write_text(reproductions_report(rows))
        if len({group_label(r["overrides"], keys) for r in rows}) < len(rows):
            compare = write_anytime(sweep_dir, rows, keys)
    return rows, compare


class SweepSummary(Callback):
    """Hydra callback (registered in conf/config.yaml): summarise every multirun."""

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        sweep_dir = Path(config.hydra.sweep.dir)
        rows, compare = summarise_sweep(sweep_dir)
        if rows:
            print(f"sweep summary of {len(rows)} jobs: {sweep_dir / CSV}")
        if compare:
            from garay.results.anytime import ANYTIME_PNG, compare_text

            print(compare_text(compare))
            print(f"anytime curves: {sweep_dir / ANYTIME_PNG}")

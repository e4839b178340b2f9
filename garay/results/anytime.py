"""Anytime curves: how good the best genome found so far is after each evaluation and
after each worker-second, for every run of a sweep, and their mean with a bootstrap 95%
interval over seeds per method. A claim about search is a distribution, not one run.

Pure functions over history records, plus the writers of `anytime.csv`, `compare.csv`
and `anytime.png` for a sweep directory.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from garay.fidelity.rules import record_rank

ANYTIME_CSV = "anytime.csv"
COMPARE_CSV = "compare.csv"
ANYTIME_PNG = "anytime.png"
GRID_POINTS = 60


def run_curve(history: Sequence[dict[str, Any]]) -> dict[str, np.ndarray]:
    """Per finished evaluation, in the order they finished: the count so far, the worker
    seconds spent so far, the best fitness so far and that incumbent's test accuracy.
    The incumbent is ranked as the run ranks it: `ok` first, then fitness, then hash; once
    genomes were re-evaluated (ga.reevaluate), the one of them with the best mean, as
    best.json holds it."""
    evals, seconds, best, test = [], [], [], []
    spent, incumbent = 0.0, None
    firsts: dict[str, dict[str, Any]] = {}
    repeats: dict[str, list[dict[str, Any]]] = {}
    for n, h in enumerate(history, start=1):
        spent += float(h.get("seconds") or 0.0)
        if h.get("repeat"):
            repeats.setdefault(h["hash"], []).append(h)
            means = {k: [firsts[k], *rs] for k, rs in repeats.items() if k in firsts}
            k = max(means, key=lambda k: (np.mean([r["fitness"] for r in means[k]]), [-ord(c) for c in k]))
            incumbent = ((), float(np.mean([r["fitness"] for r in means[k]])),
                         float(np.mean([r["test_accuracy"] for r in means[k]])))
        else:
            firsts[h["hash"]] = h
            rank = record_rank(h)
            if not repeats and (incumbent is None or rank < incumbent[0]):
                incumbent = (rank, h["fitness"], h["test_accuracy"])
        assert incumbent is not None
        evals.append(n)
        seconds.append(spent)
        best.append(incumbent[1])
        test.append(incumbent[2])
    return {"evaluations": np.array(evals, float), "worker_seconds": np.array(seconds),
            "best": np.array(best), "test": np.array(test)}


def value_at(curve: dict[str, np.ndarray], axis: str, x: float, key: str) -> float:
    """The curve's `key` at `x` on `axis`: the last value reached by then; 0 before the
    run's first result (nothing found yet); its final value past its end."""
    i = int(np.searchsorted(curve[axis], x, side="right")) - 1
    return float(curve[key][i]) if i >= 0 else 0.0


def bootstrap_mean(values: Sequence[float], *, resamples: int = 4000, seed: int = 0) -> tuple[float, float, float]:
    """The mean and a 95% percentile bootstrap interval of it (resampling runs)."""
    x = np.asarray(values, float)
    if len(x) == 0:
        return float("nan"), float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    means = x[rng.integers(len(x), size=(resamples, len(x)))].mean(axis=1)
    return float(x.mean()), float(np.percentile(means, 2.5)), float(np.percentile(means, 97.5))


def bootstrap_difference(a: Sequence[float], b: Sequence[float], *, resamples: int = 4000,
                         seed: int = 0) -> tuple[float, float, float]:
    """mean(a) - mean(b) and a 95% percentile bootstrap interval (independent resamples)."""
    x, y = np.asarray(a, float), np.asarray(b, float)
    rng = np.random.default_rng(seed)
    diffs = (x[rng.integers(len(x), size=(resamples, len(x)))].mean(axis=1)
             - y[rng.integers(len(y), size=(resamples, len(y)))].mean(axis=1))
    return float(x.mean() - y.mean()), float(np.percentile(diffs, 2.5)), float(np.percentile(diffs, 97.5))


def group_label(overrides: dict[str, Any], keys: Sequence[str]) -> str:
    """The method a run belongs to: its swept settings other than the seed."""
    parts = [f"{k}={overrides[k]}" for k in keys if k != "seed" and k in overrides]
    return ",".join(parts) or "all"


def curves_table(groups: dict[str, list[dict[str, np.ndarray]]]) -> list[dict[str, Any]]:
    """Rows of the anytime table: per group, per axis, per grid point, the mean and
    bootstrap interval over runs of the best fitness so far and of its test accuracy."""
    rows = []
    all_curves = [c for cs in groups.values() for c in cs if len(c["evaluations"])]
    if not all_curves:
        return rows
    grids = {
        "evaluations": np.arange(1, max(c["evaluations"][-1] for c in all_curves) + 1),
        "worker_seconds": np.linspace(0, max(c["worker_seconds"][-1] for c in all_curves), GRID_POINTS + 1)[1:],
    }
    for label, curves in groups.items():
        for axis, grid in grids.items():
            for x in grid:
                best = bootstrap_mean([value_at(c, axis, x, "best") for c in curves])
                test = bootstrap_mean([value_at(c, axis, x, "test") for c in curves])
                rows.append({"group": label, "axis": axis, "x": round(float(x), 3), "runs": len(curves),
                             "best_mean": best[0], "best_lo": best[1], "best_hi": best[2],
                             "test_mean": test[0], "test_lo": test[1], "test_hi": test[2]})
    return rows


def compare_table(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per group: runs, mean [95% interval] of each run's best validation (fitness)
    and of its test accuracy, mean evaluations and worker-hours; and, where the sweep holds
    random search under otherwise equal settings, the difference in test accuracy from it."""
    by: dict[str, list[dict[str, Any]]] = {}
    for r in runs:
        by.setdefault(r["group"], []).append(r)
    rows = []
    for label, rs in by.items():
        val = bootstrap_mean([r["best_val"] for r in rs])
        test = bootstrap_mean([r["best_test"] for r in rs])
        row = {"group": label, "runs": len(rs), "best_val_mean": val[0], "best_val_lo": val[1], "best_val_hi": val[2],
               "test_mean": test[0], "test_lo": test[1], "test_hi": test[2],
               "evaluations": float(np.mean([r["evaluations"] for r in rs])),
               "worker_hours": float(np.mean([r["worker_seconds"] for r in rs])) / 3600}
        baseline = _baseline(label, by)
        if baseline is not None and baseline != label:
            d, paired = difference_from_baseline(rs, by[baseline])
            row.update(baseline=baseline, test_vs_baseline=d[0], test_vs_baseline_lo=d[1], test_vs_baseline_hi=d[2],
                       paired_by_seed=paired)
        rows.append(row)
    return rows


def difference_from_baseline(runs: list[dict[str, Any]],
                             baseline: list[dict[str, Any]]) -> tuple[tuple[float, float, float], bool]:
    """Mean test accuracy of `runs` minus the baseline's, with a bootstrap 95% interval;
    paired by seed when both hold the same seeds once each (runs of one seed share their
    data split and initial draws, so pairing removes that shared luck), else independent."""
    a = {r.get("seed"): r["best_test"] for r in runs}
    b = {r.get("seed"): r["best_test"] for r in baseline}
    if None not in a and len(a) == len(runs) and len(b) == len(baseline) and a.keys() == b.keys():
        return bootstrap_mean([a[s] - b[s] for s in sorted(a, key=str)]), True
    return bootstrap_difference([r["best_test"] for r in runs], [r["best_test"] for r in baseline]), False


def _baseline(label: str, groups: dict[str, Any]) -> str | None:
    """The random-search group with the same other settings as `label` (or the only one)."""
    def without_mode(lbl: str) -> str:
        return ",".join(p for p in lbl.split(",") if not p.startswith("ga.mode="))

    randoms = [g for g in groups if "ga.mode=random" in g.split(",")]
    same = [g for g in randoms if without_mode(g) == without_mode(label)]
    if same:
        return same[0]
    return randoms[0] if len(randoms) == 1 else None


def load_runs(sweep_dir: Path, jobs: list[dict[str, Any]], keys: Sequence[str]) -> list[dict[str, Any]]:
    """Each job's group, curve and final figures, and its history, from its history.jsonl."""
    from garay.results.runlog import read_history

    runs = []
    for job in jobs:
        history = list(read_history(sweep_dir / job["job"] / "history.jsonl"))
        if not history:
            continue
        curve = run_curve(history)
        runs.append({"job": job["job"], "group": group_label(job["overrides"], keys), "curve": curve,
                     "history": history,
                     "seed": job["overrides"].get("seed"),
                     "best_val": float(curve["best"][-1]), "best_test": float(curve["test"][-1]),
                     "evaluations": len(history), "worker_seconds": float(curve["worker_seconds"][-1])})
    return runs


def write_anytime(sweep_dir: Path, jobs: list[dict[str, Any]], keys: Sequence[str],
                  runs: list[dict[str, Any]] | None = None) -> list[dict[str, Any]]:
    """Write anytime.csv, compare.csv and anytime.png for a sweep; return compare's rows.
    `runs`: load_runs' result, where the caller has it already."""
    runs = load_runs(sweep_dir, jobs, keys) if runs is None else runs
    groups: dict[str, list[dict[str, np.ndarray]]] = {}
    for r in runs:
        groups.setdefault(r["group"], []).append(r["curve"])
    curve_rows = curves_table(groups)
    _write_csv(sweep_dir / ANYTIME_CSV, curve_rows)
    compare_rows = compare_table(runs)
    _write_csv(sweep_dir / COMPARE_CSV, compare_rows)
    plot_anytime(curve_rows, sweep_dir / ANYTIME_PNG)
    return compare_rows


def _write_csv(path: Path, rows: list[dict[str, Any]]) -> None:
    cols: list[str] = []
    for r in rows:
        cols += [k for k in r if k not in cols]
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=cols)
        w.writeheader()
        for r in rows:
            w.writerow({k: (round(v, 6) if isinstance(v, float) else v) for k, v in r.items()})


def plot_anytime(rows: list[dict[str, Any]], path: Path) -> None:
    """Best validation accuracy so far against evaluations and against worker-hours, and
    the test accuracy of that best genome against evaluations: the mean over runs with its
    bootstrap 95% band, one line per group."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(15, 4.2), sharey=True)
    panels = ((axes[0], "evaluations", "best", "evaluations", "best validation accuracy so far, by evaluations"),
              (axes[1], "worker_seconds", "best", "worker-hours", "best validation accuracy so far, by worker time"),
              (axes[2], "evaluations", "test", "evaluations", "test accuracy of that best genome, by evaluations"))
    for ax, axis, key, xlabel, title in panels:
        for n, label in enumerate(dict.fromkeys(r["group"] for r in rows)):
            pts = [r for r in rows if r["group"] == label and r["axis"] == axis]
            xs = np.array([r["x"] for r in pts]) / (3600 if axis == "worker_seconds" else 1)
            ax.plot(xs, [r[f"{key}_mean"] for r in pts], color=f"C{n}", label=f"{label} (n={pts[0]['runs']})")
            ax.fill_between(xs, [r[f"{key}_lo"] for r in pts], [r[f"{key}_hi"] for r in pts], color=f"C{n}",
                            alpha=0.2)
        ax.set_xlabel(xlabel)
        ax.set_title(title, fontsize=10)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("accuracy (mean over runs,\nbootstrap 95% interval)")
    axes[0].legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def compare_text(rows: list[dict[str, Any]]) -> str:
    """compare.csv's rows as a table for garay-report."""
    from garay.results.tables import table

    def ci(r: dict[str, Any], key: str) -> str:
        return f"{r[key + '_mean']:.4f} [{r[key + '_lo']:.4f}, {r[key + '_hi']:.4f}]"

    def vs(r: dict[str, Any]) -> str:
        if "test_vs_baseline" not in r:
            return ""
        paired = " by seed" if str(r.get("paired_by_seed")) == "True" else ""
        return f"{r['test_vs_baseline']:+.4f} [{r['test_vs_baseline_lo']:+.4f}, {r['test_vs_baseline_hi']:+.4f}]{paired}"

    text = table(("method", "runs", "best validation", "its test accuracy", "evals", "worker-h", "test - random"),
                 [(r["group"], r["runs"], ci(r, "best_val"), ci(r, "test"), f"{r['evaluations']:.1f}",
                   f"{r['worker_hours']:.3f}", vs(r)) for r in rows])
    return "Methods compared (mean over seeds, bootstrap 95% interval):\n" + text

"""Early stopping against full training at equal worker time, over several seeds.

    python benchmarks/early_stop.py OUT [--data fsdd|synthetic] [--seeds 0 1 2 3 4]
        [--generations 4] [--es-generations 17] [--policy halving] [--jobs 2] [-- OVERRIDES]

Runs (or, when OUT already holds them, reads) two arms per seed with the same GA settings:
`train.early_stop=none` for `--generations` generations (the study's 28 evaluations), and
early stopping for `--es-generations`, enough to spend at least as much worker time. Then,
per seed, with W = the full-training run's worker-seconds:

- best validation accuracy and its test accuracy that each arm had found by W (full
  trainings only: a stopped genome's partial accuracy never counts as found),
- genomes evaluated by W,
- worker-seconds each arm needed to first reach the full-training run's final best
  validation accuracy (the target; not reached: counted as such),

and prints means over seeds with bootstrap 95% intervals (differences and ratios paired by
seed). Jobs run `cluster.backend=inprocess`, `--jobs` at a time (one core each), so
worker-seconds are single-core seconds; an interrupted job is resumed.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from garay.results.anytime import bootstrap_mean, run_curve, value_at
from garay.results.runlog import read_history

REPO = Path(__file__).resolve().parents[1]
DATA = {
    "fsdd": ["data=fsdd", f"data.root={REPO.parent / 'shared/data/fsdd/recordings'}", "data.split=speaker",
             "data.test_speakers=[theo]"],
    "synthetic": [],
}


def job_args(arm: str, seed: int, args: argparse.Namespace) -> list[str]:
    gens = args.generations if arm == "none" else args.es_generations
    return [*DATA[args.data], f"seed={seed}", f"train.early_stop={arm}", f"ga.generations={gens}",
            "cluster.backend=inprocess", "progress=false", *args.overrides]


def run_jobs(out: Path, args: argparse.Namespace) -> int:
    """Every (arm, seed) job that has no summary yet, `--jobs` at a time; the number that
    failed."""
    failed = 0
    todo = [(arm, seed) for seed in args.seeds for arm in ("none", args.policy)
            if not (out / arm / f"seed{seed}" / "summary.json").exists()]
    running: list[tuple[subprocess.Popen, str]] = []
    while todo or running:
        while todo and len(running) < args.jobs:
            arm, seed = todo.pop(0)
            d = out / arm / f"seed{seed}"
            resume = ["resume=true"] if (d / "checkpoint.json").exists() else []
            d.mkdir(parents=True, exist_ok=True)
            cmd = [sys.executable, "-m", "garay.cli", *job_args(arm, seed, args), *resume, f"hydra.run.dir={d}"]
            log = open(d / "job.log", "a")
            running.append((subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=REPO), f"{arm} seed {seed}"))
            print(f"started {arm} seed {seed}", flush=True)
        time.sleep(2)
        for proc, name in list(running):
            if proc.poll() is not None:
                running.remove((proc, name))
                failed += proc.returncode != 0
                print(f"finished {name} (exit {proc.returncode})", flush=True)
    return failed


def first_reach(curve: dict[str, np.ndarray], target: float) -> float:
    """Worker-seconds at which the best-so-far first reached `target` (inf: never)."""
    hit = np.nonzero(curve["best"] >= target - 1e-12)[0]
    return float(curve["worker_seconds"][hit[0]]) if len(hit) else float("inf")


def analyse(out: Path, policy: str, seeds: list[int]) -> dict[str, object]:
    rows = []
    for seed in seeds:
        runs = {arm: list(read_history(out / arm / f"seed{seed}" / "history.jsonl")) for arm in ("none", policy)}
        if not all(runs.values()) or not all((out / a / f"seed{seed}" / "summary.json").exists() for a in runs):
            continue
        full, es = run_curve(runs["none"]), run_curve(runs[policy])
        budget = float(full["worker_seconds"][-1])
        target = float(full["best"][-1])
        row = {"seed": seed, "W": budget, "es_total": float(es["worker_seconds"][-1]),
               "val_none": target, "test_none": float(full["test"][-1]),
               "val_es": value_at(es, "worker_seconds", budget, "best"),
               "test_es": value_at(es, "worker_seconds", budget, "test"),
               "genomes_none": len(runs["none"]),
               "genomes_es": int(np.searchsorted(es["worker_seconds"], budget, side="right")),
               "t_none": first_reach(full, target), "t_es": first_reach(es, target)}
        row["full_es"] = sum(1 for h in runs[policy][: row["genomes_es"]] if h["status"] == "ok")  # by W
        # Each arm's best so far at fractions of W, for the mean curves over seeds.
        row["fractions"] = FRACTIONS.tolist()
        row["curve_none"] = [value_at(full, "worker_seconds", f * budget, "best") for f in FRACTIONS]
        row["curve_es"] = [value_at(es, "worker_seconds", f * budget, "best") for f in FRACTIONS]
        row["test_curve_none"] = [value_at(full, "worker_seconds", f * budget, "test") for f in FRACTIONS]
        row["test_curve_es"] = [value_at(es, "worker_seconds", f * budget, "test") for f in FRACTIONS]
        rows.append(row)
    return {"rows": rows}


FRACTIONS = np.round(np.arange(0.05, 1.51, 0.05), 2)


def mean_crossing(rows: list[dict]) -> tuple[float, float]:
    """(the mean over seeds of the full-training runs' final best, the first fraction of W
    at which the early-stopping runs' mean best-so-far reaches it; inf: not within 1.5 W)."""
    target = float(np.mean([r["val_none"] for r in rows]))
    es = np.mean([r["curve_es"] for r in rows], axis=0)
    hit = np.nonzero(es >= target - 1e-12)[0]
    return target, float(FRACTIONS[hit[0]]) if len(hit) else float("inf")


def plot(rows: list[dict], policy: str, path: Path, title: str) -> None:
    """Mean best-so-far validation accuracy and its test accuracy against worker time (in
    units of W), both arms, with bootstrap 95% bands over seeds."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 4.2), sharex=True, layout="constrained")
    for ax, key, label in ((axes[0], "curve", "best validation accuracy so far"),
                           (axes[1], "test_curve", "test accuracy of that best genome")):
        for n, arm in enumerate(("none", "es")):
            stats = [bootstrap_mean([r[f"{key}_{arm}"][i] for r in rows]) for i in range(len(FRACTIONS))]
            ax.plot(FRACTIONS, [m for m, _, _ in stats], color=f"C{n}",
                    label="full training (train.early_stop=none)" if arm == "none" else f"train.early_stop={policy}")
            ax.fill_between(FRACTIONS, [lo for _, lo, _ in stats], [hi for _, _, hi in stats], color=f"C{n}", alpha=0.2)
        ax.axvline(1.0, color="0.5", lw=0.8, ls="--")
        ax.set_xlabel("worker time / W (W: a full-training run's total)")
        ax.set_title(label, fontsize=10)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel(f"mean over {len(rows)} seeds, bootstrap 95%")
    axes[0].legend(loc="lower right", fontsize=8)
    import textwrap

    fig.suptitle(textwrap.fill(title, 110), fontsize=10)  # many overrides: lines, never past the edge
    fig.savefig(path, dpi=100)
    plt.close(fig)


def report(result: dict[str, object], policy: str) -> str:
    rows = result["rows"]
    if not rows:
        return "no finished seed pairs yet"
    lines = [f"{'seed':>4} {'W (s)':>8} {'val none':>8} {'val ES':>8} {'test none':>9} {'test ES':>8} "
             f"{'genomes':>9} {'t none':>7} {'t ES':>7}"]
    for r in rows:
        lines.append(f"{r['seed']:>4} {r['W']:8.0f} {r['val_none']:8.3f} {r['val_es']:8.3f} {r['test_none']:9.3f} "
                     f"{r['test_es']:8.3f} {r['genomes_none']:>4}/{r['genomes_es']:<4} {r['t_none']:7.0f} "
                     f"{r['t_es']:7.0f}")

    def fmt(name: str, values: list[float]) -> str:
        m, lo, hi = bootstrap_mean(values)
        return f"{name}: {m:+.3f} [{lo:+.3f}, {hi:+.3f}]" if "diff" in name else f"{name}: {m:.3f} [{lo:.3f}, {hi:.3f}]"

    col = {k: [r[k] for r in rows] for k in rows[0]}
    lines += ["", f"{len(rows)} seeds; means with bootstrap 95% intervals; ES = train.early_stop={policy}; "
                  "at W = the full-training run's worker-seconds",
              fmt("best val, full training", col["val_none"]), fmt(f"best val, {policy}", col["val_es"]),
              fmt("val diff (ES - full), paired", [a - b for a, b in zip(col["val_es"], col["val_none"])]),
              fmt("test, full training", col["test_none"]), fmt(f"test, {policy}", col["test_es"]),
              fmt("test diff (ES - full), paired", [a - b for a, b in zip(col["test_es"], col["test_none"])]),
              fmt("genomes evaluated ratio (ES / full) at W",
                  [a / b for a, b in zip(col["genomes_es"], col["genomes_none"])]),
              fmt("full trainings by ES at W", col["full_es"])]
    reached = [r for r in rows if np.isfinite(r["t_es"])]
    lines.append(f"reached the full-training run's final best: ES in {len(reached)} of {len(rows)} seeds")
    if reached:
        ratios = [r["t_none"] / r["t_es"] for r in reached]
        lines.append(fmt("worker time to that best, ratio full / ES (seeds that reached it)", ratios)
                     + f"; median {np.median(ratios):.2f}")
    target, frac = mean_crossing(rows)
    covered = min(r["es_total"] / r["W"] for r in rows)
    lines.append(f"mean over seeds: full training ends at best val {target:.3f}; ES's mean best-so-far reaches it at "
                 + (f"{frac:.2f} W ({1 / frac:.1f}x less worker time)" if np.isfinite(frac)
                    else f"no point up to {min(covered, 1.5):.2f} W"))
    lines.append(fmt("worker-seconds W of a full-training run", col["W"]))
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--data", choices=sorted(DATA), default="fsdd")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--generations", type=int, default=4)
    parser.add_argument("--es-generations", type=int, default=17)
    parser.add_argument("--policy", default="halving", choices=["halving", "median"])
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--analyse-only", action="store_true")
    args, rest = parser.parse_known_args()  # the rest (after --): more garay overrides
    args.overrides = [a for a in rest if a != "--"]
    args.out.mkdir(parents=True, exist_ok=True)
    failed = 0 if args.analyse_only else run_jobs(args.out, args)
    result = analyse(args.out, args.policy, args.seeds)
    (args.out / "early_stop.json").write_text(json.dumps(result, indent=2))
    print(report(result, args.policy))
    if result["rows"]:
        es = json.loads((args.out / args.policy / f"seed{result['rows'][0]['seed']}" / "summary.json").read_text())
        plot(result["rows"], args.policy, args.out / "early_stop.png",
             f"{args.data}: {len(result['rows'])} seeds, rungs {es['early_stop'].get('rungs')}, "
             f"eta {es['early_stop'].get('eta')} " + " ".join(args.overrides))
    if failed or not result["rows"]:
        sys.exit(f"{failed} job(s) failed; see job.log in their directories" if failed else "no results")


if __name__ == "__main__":
    main()

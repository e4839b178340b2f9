"""How much smaller a network the multi-objective search finds for the same accuracy.

Two sweeps over the same seeds, alike but for `ga.objectives`:

    garay -m $DATA 'seed=range(0,5)' 'ga.objectives=[fitness]'        hydra.sweep.dir=SO
    garay -m $DATA 'seed=range(0,5)' 'ga.objectives=[fitness,params]' hydra.sweep.dir=MO
    python benchmarks/pareto_compression.py SO MO [--tolerances 0.01 0.03 0.05] [--figure docs/pareto_fsdd.png]

Per seed, against the single-objective run's best genome (test accuracy t*, fitness f*,
parameters p*):

- by test: the smallest network on the multi-objective front whose recorded test accuracy
  is within a tolerance (0.01, 0.03, 0.05) of t*, and the compression factor p* / its parameters (the issue's
  yardstick; it peeks at the test set to choose);
- by validation: the smallest front network whose fitness is within the tolerance of f*
  (a choice made without the test set), its test accuracy and compression;
- the baseline: the smallest network the single-objective run itself evaluated whose test
  accuracy (or fitness) is within the tolerance of t* (f*): does the second objective
  find what fitness alone had already evaluated?
- the front's most accurate network against t* and p*.

Compression factors are summarised by their geometric mean with a bootstrap 95% interval
over seeds (over the seeds where such a network exists: "n=" says how many); accuracies
by the mean. Rows go to MO/pareto_compression.csv.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
from pathlib import Path
from typing import Any, Optional

import numpy as np

from garay.results.anytime import bootstrap_mean


def load_runs(sweep_dir: Path) -> dict[int, Path]:
    """The sweep's run directories by seed."""
    runs = {}
    for summary in sorted(sweep_dir.glob("*/summary.json")):
        runs[int(json.loads(summary.read_text())["config"]["seed"])] = summary.parent
    if not runs:
        raise SystemExit(f"no finished runs (*/summary.json) under {sweep_dir}")
    return runs


def history(run_dir: Path) -> list[dict[str, Any]]:
    lines = (run_dir / "history.jsonl").read_text().splitlines()
    return [r for r in map(json.loads, lines) if r.get("status") == "ok"]


def smallest(records: list[dict[str, Any]], key: str, floor: float) -> Optional[dict[str, Any]]:
    """The record with the fewest parameters whose `key` is at least `floor` (None if none)."""
    ok = [r for r in records if r[key] >= floor]
    return min(ok, key=lambda r: (r["params"], -r[key])) if ok else None


def compare_seed(so_dir: Path, mo_dir: Path, tolerances: list[float]) -> dict[str, Any]:
    """One seed's figures (see the module's docstring), for each tolerance."""
    so_best = json.loads((so_dir / "best.json").read_text())
    so_hist = history(so_dir)
    best = next(r for r in so_hist if r["hash"] == so_best["hash"])
    front = json.loads((mo_dir / "pareto.json").read_text())["front"]
    mo_best = json.loads((mo_dir / "best.json").read_text())
    top = max(front, key=lambda r: (r["fitness"], -r["params"]))
    row: dict[str, Any] = {
        "so_best_params": best["params"], "so_best_fitness": best["fitness"], "so_best_test": best["test_accuracy"],
        "mo_best_test": mo_best["test_accuracy"], "front_size": len(front), "front_top_params": top["params"],
        "front_top_fitness": top["fitness"], "front_top_test": top["test_accuracy"],
        "mo_evaluations": len(history(mo_dir)), "so_evaluations": len(so_hist),
    }
    for tol in tolerances:
        picks = (("by_test", smallest(front, "test_accuracy", best["test_accuracy"] - tol)),
                 ("by_val", smallest(front, "fitness", best["fitness"] - tol)),
                 ("so_history", smallest(so_hist, "test_accuracy", best["test_accuracy"] - tol)),
                 ("so_history_by_val", smallest(so_hist, "fitness", best["fitness"] - tol)))
        for name, pick in picks:
            row[f"{name}_{tol:g}_params"] = pick["params"] if pick else None
            row[f"{name}_{tol:g}_test"] = pick["test_accuracy"] if pick else None
            row[f"{name}_{tol:g}_compression"] = best["params"] / pick["params"] if pick else None
    return row


def geometric(values: list[float]) -> str:
    if not values:
        return "none"
    mean, lo, hi = bootstrap_mean([math.log(v) for v in values])
    return f"{math.exp(mean):.2f}x [{math.exp(lo):.2f}, {math.exp(hi):.2f}] (n={len(values)})"


def arithmetic(values: list[float]) -> str:
    if not values:
        return "none"
    mean, lo, hi = bootstrap_mean(values)
    return f"{mean:.3f} [{lo:.3f}, {hi:.3f}]"


def plot(rows: list[dict[str, Any]], so: dict[int, Path], mo: dict[int, Path], path: Path) -> None:
    """Left: validation fitness against parameters, every multi-objective evaluation in
    grey, each seed's front in its colour (a staircase: the front rises with size), each
    single-objective best as a star. Right: the same fronts' members at their test
    accuracy (points joined in order of size: a front chosen by validation need not rise in
    test accuracy, so no staircase), the same stars at their test accuracy."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    fig, axes = plt.subplots(1, 2, figsize=(10, 4.4), sharex=True, layout="constrained")
    for i, row in enumerate(rows):
        seed, colour = row["seed"], f"C{i % 10}"
        done = history(mo[seed])
        front = sorted(json.loads((mo[seed] / "pareto.json").read_text())["front"], key=lambda r: r["params"])
        params = [r["params"] for r in front]
        axes[0].scatter([h["params"] for h in done], [h["fitness"] for h in done], s=6, color="0.75",
                        label="every evaluation" if i == 0 else None)
        axes[0].step(params, [r["fitness"] for r in front], where="post", color=colour, lw=1, marker="o", ms=3,
                     label=f"seed {seed} front")
        axes[1].plot(params, [r["test_accuracy"] for r in front], color=colour, lw=0.8, ls=":", marker="o", ms=3)
        for ax, star in ((axes[0], row["so_best_fitness"]), (axes[1], row["so_best_test"])):
            ax.scatter([row["so_best_params"]], [star], marker="*", s=120, color=colour, edgecolor="k", zorder=4)
    axes[0].set_ylabel("validation fitness")
    axes[1].set_ylabel("test accuracy")
    axes[0].set_title("the fronts by validation fitness", fontsize=9)
    axes[1].set_title("the same members' test accuracy (joined by size)", fontsize=9)
    for ax in axes:
        ax.set_xscale("log")
        ax.set_xlabel("parameters")
    # The star's legend entry in no seed's colour: each seed's star has its front's colour.
    handles, labels = axes[0].get_legend_handles_labels()
    handles.append(Line2D([], [], marker="*", ms=11, ls="", markerfacecolor="white", markeredgecolor="k"))
    labels.append("fitness-only best (its seed's colour)")
    fig.legend(handles, labels, loc="outside lower center", ncol=4, fontsize=8, frameon=False)
    fig.suptitle("fitness and size (ga.objectives=[fitness,params]) against fitness alone (stars)", fontsize=10)
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("single_objective", type=Path, help="sweep directory of the ga.objectives=[fitness] runs")
    ap.add_argument("multi_objective", type=Path, help="sweep directory of the ga.objectives=[fitness,params] runs")
    ap.add_argument("--tolerances", type=float, nargs="+", default=[0.01, 0.03, 0.05],
                    help="accuracy within which a network counts as as good (the issue's yardstick: 0.01)")
    ap.add_argument("--figure", type=Path, default=None, help="where to draw the fronts (default: MO/pareto_fronts.png)")
    args = ap.parse_args()
    so, mo = load_runs(args.single_objective), load_runs(args.multi_objective)
    seeds = sorted(set(so) & set(mo))
    if not seeds:
        raise SystemExit(f"no seed has finished in both sweeps (single: {sorted(so)}, multi: {sorted(mo)})")
    rows = [{"seed": s, **compare_seed(so[s], mo[s], args.tolerances)} for s in seeds]

    print(f"{len(seeds)} seeds {seeds}")
    cols = ["seed", "so_best_params", "so_best_fitness", "so_best_test", "front_size", "front_top_params",
            "front_top_fitness", "front_top_test"] + [f"by_test_{t:g}_params" for t in args.tolerances]
    print("  ".join(cols))
    for r in rows:
        print("  ".join("-" if r[c] is None else f"{r[c]:.3f}" if isinstance(r[c], float) else str(r[c]) for c in cols))
    found = lambda key: [r[key] for r in rows if r[key] is not None]  # noqa: E731
    print(f"fitness-only best: test {arithmetic([r['so_best_test'] for r in rows])}, "
          f"params geometric mean {math.exp(np.mean([math.log(r['so_best_params']) for r in rows])):,.0f}")
    print(f"front's most accurate: test {arithmetic([r['front_top_test'] for r in rows])}, "
          f"{geometric([r['so_best_params'] / r['front_top_params'] for r in rows])} smaller; test minus the "
          f"fitness-only best's {arithmetic([r['front_top_test'] - r['so_best_test'] for r in rows])}")
    for t in args.tolerances:
        print(f"within {t:g}: front by test {geometric(found(f'by_test_{t:g}_compression'))}; front by validation "
              f"{geometric(found(f'by_val_{t:g}_compression'))} (test "
              f"{arithmetic(found(f'by_val_{t:g}_test'))}); fitness-only run's own history by test "
              f"{geometric(found(f'so_history_{t:g}_compression'))}, by validation "
              f"{geometric(found(f'so_history_by_val_{t:g}_compression'))} (test "
              f"{arithmetic(found(f'so_history_by_val_{t:g}_test'))})")

    out = args.multi_objective / "pareto_compression.csv"
    with out.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    figure = args.figure or args.multi_objective / "pareto_fronts.png"
    plot(rows, so, mo, figure)
    print(f"rows: {out}\nfigure: {figure}")


if __name__ == "__main__":
    main()

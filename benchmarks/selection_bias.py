"""Selection bias and deployable accuracy of the best genomes of a sweep.

For every run of a multirun directory, its best genome is scored again `--repeats` times
with fresh seeds, exactly as the run's fitness scored it (garay-best), and:

- selection bias = the run's recorded best fitness - the mean of the fresh scores
  (how much the winner was flattered by being the maximum of many noisy numbers);
- retrained test accuracy = the mean test accuracy of the fresh scores.

Runs are grouped by their swept settings other than the seed; each group gets the mean
and a bootstrap 95% interval over its runs, and the worker-hours the runs spent.

    python benchmarks/selection_bias.py SWEEP_DIR [--repeats 3] [--jobs 2] [overrides ...]

Overrides apply to the retraining (e.g. fitness=study retrains once on the split).
Results also go to SWEEP_DIR/selection_bias.csv.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

from garay.anytime import bootstrap_mean, group_label
from garay.sweep import load_jobs, swept_keys


def retrain_run(args: tuple[str, int, list[str]]) -> dict[str, Any]:
    run_dir, repeats, overrides = args
    import contextlib
    import io

    from hydra import compose, initialize_config_module

    from garay.best import retrain
    from garay.cli import register_configs  # noqa: F401

    with initialize_config_module(config_module="garay.conf", version_base="1.3"):
        cfg = compose(config_name="best", overrides=[f"run_dir={run_dir}", f"repeats={repeats}",
                                                     "save_weights=false", *overrides])
    with contextlib.redirect_stdout(io.StringIO()):
        return retrain(cfg, Path(run_dir) / "retrain" / "selection_bias")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("sweep_dir", type=Path)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1))
    ap.add_argument("overrides", nargs="*")
    args = ap.parse_args()
    jobs = load_jobs(args.sweep_dir)
    keys = swept_keys(jobs)
    work = [(str(args.sweep_dir / j["job"]), args.repeats, args.overrides) for j in jobs if j["best_genome"]]
    with ProcessPoolExecutor(args.jobs) as pool:
        results = list(pool.map(retrain_run, work))
    rows = []
    for job, res in zip(jobs, results):
        summary = json.loads((args.sweep_dir / job["job"] / "summary.json").read_text())
        rows.append({"job": job["job"], "group": group_label(job["overrides"], keys),
                     "fitness": res["recorded"]["fitness"], "retrained_val": res["val_accuracy"]["mean"],
                     "selection_bias": res["selection_bias"], "recorded_test": res["recorded"]["test_accuracy"],
                     "retrained_test": res["test_accuracy"]["mean"],
                     "worker_hours": summary.get("worker_seconds", 0.0) / 3600})
    with open(args.sweep_dir / "selection_bias.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    print(f"{args.sweep_dir}: best genomes scored again {args.repeats} times each "
          f"({' '.join(args.overrides) or 'as their runs scored them'})")
    print(f"{'group':<36} {'runs':>4}  {'selection bias':<26} {'retrained test':<26} {'worker-h':>8}")
    for group in dict.fromkeys(r["group"] for r in rows):
        rs = [r for r in rows if r["group"] == group]
        bias = bootstrap_mean([r["selection_bias"] for r in rs])
        test = bootstrap_mean([r["retrained_test"] for r in rs])
        hours = sum(r["worker_hours"] for r in rs) / len(rs)
        print(f"{group:<36} {len(rs):>4}  {bias[0]:+.4f} [{bias[1]:+.4f}, {bias[2]:+.4f}]  "
              f"{test[0]:.4f} [{test[1]:.4f}, {test[2]:.4f}]  {hours:>8.3f}")


if __name__ == "__main__":
    main()

"""Selection bias and deployable accuracy of the best genomes of a sweep.

For every run of a multirun directory, its best genome is scored again `--repeats` times
with fresh seeds (garay-best):

- as the run's fitness scored it: selection bias = the run's recorded best fitness - the
  mean of these fresh scores (how much the winner was flattered by being the maximum of
  many noisy numbers);
- trained once on the split per repeat (fitness=study), as one would deploy it: the mean
  test accuracy on the held-out data, the same yardstick whatever fitness the run used.

Runs are grouped by their swept settings other than the seed; each group gets the mean
and a bootstrap 95% interval over its runs, and the worker-hours the runs spent.

    python benchmarks/selection_bias.py SWEEP_DIR [--repeats 3] [--jobs 2] [overrides ...]

Overrides apply to both retrainings. Results also go to SWEEP_DIR/selection_bias.csv.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

from garay.results.anytime import bootstrap_difference, bootstrap_mean, group_label
from garay.results.sweep import load_jobs, swept_keys


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


def _single_training(run_dir: str) -> bool:
    """Whether the run's fitness was one training on the split (then both scorings agree)."""
    from omegaconf import OmegaConf

    from garay.config import fitness_rounds

    cfg = OmegaConf.create(json.loads((Path(run_dir) / "summary.json").read_text())["config"])
    return fitness_rounds(cfg) == 1 and cfg.fitness.repeats == 1


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("sweep_dir", type=Path)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1))
    ap.add_argument("overrides", nargs="*")
    args = ap.parse_args()
    jobs = load_jobs(args.sweep_dir)
    keys = swept_keys(jobs)
    jobs = [j for j in jobs if j["best_genome"]]
    dirs = [str(args.sweep_dir / j["job"]) for j in jobs]
    single = [_single_training(d) for d in dirs]
    work = [(d, args.repeats, args.overrides) for d in dirs]
    work += [(d, args.repeats, ["fitness=study", *args.overrides]) for d, one in zip(dirs, single) if not one]
    with ProcessPoolExecutor(args.jobs) as pool:
        results = list(pool.map(retrain_run, work))
    as_run, on_split = results[: len(dirs)], iter(results[len(dirs):])
    rows = []
    for job, res, one in zip(jobs, as_run, single):
        split = res if one else next(on_split)
        summary = json.loads((args.sweep_dir / job["job"] / "summary.json").read_text())
        rows.append({"job": job["job"], "group": group_label(job["overrides"], keys),
                     "fitness": res["recorded"]["fitness"], "rescored": res["val_accuracy"]["mean"],
                     "selection_bias": res["selection_bias"], "recorded_test": res["recorded"]["test_accuracy"],
                     "retrained_test": split["test_accuracy"]["mean"],
                     "worker_hours": summary.get("worker_seconds", 0.0) / 3600})
    with open(args.sweep_dir / "selection_bias.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    print(f"{args.sweep_dir}: best genomes scored again {args.repeats} times each "
          f"({' '.join(args.overrides) or 'as their runs scored them'})")
    print("fresh: the best genome scored again as its run scored it; bias: recorded - fresh;\n"
          "test: trained on the split, held-out accuracy; vs random: test minus random search's")
    print(f"{'group':<28} {'runs':>4}  {'fresh fitness':<24} {'selection bias':<26} {'test (retrained)':<24} "
          f"{'test vs random':<26} {'worker-h':>8}")
    groups = list(dict.fromkeys(r["group"] for r in rows))
    random = [g for g in groups if "ga.mode=random" in g.split(",")]
    for group in groups:
        rs = [r for r in rows if r["group"] == group]
        fresh = bootstrap_mean([r["rescored"] for r in rs])
        bias = bootstrap_mean([r["selection_bias"] for r in rs])
        test = bootstrap_mean([r["retrained_test"] for r in rs])
        vs = ""
        if len(random) == 1 and group != random[0]:
            d = bootstrap_difference([r["retrained_test"] for r in rs],
                                     [r["retrained_test"] for r in rows if r["group"] == random[0]])
            vs = f"{d[0]:+.4f} [{d[1]:+.4f}, {d[2]:+.4f}]"
        hours = sum(r["worker_hours"] for r in rs) / len(rs)
        print(f"{group:<28} {len(rs):>4}  {fresh[0]:.4f} [{fresh[1]:.4f}, {fresh[2]:.4f}]  "
              f"{bias[0]:+.4f} [{bias[1]:+.4f}, {bias[2]:+.4f}]  {test[0]:.4f} [{test[1]:.4f}, {test[2]:.4f}]  "
              f"{vs:<26} {hours:>8.3f}")


if __name__ == "__main__":
    main()

"""Leave-one-speaker-out on FSDD: each of the six speakers is the test set in turn. For
each, garay searches (validation on other speakers), then its best genome and the fixed
small CNN are retrained `--repeats` times on the same split (fitness=study: one training
on the split per repeat) and scored on the held-out speaker.

    python benchmarks/loso.py --out DIR [--repeats 3] [--jobs 2] [--cnn-only] [garay overrides ...]

e.g. `python benchmarks/loso.py --out loso train.epochs=10 ga=robust`. Prints a table per
speaker, the mean and standard deviation over speakers, and the mean paired difference
(GA - CNN) with a bootstrap 95% interval over speakers. Writes DIR/loso.csv.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
import os
import statistics
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

SPEAKERS = ("george", "jackson", "lucas", "nicolas", "theo", "yweweler")
FSDD = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "fsdd" / "recordings"


def compose(name: str, overrides: list[str]) -> Any:
    from hydra import compose as hydra_compose
    from hydra import initialize_config_module

    from garay.cli import register_configs  # noqa: F401

    with initialize_config_module(config_module="garay.conf", version_base="1.3"):
        return hydra_compose(config_name=name, overrides=overrides)


def one_speaker(args: tuple[str, Path, int, list[str], bool]) -> dict[str, Any]:
    speaker, out, repeats, overrides, cnn_only = args
    from garay.best import retrain
    from garay.cli import run

    data = ["data=fsdd", f"data.root={FSDD}", "data.split=speaker", f"data.test_speakers=[{speaker}]"]
    run_dir = out / speaker
    if cnn_only:  # the fixed CNN alone, with the training and data overrides given
        retrain_args = [f"repeats={repeats}", "fitness=study", "save_weights=false"]
        train = [o for o in overrides if o.startswith(("train.", "blueprint.", "data."))]
        with contextlib.redirect_stdout(io.StringIO()):
            cnn = retrain(compose("best", ["genome=small_cnn", *data, *train, *retrain_args]), run_dir / "retrain_cnn")
        return {"speaker": speaker, "cnn_test": cnn["test_accuracy"]["mean"], "cnn_sd": cnn["test_accuracy"]["std"]}
    with contextlib.redirect_stdout(io.StringIO()):
        summary = run(compose("config", [*data, "progress=false", "cluster.backend=inprocess", *overrides]),
                      run_dir=run_dir)
        retrain_args = [f"repeats={repeats}", "fitness=study", "save_weights=false"]
        ga = retrain(compose("best", [f"run_dir={run_dir}", *retrain_args]), run_dir / "retrain_best")
        train = [o for o in overrides if o.startswith(("train.", "blueprint.", "data."))]
        cnn = retrain(compose("best", ["genome=small_cnn", *data, *train, *retrain_args]), run_dir / "retrain_cnn")
    return {"speaker": speaker, "ga_fitness": summary["best"]["fitness"], "ga_test": ga["test_accuracy"]["mean"],
            "cnn_test": cnn["test_accuracy"]["mean"], "ga_genome": summary["best"]["hash"],
            "worker_hours": summary["worker_seconds"] / 3600}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1))
    ap.add_argument("--speakers", default=",".join(SPEAKERS))
    ap.add_argument("--cnn-only", action="store_true", help="no search: the fixed small CNN alone, retrained "
                    "with the train./data. overrides given (e.g. an augmentation recipe)")
    ap.add_argument("overrides", nargs="*")
    args = ap.parse_args()
    work = [(s, args.out.resolve(), args.repeats, args.overrides, args.cnn_only) for s in args.speakers.split(",")]
    with ProcessPoolExecutor(args.jobs) as pool:
        rows = list(pool.map(one_speaker, work))
    args.out.mkdir(parents=True, exist_ok=True)
    with open(args.out / "loso.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    if args.cnn_only:
        cnn = [r["cnn_test"] for r in rows]
        print(f"leave-one-speaker-out, small CNN, {' '.join(args.overrides) or 'the study recipe'}; "
              f"test accuracy, mean of {args.repeats} retrainings")
        for r in rows:
            print(f"{r['speaker']:<10} {r['cnn_test']:.4f} (sd {r['cnn_sd']:.4f})")
        sd = statistics.stdev(cnn) if len(cnn) > 1 else 0.0
        print(f"{'mean (sd)':<10} {statistics.fmean(cnn):.4f} ({sd:.4f})")
        return
    print(f"leave-one-speaker-out, {' '.join(args.overrides)}; test accuracy, mean of {args.repeats} retrainings")
    print(f"{'speaker':<10} {'GA best':>8} {'small CNN':>10}")
    for r in rows:
        print(f"{r['speaker']:<10} {r['ga_test']:>8.4f} {r['cnn_test']:>10.4f}")
    ga, cnn = [r["ga_test"] for r in rows], [r["cnn_test"] for r in rows]
    sd = (lambda xs: statistics.stdev(xs) if len(xs) > 1 else 0.0)
    print(f"{'mean (sd)':<10} {statistics.fmean(ga):.4f} ({sd(ga):.4f})  {statistics.fmean(cnn):.4f} ({sd(cnn):.4f})")
    diffs = np.array(ga) - np.array(cnn)
    rng = np.random.default_rng(0)
    boot = diffs[rng.integers(len(diffs), size=(4000, len(diffs)))].mean(axis=1)
    print(f"GA - CNN: {diffs.mean():+.4f} [{np.percentile(boot, 2.5):+.4f}, {np.percentile(boot, 97.5):+.4f}] "
          f"(paired by speaker, bootstrap 95%); search cost {sum(r['worker_hours'] for r in rows):.2f} worker-hours")


if __name__ == "__main__":
    main()

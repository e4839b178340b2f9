"""Compare methods across several sweep directories as if they were one sweep, e.g. the
same comparison extended by more seeds in a second sweep, or run with another backend.

    python benchmarks/compare_sweeps.py OUT SWEEP_DIR [SWEEP_DIR ...] [--keys ga.mode seed]

Links every job of the sweeps into OUT (as d{i}-{job}), keeps only `--keys` of each job's
overrides (the rest, such as cluster.backend or an explicit default, must not split the
groups), and writes OUT/anytime.csv, compare.csv and anytime.png as the sweep callback does.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from garay.results.anytime import compare_text, write_anytime
from garay.results.sweep import load_jobs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("sweeps", type=Path, nargs="+")
    parser.add_argument("--keys", nargs="+", default=["ga.mode", "seed"])
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    for i, sweep in enumerate(args.sweeps):
        for job in load_jobs(sweep):
            link = args.out / f"d{i}-{job['job']}"
            if not link.exists():
                link.symlink_to((sweep / job["job"]).resolve(), target_is_directory=True)
    jobs = load_jobs(args.out)
    for job in jobs:
        job["overrides"] = {k: job["overrides"][k] for k in args.keys if k in job["overrides"]}
    print(compare_text(write_anytime(args.out, jobs, args.keys)))


if __name__ == "__main__":
    main()

"""Data preparation of a Speech-Commands-layout corpus: one process against every core,
first load (decode, features, cache writes) and cached load, as the corpus grows.

    python benchmarks/speech_corpus.py CORPUS --files 20000        # real speech (espeak-ng)
    python benchmarks/data_prep.py CORPUS [--sizes 2000 5000 10000 20000] [--workers 2]

Each size is a fixed random sample of the corpus's files (a folder of links, the same
files for every measurement). Each measurement runs in a fresh process with a fresh
feature cache, so the driver's peak memory (ru_maxrss) is its own; every file is read once
beforehand so that all loads find the audio in the OS page cache alike. The feature array
is every split's features together (what the object store receives). Ratios are measured
in this one run; on a shared machine repeat it before trusting a small difference.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np


def subset(corpus: Path, size: int, into: Path, seed: int = 0) -> Path:
    """A folder of links to `size` of the corpus's word files, chosen at random (seeded)."""
    files = sorted(p for p in corpus.glob("*/*.wav") if not p.parent.name.startswith("_"))
    if size > len(files):
        raise SystemExit(f"{corpus} holds {len(files)} files, fewer than {size}")
    chosen = np.random.default_rng(seed).choice(len(files), size=size, replace=False)
    root = into / f"n{size}"
    for i in sorted(chosen):
        link = root / files[i].parent.name / files[i].name
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(files[i].resolve())
    return root


def measure(root: Path, workers: int, cache: Path) -> dict[str, Any]:
    """In this (fresh) process: a first load and a cached load of `root`; times, peak memory."""
    from omegaconf import OmegaConf

    from garay.config import DataConfig
    from garay.data import load_dataset
    from garay.data.features import FeatureSettings
    from garay.data.parallel import warm_up

    cfg = OmegaConf.structured(DataConfig(name="folder", root=str(root), sample_rate=16000, duration=1.0,
                                          speaker_pattern="speech_commands", split="hash", val_fraction=0.1,
                                          test_fraction=0.1, cache_dir=str(cache), workers=workers))
    # librosa's first use loads its parts (seconds), once per process, cached or not: not measured
    warm_up(FeatureSettings.from_config(cfg).compute, 16000)
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    start = time.perf_counter()
    data = load_dataset(cfg)
    first = time.perf_counter() - start
    peak_first = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    features = sum(getattr(data, f"x_{s}").nbytes for s in ("train", "val", "test"))
    del data
    start = time.perf_counter()
    again = load_dataset(cfg)
    cached = time.perf_counter() - start
    assert again.info["cache_misses"] == 0
    return {"files": sum(again.sizes().values()), "workers": workers, "first_s": first, "cached_s": cached,
            "rss_before_mb": base / 2**20, "peak_mb": peak_first / 2**20, "features_mb": features / 2**20}


def run_one(root: Path, workers: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="garay-prep-cache-") as cache:
        out = subprocess.run([sys.executable, __file__, "--one", str(root), str(workers), cache],
                             check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    if len(sys.argv) == 5 and sys.argv[1] == "--one":
        print(json.dumps(measure(Path(sys.argv[2]), int(sys.argv[3]), Path(sys.argv[4]))))
        return
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("corpus", type=Path)
    ap.add_argument("--sizes", type=int, nargs="+", default=[2000, 5000, 10000, 20000])
    ap.add_argument("--workers", type=int, default=len(os.sched_getaffinity(0)))
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="garay-prep-") as tmp:
        for path in args.corpus.glob("*/*.wav"):  # into the page cache: every load reads warm files
            path.read_bytes()
        print(f"{'files':>6} {'procs':>5} {'first s':>8} {'files/s':>8} {'cached s':>8} {'peak MB':>8} "
              f"{'base MB':>8} {'feat MB':>8} {'(peak-base)/feat':>16}")
        rows = []
        for size in args.sizes:
            root = subset(args.corpus, size, Path(tmp))
            for workers in (1, args.workers):
                r = run_one(root, workers)
                rows.append(r)
                print(f"{r['files']:>6} {workers:>5} {r['first_s']:>8.2f} {r['files'] / r['first_s']:>8.0f} "
                      f"{r['cached_s']:>8.2f} {r['peak_mb']:>8.0f} {r['rss_before_mb']:>8.0f} "
                      f"{r['features_mb']:>8.0f} {(r['peak_mb'] - r['rss_before_mb']) / r['features_mb']:>16.2f}",
                      flush=True)
            one, many = rows[-2], rows[-1]
            print(f"       {size} files, speed-up of {args.workers} processes over 1 (time of 1 / time of "
                  f"{args.workers}): first load {one['first_s'] / many['first_s']:.2f}x, cached load "
                  f"{one['cached_s'] / many['cached_s']:.2f}x", flush=True)


if __name__ == "__main__":
    main()

"""Data preparation of a Speech-Commands-layout corpus: one process against every core,
first load (decode, features, cache writes) and cached load, as the corpus grows.

    python benchmarks/speech_corpus.py CORPUS --files 20000        # real speech (espeak-ng)
    python benchmarks/data_prep.py CORPUS [--sizes 2000 5000 10000 20000] [--workers 2] [--repeats 3]

Each size is a fixed random sample of the corpus's files (a folder of links, the same
files for every measurement). Each measurement runs in a fresh process with a fresh
feature cache, so the driver's peak memory (ru_maxrss) is its own; every file is read once
beforehand so that all loads find the audio in the OS page cache alike, and the disk is
synced before each (the previous measurement's cache files must not be written back
during the next). Caches are deleted only at the end; start the run at least five minutes
after any mass deletion of files on the same disk (see run_one). One process and N
processes take turns, `--repeats` times; the table gives each measurement, the summary
the medians and their ratio. On a shared virtual machine one load's time moves by 20% or
more from run to run: trust medians, not one row.
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
    # the features' first use loads their parts (scipy.fft), once per process, cached or not: not measured
    warm_up(FeatureSettings.from_config(cfg).compute, 16000)
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    before = [resource.getrusage(who) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)]
    start = time.perf_counter()
    data = load_dataset(cfg)
    first = time.perf_counter() - start
    after = [resource.getrusage(who) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)]
    peak_first = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    user, kernel = ([getattr(b, f) - getattr(a, f) for a, b in zip(before, after)] for f in ("ru_utime", "ru_stime"))
    cpu = {"driver_cpu_s": user[0] + kernel[0], "pool_cpu_s": user[1] + kernel[1],
           "kernel_share": sum(kernel) / max(1e-9, sum(user) + sum(kernel))}
    features = sum(getattr(data, f"x_{s}").nbytes for s in ("train", "val", "test"))
    del data
    start = time.perf_counter()
    again = load_dataset(cfg)
    cached = time.perf_counter() - start
    assert again.info["cache_misses"] == 0
    return {"files": sum(again.sizes().values()), "workers": workers, "first_s": first, "cached_s": cached,
            "rss_before_mb": base / 2**20, "peak_mb": peak_first / 2**20, "features_mb": features / 2**20, **cpu}


def _features_of_noise(files: int) -> float:
    """Seconds to compute the features of `files` one-second random waves, in this process,
    as garay's preparation does: FEATURE_BATCH at a time, one BLAS thread, its malloc settings."""
    from garay.data.features import FeatureSettings
    from garay.data.parallel import keep_freed_memory
    from garay.data.prepare import FEATURE_BATCH, _blas

    keep_freed_memory()
    settings = FeatureSettings(sample_rate=16000)
    waves = np.random.default_rng(0).standard_normal((FEATURE_BATCH, 16000)).astype(np.float32)
    settings.compute(waves[:1])
    start = time.perf_counter()
    with _blas().limit(limits=1):
        for _ in range(files // FEATURE_BATCH):
            settings.compute(waves)
    return time.perf_counter() - start


def _python_loop(steps: int) -> float:
    """Seconds of a pure-Python loop of `steps` steps (no memory traffic), in this process."""
    start = time.perf_counter()
    total = 0
    for i in range(steps):
        total += i * i
    return time.perf_counter() - start


def ceiling(workers: int, repeats: int = 5) -> dict[str, float]:
    """The machine's own speed-up on `workers` forked processes against 1, for the same
    total work: a pure-Python loop, and garay's feature computation of waves in memory (no
    files, no cache). Medians of `repeats`. On a shared virtual machine these move from
    minute to minute: they say what the hardware gave while the loads were measured."""
    import multiprocessing

    out = {}
    for name, fn, work in (("python loop", _python_loop, 20_000_000), ("features", _features_of_noise, 3840)):
        ratios = []
        for _ in range(repeats):
            one = fn(work)  # first here: the forked processes inherit what it loaded
            with multiprocessing.get_context("fork").Pool(workers) as pool:
                # each process times its own share: the pool's start is not the hardware's
                ratios.append(one / max(pool.map(fn, [work // workers] * workers)))
        out[name] = float(np.median(ratios))
    return out


def run_one(root: Path, workers: int, cache: Path) -> dict[str, Any]:
    os.sync()  # the previous measurement's cache files are on disk, not being written back now
    out = subprocess.run([sys.executable, __file__, "--one", str(root), str(workers), str(cache)],
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
    ap.add_argument("--repeats", type=int, default=3, help="measurements of each (size, processes), taking turns")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="garay-prep-") as tmp:
        for path in args.corpus.glob("*/*.wav"):  # into the page cache: every load reads warm files
            path.read_bytes()
        print(f"{'files':>6} {'procs':>5} {'first s':>8} {'files/s':>8} {'cached s':>8} {'peak MB':>8} "
              f"{'base MB':>8} {'feat MB':>8} {'(peak-base)/feat':>16} {'driver cpu':>10} {'pool cpu':>8} "
              f"{'kernel':>6}")
        summary, ratios = [], []
        before = ceiling(args.workers)
        for size in args.sizes:
            root = subset(args.corpus, size, Path(tmp))
            rows: dict[int, list[dict[str, Any]]] = {1: [], args.workers: []}
            for repeat in range(args.repeats):
                for workers in rows:
                    # A new cache each time, all deleted at the end: ext4 creates files slowly for
                    # minutes after many were deleted (it skips recently freed inodes, reading their
                    # tables), which made deleting one measurement's cache slow down the next 2x.
                    r = run_one(root, workers, Path(tmp) / f"cache-{size}-{workers}-{repeat}")
                    rows[workers].append(r)
                    print(f"{r['files']:>6} {workers:>5} {r['first_s']:>8.2f} {r['files'] / r['first_s']:>8.0f} "
                          f"{r['cached_s']:>8.2f} {r['peak_mb']:>8.0f} {r['rss_before_mb']:>8.0f} "
                          f"{r['features_mb']:>8.0f} {(r['peak_mb'] - r['rss_before_mb']) / r['features_mb']:>16.2f} "
                          f"{r['driver_cpu_s']:>10.2f} {r['pool_cpu_s']:>8.2f} {r['kernel_share']:>6.0%}", flush=True)
            one, many = ({k: float(np.median([r[k] for r in rows[w]])) for k in ("first_s", "cached_s")}
                         for w in rows)
            line = (f"{size} files, medians of {args.repeats}: first load {one['first_s']:.2f} s (1 process) / "
                    f"{many['first_s']:.2f} s ({args.workers}) = {one['first_s'] / many['first_s']:.2f}x; cached "
                    f"{one['cached_s']:.2f} s / {many['cached_s']:.2f} s = {one['cached_s'] / many['cached_s']:.2f}x")
            summary.append(line)
            ratios.append((size, one["first_s"] / many["first_s"]))
            print("       " + line, flush=True)
        print("\nspeed-up of " + str(args.workers) + " processes over 1 (median time of 1 / median time of "
              + str(args.workers) + "):")
        for line in summary:
            print("  " + line)
        after = ceiling(args.workers)
        for when, limits in (("before the loads", before), ("after", after)):
            print(f"  the machine's own speed-up on {args.workers} processes against 1, {when}, medians of 5: "
                  + ", ".join(f"{name} {ratio:.2f}x" for name, ratio in limits.items()))
        loop = (before["python loop"] + after["python loop"]) / 2
        print(f"  first load's speed-up as a share of the pure-Python loop's ({loop:.2f}x): "
              + ", ".join(f"{size} files {ratio / loop:.2f}" for size, ratio in ratios))


if __name__ == "__main__":
    main()

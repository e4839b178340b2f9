"""First load of FSDD (decode + features + cache writes) against a load from the cache.

    python benchmarks/cache_load.py [--root PATH] [--repeats N]

Uses a fresh temporary cache directory, so the first load is really cold for the cache
(the OS file cache may still hold the WAVs). The feature code is imported before timing:
its import cost is paid once per process, cached or not, and is not what the cache saves.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from omegaconf import OmegaConf

from garay.config import DataConfig
from garay.data import load_dataset

DEFAULT_ROOT = Path(__file__).resolve().parents[2] / "shared" / "data" / "fsdd" / "recordings"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=DEFAULT_ROOT, help="the FSDD recordings folder")
    parser.add_argument("--repeats", type=int, default=3, help="cached loads to time (the median is reported)")
    args = parser.parse_args()
    import garay.data.logmel  # noqa: F401 - see the module docstring
    import scipy.fft  # noqa: F401

    with tempfile.TemporaryDirectory(prefix="garay-cache-bench-") as cache_dir:
        cfg = OmegaConf.structured(DataConfig(name="fsdd", root=str(args.root), duration=1.0, split="official",
                                              cache_dir=cache_dir))
        start = time.perf_counter()
        first = load_dataset(cfg)
        cold = time.perf_counter() - start
        warm_times = []
        for _ in range(args.repeats):
            start = time.perf_counter()
            cached = load_dataset(cfg)
            warm_times.append(time.perf_counter() - start)
        assert cached.info["cache_misses"] == 0 and (cached.x_train == first.x_train).all()
    warm = statistics.median(warm_times)
    files = first.info["cache_misses"]
    print(f"FSDD {files} files from {args.root}, features {first.info['features']} {first.input_shape}")
    print(f"first load (decode, features, cache writes): {cold:.3f} s")
    print(f"cached load (hash files, read cache), median of {args.repeats}: {warm:.3f} s")
    print(f"ratio first / cached: {cold / warm:.1f}x")


if __name__ == "__main__":
    main()

"""Worker utilisation (busy time / (workers x wall)) of async steady-state vs generational
evolution on genomes of mixed cost (a stand-in trainer sleeps 0.1 s per layer, so a
6-layer genome costs 6x a 1-layer one). Goal: async at least 0.95.

    python benchmarks/utilisation.py [--workers 2] [--generations 4]
"""

from __future__ import annotations

import argparse
import tempfile

import ray

from garay.search.blueprint import Blueprint
from garay.data.synthetic import make_synthetic
from garay.execution.evaluation import TrainSettings
from garay.config.schema import GAConfig
from garay.search.space import GenomeSpace
from garay.strategies.search import Search
from garay.results.runlog import RunLog
from garay.execution.standin import SleepTrainer
from garay.execution.scheduler import RayEvaluator


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--population", type=int, default=10)
    ap.add_argument("--generations", type=int, default=10)
    ap.add_argument("--seconds-per-layer", type=float, default=0.1)
    args = ap.parse_args()
    data = make_synthetic(examples_per_class=4)
    ga = GAConfig(population_size=args.population, generations=args.generations, num_parents=4)
    ray.init(address="local", num_cpus=args.workers, include_dashboard=False, log_to_driver=False)
    print(f"{args.workers} workers, budget {ga.budget} evaluations, {args.seconds_per_layer} s per layer")
    out = {}
    for mode in ("generational", "async"):
        ev = RayEvaluator(data, TrainSettings(), num_workers=args.workers,
                          trainer=SleepTrainer(args.seconds_per_layer, per_gene=True))
        ev.wait_ready()
        with tempfile.TemporaryDirectory() as tmp:
            ga_mode = GAConfig(**{**ga.__dict__, "mode": mode})
            evo = Search(GenomeSpace.for_ga(Blueprint(), ga_mode, data.input_shape, 10), ga_mode, ev, RunLog(tmp))
            summary = evo.run()
        ev.close()
        out[mode] = summary["utilisation"]
        print(f"  {mode:12s} utilisation {summary['utilisation']:.3f}, wall {summary['wall_seconds']:.1f} s, "
              f"{summary['evaluations']} evaluations")
    ray.shutdown()
    print(f"async utilisation {out['async']:.3f} (goal >= 0.95); generational {out['generational']:.3f}; "
          f"ratio {out['async'] / out['generational']:.2f}x")


if __name__ == "__main__":
    main()

"""Driver scale: a stand-in trainer that sleeps, on a simulated cluster of 64 logical GPUs
over 4 nodes (ray.cluster_utils). Reports the driver's CPU time per evaluation (goal under
5 ms) and throughput against the ideal of workers / sleep (goal within 90%).

    python benchmarks/driver_scale.py [--nodes 4] [--gpus-per-node 16] [--sleep 1.0]
"""

from __future__ import annotations

import argparse
import tempfile
import time

import ray
from ray.cluster_utils import Cluster

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
    ap.add_argument("--nodes", type=int, default=4)
    ap.add_argument("--gpus-per-node", type=int, default=16)
    ap.add_argument("--sleep", type=float, default=1.0)
    ap.add_argument("--generations", type=int, default=10)
    args = ap.parse_args()
    gpus = args.nodes * args.gpus_per_node
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": args.gpus_per_node, "num_gpus": args.gpus_per_node})
    for _ in range(args.nodes - 1):
        cluster.add_node(num_cpus=args.gpus_per_node, num_gpus=args.gpus_per_node)
    cluster.wait_for_nodes()
    ray.init(address=cluster.address, log_to_driver=False)
    data = make_synthetic(examples_per_class=4)
    ga = GAConfig(population_size=gpus, generations=args.generations, num_parents=gpus // 4)
    start = time.perf_counter()
    ev = RayEvaluator(data, TrainSettings(), gpus_per_worker=1.0, trainer=SleepTrainer(args.sleep))
    placements = ev.wait_ready()
    print(f"{len(placements)} workers on {len({p['node_id'] for p in placements})} nodes, "
          f"{len({(p['node_id'], p['gpu_ids'][0]) for p in placements})} distinct (node, GPU) pairs; "
          f"started in {time.perf_counter() - start:.1f} s")
    for mode in ("async", "generational"):
        with tempfile.TemporaryDirectory() as tmp:
            ga_mode = GAConfig(**{**ga.__dict__, "mode": mode})
            evo = Search(GenomeSpace.for_ga(Blueprint(), ga_mode, data.input_shape, 10), ga_mode, ev, RunLog(tmp))
            cpu0, wall0 = time.process_time(), time.perf_counter()
            summary = evo.run()
            cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
        n = summary["evaluations"]
        ideal = gpus / args.sleep
        print(f"  {mode:12s} {n} evaluations in {wall:.1f} s: {n / wall:.1f} eval/s = {n / wall / ideal:.1%} of ideal "
              f"({ideal:.0f}/s); driver CPU {1000 * cpu / n:.2f} ms per evaluation; utilisation {summary['utilisation']:.3f}")
    ev.close()
    ray.shutdown()
    cluster.shutdown()
    print("goals: driver CPU under 5 ms per evaluation; async throughput at least 90% of ideal")


if __name__ == "__main__":
    main()

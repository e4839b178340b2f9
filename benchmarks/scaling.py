"""Two Ray workers vs. one on the same genomes (real training). Goal on a 2-core machine:
speed-up at least 1.7x.

    python benchmarks/scaling.py [--genomes 16] [--epochs 5]
"""

from __future__ import annotations

import ray

from _common import real_workload, timed
from garay.execution.scheduler import RayEvaluator
from garay.execution.protocol import Task, evaluate_all


def main() -> None:
    data, settings, genomes = real_workload(16, seed=1)
    tasks = [Task(f"t{i}", g, i, 0) for i, g in enumerate(genomes)]
    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False)
    t: dict[str, float] = {}
    for workers in (1, 2):
        ev = RayEvaluator(data, settings, num_workers=workers)
        ev.wait_ready()  # actor start-up is not part of the comparison
        with timed(f"{workers} worker(s)", t):
            results = list(evaluate_all(ev, tasks))
        assert all(r.evaluation.status == "ok" for r in results)
        ev.close()
    ray.shutdown()
    print(f"speed-up, 2 workers vs 1: {t['1 worker(s)'] / t['2 worker(s)']:.2f}x  (goal >= 1.7x)")


if __name__ == "__main__":
    main()

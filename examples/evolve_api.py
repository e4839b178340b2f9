"""Evolve from Python instead of the command line.

    python examples/evolve_api.py [RUN_DIR]

The settings are the CLI's config keys (README "Usage"): group options by name
(`data="fsdd"`), values as nested mappings, top-level keys as they are. This example is
small enough for a laptop's CPU (about a minute): a tiny population on the built-in
synthetic data, trained in this process. Drop `cluster=` to train on a local Ray instance,
or pass `cluster={"address": "auto"}` to use the cluster this machine belongs to.
"""

import sys

from garay import evolve

result = evolve(
    ga={"population_size": 6, "generations": 2, "num_parents": 2},
    train={"epochs": 2},
    data={"examples_per_class": 60},
    cluster={"backend": "inprocess"},
    seed=0,
    progress=False,
    run_dir=sys.argv[1] if len(sys.argv) > 1 else None,
)
print(f"{len(result.history)} evaluations; best validation accuracy {result.val_accuracy:.3f}, "
      f"test accuracy {result.test_accuracy:.3f}")
print(f"best genome: {result.best_genome}")
print(f"run directory: {result.run_dir}")

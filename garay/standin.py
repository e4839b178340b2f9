"""A stand-in trainer that sleeps instead of training, for exercising the Ray layer and
the driver at cluster scale without the cost of real training (tests and benchmarks)."""

from __future__ import annotations

import time
from dataclasses import dataclass

from garay.data.dataset import Dataset
from garay.evaluation import Evaluation, TrainSettings
from garay.workers import Task


@dataclass(frozen=True)
class SleepTrainer:
    """Factory for workers that sleep `seconds` (times the genome's length when
    `per_gene`, to give genomes mixed costs) and return a fitness derived from the genome
    hash, so results are deterministic and distinct."""

    seconds: float = 0.1
    per_gene: bool = False

    def __call__(self, dataset: Dataset, settings: TrainSettings, threads: int, gpu_fraction: float | None):
        return _Sleeper(self.seconds, self.per_gene)


@dataclass
class _Sleeper:
    seconds: float
    per_gene: bool

    def run(self, task: Task) -> Evaluation:
        start = time.perf_counter()
        time.sleep(self.seconds * (len(task.genome) if self.per_gene else 1))
        fitness = int(task.genome.hash[:8], 16) / 16**8
        return Evaluation(fitness, fitness, fitness, "ok", None, time.perf_counter() - start, 0, 0)

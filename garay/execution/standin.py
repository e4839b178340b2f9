"""A stand-in trainer that sleeps instead of training, for exercising the Ray layer and
the driver at cluster scale without the cost of real training (tests and benchmarks)."""

from __future__ import annotations

import time
from dataclasses import dataclass

from garay.data.dataset import Dataset
from garay.execution.evaluation import Evaluation, TrainSettings
from garay.execution.protocol import Task


@dataclass(frozen=True)
class SleepTrainer:
    """Factory for workers that sleep `seconds` (times the genome's length when
    `per_gene`, to give genomes mixed costs) and return a fitness derived from the genome
    hash, so results are deterministic and distinct. `raise_below` > 0 makes it raise for
    genomes whose fitness would fall below it, as a buggy custom trainer would."""

    seconds: float = 0.1
    per_gene: bool = False
    raise_below: float = 0.0

    def __call__(self, dataset: Dataset, settings: TrainSettings, threads: int, gpu_fraction: float | None):
        return _Sleeper(self.seconds, self.per_gene, self.raise_below, settings.epochs)


@dataclass
class _Sleeper:
    seconds: float
    per_gene: bool
    raise_below: float = 0.0
    epochs: int = 0  # what it reports having trained: the full training (it cannot pause)

    def run(self, task: Task) -> Evaluation:
        start = time.perf_counter()
        time.sleep(self.seconds * (len(task.genome) if self.per_gene else 1))
        fitness = int(task.genome.hash[:8], 16) / 16**8
        if fitness < self.raise_below:
            raise ValueError(f"trainer bug on {task.genome.hash}")
        return Evaluation(fitness, fitness, fitness, "ok", None, time.perf_counter() - start, 0, self.epochs)


def sleep_trainer(dataset: Dataset, settings: TrainSettings, threads: int, gpu_fraction: float | None, *,
                  seconds: float = 0.1) -> _Sleeper:
    """SleepTrainer as a plain trainer factory, for `train.trainer` (garay.plugins):
    `train.trainer={_target_: garay.execution.standin.sleep_trainer, seconds: 0.01}`."""
    return SleepTrainer(seconds)(dataset, settings, threads, gpu_fraction)

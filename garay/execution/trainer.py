"""What a worker holds: the trainer (the dataset as tensors on its device, and the
settings), how a task runs on it, and its memory figures."""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any, Callable

from garay.data.dataset import Dataset
from garay.execution.evaluation import Evaluation, TrainSettings
from garay.execution.protocol import Task


class TorchTrainer:
    """What a worker holds: the dataset as tensors on its device, and the settings."""

    def __init__(self, dataset: Dataset, settings: TrainSettings, threads: int, gpu_fraction: float | None = None):
        import torch

        from garay.execution.train import DeviceData

        torch.set_num_threads(threads)
        self.device = "cuda" if torch.cuda.is_available() else "cpu"
        if self.device == "cuda" and gpu_fraction is not None and gpu_fraction < 1:
            # Several workers share this GPU: cap each at its share so one cannot starve the rest.
            torch.cuda.set_per_process_memory_fraction(gpu_fraction)
        self.settings = settings
        # Every validation round on the device once (fitness.rounds; usually just the split).
        self.rounds = [DeviceData(d, self.device) for d in (dataset, *dataset.rounds)]

    def run(self, task: Task) -> Evaluation:
        return self.run_to(task)[0]

    def run_to(self, task: Task) -> tuple[Evaluation, Any]:
        """Train to `task.epochs` (from `task.state` when given); also return the states
        to continue from (None once the training is complete or did not end `ok`)."""
        from garay.execution.train import evaluate_genome

        return evaluate_genome(task.genome, self.rounds, self.settings, self.device, task.seed,
                               until=task.epochs, states=task.state)

    def peak_memory(self) -> int:
        """Peak CUDA memory on a GPU; on CPUs this worker process's peak resident memory
        (its copy of the dataset included)."""
        import torch

        return int(torch.cuda.max_memory_allocated()) if self.device == "cuda" else peak_rss_bytes()


def peak_rss_bytes() -> int:
    """This process's peak resident memory in bytes."""
    import resource
    import sys

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak if sys.platform == "darwin" else peak * 1024)  # macOS counts bytes, Linux KiB


TrainerFactory = Callable[[Dataset, TrainSettings, int, "float | None"], Any]


def run_task(trainer: Any, task: Task) -> tuple[Evaluation, Any]:
    """A trainer's result for `task` and the state to continue it from. Trainers without
    `run_to` (only `run`) always train in full and cannot pause. An exception the trainer
    lets out (a custom trainer's bug) is this genome's `failed` evaluation, with its
    message: the worker and the run go on."""
    start = time.perf_counter()
    try:
        if hasattr(trainer, "run_to"):
            return trainer.run_to(task)
        return trainer.run(replace(task, state=None)), None
    except Exception as exc:  # noqa: BLE001 - one genome's failure must not end the run
        error = f"{type(exc).__name__} in the trainer: {exc}"[:500]
        return Evaluation.unfinished("failed", error, time.perf_counter() - start), None

"""Evaluators: who trains the genomes. The protocol, the task and result types, the
trainer a worker holds, and the in-process evaluator. The Ray evaluator is
garay.scheduler (tasks) over garay.pool (actors): long-lived actors, one per GPU, a slice
of one, or a CPU share, that take the dataset from the object store once and keep it on
their device for the whole run.
"""

from __future__ import annotations

import logging
import socket
import time
from collections import deque
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Iterator, Protocol, Sequence

from garay.data.dataset import Dataset
from garay.evaluation import Evaluation, TrainSettings
from garay.genome import Genome

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Task:
    """One genome to train. `key` is unique within a run; `seed` fixes its training.
    `epochs` trains only that far (an early-stopping rung; None: the full training) and
    `state` continues a training paused at a lower rung (a `Result.state`; None, or a
    state that cannot be fetched, trains from the seed and reaches the same numbers)."""

    key: str
    genome: Genome
    seed: int
    generation: int | None = None
    birth: int | None = None
    epochs: int | None = None
    state: Any = None


@dataclass(frozen=True)
class Result:
    task: Task
    evaluation: Evaluation
    worker: str
    node_id: str | None = None
    gpu_ids: list = field(default_factory=list)
    cuda_visible_devices: str | None = None
    attempts: int = 1
    state: Any = None  # to continue this training at a higher rung (Ray: an object ref)


class Evaluator(Protocol):
    """Trains submitted tasks and hands back results as they finish, in any order."""

    num_workers: int

    def submit(self, task: Task) -> None: ...

    def next_result(self, *, return_when_idle: bool = False) -> Result | None:
        """The next result; None only with `return_when_idle`, when a worker that just
        joined finds nothing to do (evaluators whose workers never join return results only)."""
        ...

    def close(self) -> None: ...


def evaluate_all(evaluator: Evaluator, tasks: Sequence[Task]) -> Iterator[Result]:
    """Submit every task, then yield results the moment each finishes."""
    for task in tasks:
        evaluator.submit(task)
    for _ in range(len(tasks)):
        yield evaluator.next_result()


class TorchTrainer:
    """What a worker holds: the dataset as tensors on its device, and the settings."""

    def __init__(self, dataset: Dataset, settings: TrainSettings, threads: int, gpu_fraction: float | None = None):
        import torch

        from garay.train import DeviceData

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
        from garay.train import evaluate_genome

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


class InProcessEvaluator:
    """Trains tasks one at a time in this process (`cluster.backend=inprocess`)."""

    def __init__(self, dataset: Dataset, settings: TrainSettings, *, threads: int = 1,
                 trainer: TrainerFactory = TorchTrainer):
        self.num_workers = 1
        self._trainer = trainer(dataset, settings, threads, None)
        self._queue: deque[Task] = deque()

    def submit(self, task: Task) -> None:
        self._queue.append(task)

    def next_result(self, *, return_when_idle: bool = False) -> Result:
        task = self._queue.popleft()
        evaluation, state = run_task(self._trainer, task)
        return Result(replace(task, state=None), evaluation, worker=f"inprocess@{socket.gethostname()}", state=state)

    def close(self) -> None:
        self._queue.clear()

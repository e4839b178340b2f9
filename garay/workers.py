"""Evaluators: who trains the genomes. An in-process evaluator, and a Ray evaluator whose
long-lived actors (one per GPU, a slice of one, or a CPU share) hold the dataset on their
device for the whole run and stream results back with `ray.wait`."""

from __future__ import annotations

import logging
import os
import socket
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Iterator, Protocol, Sequence

from garay.data.dataset import Dataset
from garay.genome import Genome
from garay.train import Evaluation, TrainSettings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Task:
    """One genome to train. `key` is unique within a run; `seed` fixes its training."""

    key: str
    genome: Genome
    seed: int
    generation: int


@dataclass(frozen=True)
class Result:
    task: Task
    evaluation: Evaluation
    worker: str
    node_id: str | None = None
    gpu_ids: list = field(default_factory=list)
    cuda_visible_devices: str | None = None
    attempts: int = 1


class Evaluator(Protocol):
    """Trains submitted tasks and hands back results as they finish, in any order."""

    num_workers: int

    def submit(self, task: Task) -> None: ...

    def next_result(self) -> Result: ...

    @property
    def pending(self) -> int: ...

    def close(self) -> None: ...


def evaluate_all(evaluator: Evaluator, tasks: Sequence[Task]) -> Iterator[Result]:
    """Submit every task, then yield results the moment each finishes."""
    for task in tasks:
        evaluator.submit(task)
    for _ in range(len(tasks)):
        yield evaluator.next_result()


class _Trainer:
    """The dataset on one device plus the settings: what every worker holds."""

    def __init__(self, dataset: Dataset, settings: TrainSettings, threads: int, gpu_fraction: float | None = None):
        import torch

        from garay.train import DeviceData

        torch.set_num_threads(threads)
        device = "cuda" if torch.cuda.is_available() else "cpu"
        if device == "cuda" and gpu_fraction is not None and gpu_fraction < 1:
            # Several workers share this GPU: cap each at its share so one cannot starve the rest.
            torch.cuda.set_per_process_memory_fraction(gpu_fraction)
        self.device = device
        self.settings = settings
        self.data = DeviceData(dataset, device)

    def run(self, task: Task) -> Evaluation:
        from garay.train import train_and_score

        return train_and_score(task.genome, self.data, self.settings, self.device, task.seed)


class InProcessEvaluator:
    """Trains tasks one at a time in this process (`cluster.backend=inprocess`)."""

    def __init__(self, dataset: Dataset, settings: TrainSettings, *, threads: int = 1):
        self.num_workers = 1
        self._trainer = _Trainer(dataset, settings, threads)
        self._queue: deque[Task] = deque()

    def submit(self, task: Task) -> None:
        self._queue.append(task)

    @property
    def pending(self) -> int:
        return len(self._queue)

    def next_result(self) -> Result:
        task = self._queue.popleft()
        evaluation = self._trainer.run(task)
        return Result(task, evaluation, worker=f"inprocess@{socket.gethostname()}")

    def close(self) -> None:
        self._queue.clear()


def _worker_class() -> Any:
    import ray

    @ray.remote
    class EvalWorker:
        """A long-lived actor: loads the dataset onto its device once, then trains tasks."""

        def __init__(self, name: str, dataset: Dataset, settings: TrainSettings, threads: int, gpu_fraction: float | None):
            self.name = name
            self.trainer = _Trainer(dataset, settings, threads, gpu_fraction)

        def evaluate(self, task: Task) -> Result:
            ctx = ray.get_runtime_context()
            return Result(
                task,
                self.trainer.run(task),
                worker=self.name,
                node_id=ctx.get_node_id(),
                gpu_ids=[str(g) for g in ray.get_gpu_ids()],
                cuda_visible_devices=os.environ.get("CUDA_VISIBLE_DEVICES"),
            )

        def pid(self) -> int:
            return os.getpid()

    return EvalWorker


class RayEvaluator:
    """Ray actors, each with its resource request; tasks queue on the driver and go to
    whichever actor is free. An actor that dies has its task re-queued on a fresh actor
    up to `max_retries` times; then the task ends as `failed` with the reason."""

    def __init__(
        self,
        dataset: Dataset,
        settings: TrainSettings,
        *,
        num_workers: int | None = None,
        gpus_per_worker: float = 1.0,
        cpus_per_worker: int = 1,
        max_retries: int = 2,
    ):
        import ray

        self._ray = ray
        resources = ray.cluster_resources()
        gpus = float(resources.get("GPU", 0))
        cpus = float(resources.get("CPU", 1))
        self.gpus_per_worker = gpus_per_worker if gpus > 0 else 0.0
        if num_workers is None:
            if gpus > 0:
                num_workers = max(1, int(gpus / gpus_per_worker + 1e-9))
            else:
                num_workers = max(1, int(cpus // cpus_per_worker))
        self.num_workers = num_workers
        self.cpus_per_worker = cpus_per_worker
        self.max_retries = max_retries
        self._dataset_ref = ray.put(dataset)  # once; every actor reads it from the object store
        self._settings = settings
        self._cls = _worker_class()
        self._actors: list[Any] = [self._start_actor(i) for i in range(num_workers)]
        self._idle: deque[int] = deque(range(num_workers))
        self._queue: deque[tuple[Task, int]] = deque()
        self._in_flight: dict[Any, tuple[int, Task, int]] = {}
        self._restarts = 0
        log.info("started %d Ray workers (gpus_per_worker=%s, cpus_per_worker=%d)",
                 num_workers, self.gpus_per_worker, cpus_per_worker)

    def _start_actor(self, index: int) -> Any:
        gpu_fraction = self.gpus_per_worker if 0 < self.gpus_per_worker < 1 else None
        return self._cls.options(
            num_cpus=self.cpus_per_worker,
            num_gpus=self.gpus_per_worker,
            scheduling_strategy="SPREAD",
            name=None,
        ).remote(f"w{index}", self._dataset_ref, self._settings, self.cpus_per_worker, gpu_fraction)

    @property
    def actors(self) -> list[Any]:
        return list(self._actors)

    @property
    def pending(self) -> int:
        return len(self._queue) + len(self._in_flight)

    def submit(self, task: Task) -> None:
        self._queue.append((task, 1))
        self._dispatch()

    def _dispatch(self) -> None:
        while self._idle and self._queue:
            index = self._idle.popleft()
            task, attempt = self._queue.popleft()
            ref = self._actors[index].evaluate.remote(task)
            self._in_flight[ref] = (index, task, attempt)

    def next_result(self) -> Result:
        ray = self._ray
        while True:
            if not self._in_flight:
                raise RuntimeError("next_result called with nothing submitted")
            [ref], _ = ray.wait(list(self._in_flight), num_returns=1)
            index, task, attempt = self._in_flight.pop(ref)
            try:
                result = ray.get(ref)
            except (ray.exceptions.RayActorError, ray.exceptions.WorkerCrashedError,
                    ray.exceptions.OutOfMemoryError, ray.exceptions.ObjectLostError) as exc:
                reason = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
                log.warning("worker w%d died on genome %s (attempt %d): %s", index, task.genome.hash, attempt, reason)
                self._replace_actor(index)
                if attempt <= self.max_retries:
                    self._queue.appendleft((task, attempt + 1))
                    self._dispatch()
                    continue
                self._dispatch()
                return self._failed(task, attempt, f"worker died {attempt} times; last: {reason}")
            self._idle.append(index)
            self._dispatch()
            if attempt > 1:
                result = Result(result.task, result.evaluation, result.worker, result.node_id,
                                result.gpu_ids, result.cuda_visible_devices, attempt)
            return result

    def _failed(self, task: Task, attempts: int, reason: str) -> Result:
        evaluation = Evaluation(0.0, 0.0, 0.0, "failed", reason, 0.0, 0, 0)
        return Result(task, evaluation, worker="none", attempts=attempts)

    def _replace_actor(self, index: int) -> None:
        try:
            self._ray.kill(self._actors[index], no_restart=True)
        except Exception:  # noqa: BLE001 - it is already dead
            pass
        self._actors[index] = self._start_actor(index)
        self._restarts += 1
        self._idle.append(index)

    @property
    def restarts(self) -> int:
        return self._restarts

    def close(self) -> None:
        for actor in self._actors:
            try:
                self._ray.kill(actor)
            except Exception:  # noqa: BLE001
                pass
        self._actors.clear()

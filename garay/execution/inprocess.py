"""The in-process evaluator (`cluster.backend=inprocess`): one worker, this process."""

from __future__ import annotations

import socket
import time
from collections import deque
from dataclasses import replace

from garay.data.dataset import Dataset
from garay.execution.evaluation import TrainSettings
from garay.execution.protocol import Result, Task
from garay.execution.trainer import TorchTrainer, TrainerFactory, peak_rss_bytes, run_task


class InProcessEvaluator:
    """Trains tasks one at a time in this process (`cluster.backend=inprocess`)."""

    def __init__(self, dataset: Dataset, settings: TrainSettings, *, threads: int = 1,
                 trainer: TrainerFactory = TorchTrainer):
        self._trainer = trainer(dataset, settings, threads, None)
        self._queue: deque[Task] = deque()
        self._started = time.monotonic()

    @property
    def num_workers(self) -> int:
        return 1

    @property
    def most_workers(self) -> int:
        return 1

    def worker_seconds(self) -> float:
        """One worker, live since this evaluator was made."""
        return time.monotonic() - self._started

    def peak_memory(self) -> list[int | None]:
        """This process's peak (its trainer's own figure when it has one)."""
        peak = getattr(self._trainer, "peak_memory", None)  # a custom trainer need not say
        return [int(peak()) if callable(peak) else peak_rss_bytes()]

    def submit(self, task: Task) -> None:
        self._queue.append(task)

    def next_result(self, *, return_when_idle: bool = False) -> Result:
        task = self._queue.popleft()
        evaluation, state = run_task(self._trainer, task)
        return Result(replace(task, state=None), evaluation, worker=f"inprocess@{socket.gethostname()}", state=state)

    def close(self) -> None:
        self._queue.clear()

"""An evaluator over a tabular benchmark (garay.search.tabular): a query looks its point
up instead of training it, on `workers` simulated workers. Each takes the table's own
training time for the seed it drew, so results come back in the order real workers
would finish them, and worker seconds are the table's."""

from __future__ import annotations

import heapq
from collections import deque

from garay.execution.evaluation import Evaluation
from garay.execution.protocol import Result, Task
from garay.search.tabular import TabularSpace


class TabularEvaluator:
    """Evaluates tasks of `space` on `workers` simulated workers. A record's `fitness` and
    `val_accuracy` are the one observation; its `test_accuracy` is the point's seed-mean
    (never used to choose: what regret is measured on). Where the table's metric is not an
    accuracy (HPOLib), they are `val_metric` and `test_metric`, and the accuracies 0."""

    def __init__(self, space: TabularSpace, workers: int = 1):
        if workers < 1:
            raise ValueError(f"workers must be at least 1, got {workers}")
        self.space, self.workers = space, workers
        self.clock = 0.0  # simulated seconds since the start
        self.busy = 0.0  # simulated worker seconds spent
        self._waiting: deque[Task] = deque()
        self._running: list[tuple[float, int, Task, Evaluation]] = []  # a heap by finish time
        self._submitted = 0

    @property
    def num_workers(self) -> int:
        return self.workers

    @property
    def most_workers(self) -> int:
        return self.workers

    def worker_seconds(self) -> float:
        """Simulated: every worker live from the start to the last result."""
        return self.clock * self.workers

    def peak_memory(self) -> list[int | None]:
        return [None] * self.workers

    def submit(self, task: Task) -> None:
        self._waiting.append(task)
        self._start()

    def _start(self) -> None:
        while self._waiting and len(self._running) < self.workers:
            task = self._waiting.popleft()
            fitness, seconds = self.space.observe(task.genome, task.seed)
            mean = self.space.mean(task.genome)
            if self.space.metric == "val_acc":
                evaluation = Evaluation(fitness, fitness, mean, "ok", None, seconds, 0, 1)
            else:  # not an accuracy (HPOLib's negated loss): kept as the metric's values, never as "accuracy"
                evaluation = Evaluation(fitness, 0.0, 0.0, "ok", None, seconds, 0, 1, val_metric=fitness,
                                        test_metric=mean)
            self._submitted += 1
            heapq.heappush(self._running, (self.clock + seconds, self._submitted, task, evaluation))

    def next_result(self, *, return_when_idle: bool = False) -> Result:
        finish, _, task, evaluation = heapq.heappop(self._running)
        self.clock = max(self.clock, finish)
        self.busy += evaluation.seconds
        self._start()
        return Result(task, evaluation, worker="table")

    def close(self) -> None:
        self._waiting.clear()
        self._running.clear()

"""What the driver and the evaluators exchange: the task, the result, and the Evaluator
protocol (everything a caller of an evaluator reads). Implementations: the in-process
evaluator (garay.execution.inprocess) and the Ray evaluator (garay.execution.scheduler,
tasks, over garay.execution.pool, long-lived actors, one per GPU, a slice of one, or a CPU
share, that take the dataset from the object store once and keep it on their device)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterator, Protocol, Sequence

from garay.execution.evaluation import Evaluation
from garay.search.genome import Genome


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
    repeat: int = 0  # > 0: the genome's n-th re-evaluation (ga.reevaluate), with a seed of its own


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
    """Trains submitted tasks and hands back results as they finish, in any order. These
    are all that the driver, the run's summary and the API read of an evaluator."""

    @property
    def num_workers(self) -> int:
        """Workers live now (the pool may follow a cluster): how many tasks keep it busy."""
        ...

    @property
    def most_workers(self) -> int:
        """The most workers live at once so far."""
        ...

    def worker_seconds(self) -> float:
        """Seconds of live workers so far, summed over workers (utilisation's denominator)."""
        ...

    def peak_memory(self) -> list[int | None]:
        """Each live worker's peak memory in bytes (CUDA on a GPU, resident on CPUs; None
        where a worker does not answer)."""
        ...

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
        result = evaluator.next_result()
        assert result is not None  # None only with return_when_idle
        yield result

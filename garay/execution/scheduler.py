"""The Ray evaluator: a scheduler over a worker pool (garay.execution.pool).

The pool owns the actors and their health; this module owns the tasks: the queue, which
worker runs what, re-queueing a genome whose worker died, deadlines, and giving up when
nothing can run. Results stream back through `ray.wait` in the order they finish.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from dataclasses import dataclass, replace
from typing import Any

from garay.data.dataset import Dataset
from garay.execution.evaluation import Evaluation, TrainSettings
from garay.execution.pool import WorkerPool
from garay.execution.protocol import Result, Task
from garay.execution.trainer import TorchTrainer, TrainerFactory

log = logging.getLogger(__name__)


@dataclass
class _Flight:
    slot: int
    task: Task
    attempt: int
    started: float
    state: Any = None  # the ref of the state the task returns


class RayEvaluator:
    """Tasks queue on the driver and go to whichever worker of the pool is idle.

    Faults: when a worker dies (process killed, out of memory, node lost) its task is
    re-queued, on a live worker or the slot's replacement, up to `max_retries` times, then
    ends as `failed` with the reason. A task running past `hard_timeout_s` has its worker
    replaced and ends as `timeout` (training itself stops at `train.timeout_s`, checked per
    epoch; the hard limit catches an epoch that never ends). With tasks waiting and no
    worker placed for `start_timeout_s`, the run stops with the cluster's resources.
    """

    def __init__(
        self,
        dataset: Dataset,
        settings: TrainSettings,
        *,
        num_workers: int | None = None,
        gpus_per_worker: float = 1.0,
        cpus_per_worker: int = 1,
        max_retries: int = 2,
        trainer: TrainerFactory = TorchTrainer,
        start_timeout_s: float = 600.0,
        hard_timeout_s: float | None = None,
        require_gpus: bool = False,
    ):
        import ray

        self._ray = ray
        self.pool = WorkerPool(dataset, settings, num_workers=num_workers, gpus_per_worker=gpus_per_worker,
                               cpus_per_worker=cpus_per_worker, trainer=trainer, require_gpus=require_gpus)
        self.max_retries = max_retries
        self.start_timeout_s = start_timeout_s
        if hard_timeout_s is None and settings.timeout_s is not None:
            # train.timeout_s bounds each training; an evaluation holds one per validation
            # round and repeat. 1.25: room for the epoch in progress.
            trainings = settings.repeats * (1 + len(dataset.rounds))
            hard_timeout_s = settings.timeout_s * trainings * 1.25 + 10
        self.hard_timeout_s = hard_timeout_s
        self._settings = settings
        self._queue: deque[tuple[Task, int]] = deque()
        self._in_flight: dict[Any, _Flight] = {}
        self._waiting_since = time.monotonic()

    # --- the pool, as the rest of garay sees it -------------------------------------

    @property
    def num_workers(self) -> int:
        """Live workers: what the driver keeps busy, and what the summary reports."""
        return self.pool.live

    @property
    def most_workers(self) -> int:
        """The most workers live at once."""
        return self.pool.max_live

    def worker_seconds(self) -> float:
        return self.pool.worker_seconds()

    def wait_ready(self, timeout_s: float | None = None) -> list[dict[str, Any]]:
        """Block until every worker has started; return where each one landed (the pool's
        own waits are garay.execution.startup's)."""
        from garay.execution.startup import wait_started

        slots = len(self.pool.slots)
        if wait_started(self.pool, timeout_s) < slots:
            raise TimeoutError(f"{slots - self.pool.live} Ray workers did not start in {timeout_s} s")
        return self.pool.placements

    # --- tasks ----------------------------------------------------------------------

    def submit(self, task: Task) -> None:
        if not self._in_flight and not self._queue:
            self._waiting_since = time.monotonic()  # the stall clock starts with work to do
        self._queue.append((task, 1))
        self._dispatch()

    def _dispatch(self) -> None:
        while self._queue and self.pool.idle:
            slot = self.pool.take()
            task, attempt = self._queue.popleft()
            ref, state = self.pool.slots[slot].actor.evaluate.options(num_returns=2).remote(task)
            self._in_flight[ref] = _Flight(slot, task, attempt, time.monotonic(), state)

    def next_result(self, *, return_when_idle: bool = False) -> Result | None:
        """The next task to finish, whichever it is; meanwhile the pool follows the cluster.
        With `return_when_idle`, None as soon as a worker that just started finds nothing
        queued (a node joined: the async driver breeds work for it at once)."""
        ray = self._ray
        while True:
            if not self._in_flight and not self._queue:
                raise RuntimeError("next_result called with nothing submitted")
            self.pool.tick()
            self._dispatch()
            self._check_stalled()
            timed_out = self._check_deadlines()
            if timed_out is not None:
                return timed_out
            refs = list(self._in_flight) + list(self.pool.starting)
            if not refs:  # every worker waits out a backoff
                time.sleep(0.2)
                continue
            ready, _ = ray.wait(refs, num_returns=1, timeout=1.0)
            if not ready:
                continue
            ref = ready[0]
            if ref in self.pool.starting:
                self.pool.on_ready(ref)
                if return_when_idle and self.pool.idle and not self._queue:
                    return None
                continue
            flight = self._in_flight.pop(ref)
            try:
                result: Result = ray.get(ref)
            except (ray.exceptions.RayActorError, ray.exceptions.WorkerCrashedError,
                    ray.exceptions.ObjectLostError, ray.exceptions.OutOfMemoryError,
                    ray.exceptions.NodeDiedError) as exc:
                failed = self._on_worker_lost(flight, exc)
                if failed is not None:
                    return failed
                continue
            except ray.exceptions.RayTaskError as exc:  # raised in the actor outside the trainer
                return self._on_task_error(flight, exc)
            except ray.exceptions.RayError as exc:  # any other failure of Ray's: never lose the task
                failed = self._on_worker_lost(flight, exc)
                if failed is not None:
                    return failed
                continue
            self.pool.release(flight.slot)
            self._dispatch()
            self._waiting_since = time.monotonic()
            # Only a training paused at a rung has a state worth keeping; dropping the
            # ref otherwise frees it from the object store.
            paused = (result.evaluation.status == "ok" and flight.task.epochs is not None
                      and flight.task.epochs < self._settings.epochs)
            return replace(result, attempts=flight.attempt, state=flight.state if paused else None)

    def _on_task_error(self, flight: _Flight, exc: Exception) -> Result:
        """An exception raised in the actor outside the trainer: that genome fails; the
        actor lives on."""
        self.pool.release(flight.slot)
        self._dispatch()
        cause = exc.cause if getattr(exc, "cause", None) is not None else exc
        last = (str(cause).strip().splitlines() or [""])[-1]
        error = f"{type(cause).__name__} in the worker: {last}"[:500]
        return Result(replace(flight.task, state=None), Evaluation.unfinished("failed", error),
                      worker=self.pool.slots[flight.slot].name, attempts=flight.attempt)

    def _on_worker_lost(self, flight: _Flight, exc: Exception) -> Result | None:
        """Replace the worker; re-queue its task at the front, or fail it after max_retries."""
        text = str(exc).strip().splitlines()
        reason = f"{type(exc).__name__}: {text[0] if text else ''}"[:300]
        name = self.pool.slots[flight.slot].name
        log.warning("worker %s was lost on genome %s (attempt %d): %s", name, flight.task.genome.hash,
                    flight.attempt, reason)
        self.pool.lost(flight.slot)
        self.pool.replace_idle_on_lost_nodes()
        if flight.attempt <= self.max_retries:
            self._queue.appendleft((flight.task, flight.attempt + 1))
            self._dispatch()
            return None
        self._dispatch()
        error = f"worker lost {flight.attempt} times (cluster.max_retries={self.max_retries}); last: {reason}"
        return Result(replace(flight.task, state=None), Evaluation.unfinished("failed", error), worker=name,
                      attempts=flight.attempt)

    def _check_deadlines(self) -> Result | None:
        if self.hard_timeout_s is None:
            return None
        now = time.monotonic()
        for ref, flight in list(self._in_flight.items()):
            if now - flight.started > self.hard_timeout_s:
                del self._in_flight[ref]
                name = self.pool.slots[flight.slot].name
                log.warning("genome %s ran past %.0f s on %s; replacing that worker",
                            flight.task.genome.hash, self.hard_timeout_s, name)
                self.pool.lost(flight.slot)
                self._dispatch()
                error = f"no result within {self.hard_timeout_s:.0f} s (train.timeout_s={self._settings.timeout_s})"
                return Result(replace(flight.task, state=None), Evaluation.unfinished("timeout", error, now - flight.started),
                              worker=name, attempts=flight.attempt)
        return None

    def _check_stalled(self) -> None:
        """Tasks waiting, nothing running, no worker idle: only workers that the cluster
        cannot place (a lost node not back yet). Give up after start_timeout_s."""
        if self._in_flight or self.pool.idle or not self._queue:
            self._waiting_since = time.monotonic()
            return
        if time.monotonic() - self._waiting_since > self.start_timeout_s:
            raise RuntimeError(f"no Ray worker could be placed for {self.start_timeout_s:.0f} s; "
                               f"cluster resources: {self._ray.cluster_resources()}")

    def peak_memory(self, timeout_s: float = 30.0) -> list[int | None]:
        """Peak CUDA memory of each live worker (0 on CPU; None when it does not answer)."""
        return self.pool.call("peak_memory", timeout_s)

    def close(self) -> None:
        self.pool.close()

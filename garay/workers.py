"""Evaluators: who trains the genomes.

An in-process evaluator, and a Ray evaluator whose long-lived actors (one per GPU, a slice
of one, or a CPU share) take the dataset from the object store once, keep it on their
device for the whole run, and stream results back through `ray.wait`.
"""

from __future__ import annotations

import logging
import os
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

    def next_result(self) -> Result: ...

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
        import torch

        return int(torch.cuda.max_memory_allocated()) if self.device == "cuda" else 0


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

    def next_result(self) -> Result:
        task = self._queue.popleft()
        evaluation, state = run_task(self._trainer, task)
        return Result(replace(task, state=None), evaluation, worker=f"inprocess@{socket.gethostname()}", state=state)

    def close(self) -> None:
        self._queue.clear()


def _worker_class() -> Any:
    import ray

    @ray.remote(max_restarts=0)
    class EvalWorker:
        """A long-lived actor: loads the dataset onto its device once, then trains tasks."""

        def __init__(self, name: str, dataset: Dataset, settings: TrainSettings, threads: int,
                     gpu_fraction: float | None, trainer: TrainerFactory):
            self.name = name
            self.trainer = trainer(dataset, settings, threads, gpu_fraction)

        def ready(self) -> dict[str, Any]:
            """Where this actor landed: node, GPU ids, CUDA_VISIBLE_DEVICES, pid."""
            return {
                "name": self.name,
                "node_id": ray.get_runtime_context().get_node_id(),
                "gpu_ids": [str(g) for g in ray.get_gpu_ids()],
                "cuda_visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES"),
                "pid": os.getpid(),
            }

        def evaluate(self, task: Task) -> tuple[Result, Any]:
            """(the result, the state to continue from): two return objects, so that the
            state stays in the object store and only its ref reaches the driver."""
            info = self.ready()
            state = None
            if task.state is not None:
                try:
                    state = ray.get(task.state, timeout=60)
                except Exception as exc:  # noqa: BLE001 - lost with its node: train from the seed
                    logging.getLogger(__name__).warning("state of %s lost (%s); training it again from its seed",
                                                        task.genome.hash, type(exc).__name__)
            evaluation, new_state = run_task(self.trainer, replace(task, state=state))
            return (Result(replace(task, state=None), evaluation, worker=self.name, node_id=info["node_id"],
                           gpu_ids=info["gpu_ids"], cuda_visible_devices=info["cuda_visible_devices"]), new_state)

        def peak_memory(self) -> int:
            return self.trainer.peak_memory() if hasattr(self.trainer, "peak_memory") else 0

    return EvalWorker


@dataclass
class _Flight:
    slot: int
    task: Task
    attempt: int
    started: float
    state: Any = None  # the ref of the state the task returns


class RayEvaluator:
    """A pool of Ray actors; tasks queue on the driver and go to whichever actor is ready.

    Faults: when an actor dies (process killed, out of memory, node lost) its task is
    re-queued, on a live actor or the slot's restarted one, up to `max_retries` times, then
    ends as `failed` with the reason. A task running past `hard_timeout_s` has its actor
    killed and ends as `timeout` (training itself stops at `train.timeout_s`, checked per
    epoch; the hard limit catches an epoch that never ends).
    """

    MAX_START_FAILURES = 3  # a slot whose actor fails to start this often in a row is dropped

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
    ):
        import ray

        self._ray = ray
        resources = ray.cluster_resources()
        gpus, cpus = float(resources.get("GPU", 0)), float(resources.get("CPU", 1))
        self.gpus_per_worker = gpus_per_worker if gpus > 0 else 0.0
        if num_workers is None:
            num_workers = int(gpus / gpus_per_worker + 1e-9) if gpus > 0 else int(cpus // cpus_per_worker)
        self.num_workers = max(1, num_workers)
        self.cpus_per_worker = cpus_per_worker
        self.max_retries = max_retries
        self.start_timeout_s = start_timeout_s
        if hard_timeout_s is None and settings.timeout_s is not None:
            # train.timeout_s bounds each training; an evaluation holds one per validation
            # round and repeat. 1.25: room for the epoch in progress.
            trainings = settings.repeats * (1 + len(dataset.rounds))
            hard_timeout_s = settings.timeout_s * trainings * 1.25 + 10
        self.hard_timeout_s = hard_timeout_s
        self._trainer = trainer
        self._settings = settings
        self._dataset_ref = ray.put(dataset)  # once; every actor reads it from the object store
        self._cls = _worker_class()
        self._actors: list[Any] = [None] * self.num_workers
        self._starting: dict[Any, int] = {}  # ready() ref -> slot
        self._placement: dict[int, dict[str, Any]] = {}
        self._idle: deque[int] = deque()
        self._queue: deque[tuple[Task, int]] = deque()
        self._in_flight: dict[Any, _Flight] = {}
        self._waiting_since = time.monotonic()
        self._start_failures: dict[int, int] = {}
        self._given_up: set[int] = set()
        self.restarts = 0
        for slot in range(self.num_workers):
            self._start(slot)
        log.info("starting %d Ray workers (gpus_per_worker=%s, cpus_per_worker=%d)",
                 self.num_workers, self.gpus_per_worker, cpus_per_worker)

    # --- actors ---------------------------------------------------------------------

    def _start(self, slot: int) -> None:
        gpu_fraction = self.gpus_per_worker if 0 < self.gpus_per_worker < 1 else None
        actor = self._cls.options(
            num_cpus=self.cpus_per_worker, num_gpus=self.gpus_per_worker, scheduling_strategy="SPREAD",
        ).remote(f"w{slot}", self._dataset_ref, self._settings, self.cpus_per_worker, gpu_fraction, self._trainer)
        self._actors[slot] = actor
        self._starting[actor.ready.remote()] = slot

    def _restart(self, slot: int) -> None:
        try:
            self._ray.kill(self._actors[slot], no_restart=True)
        except Exception:  # noqa: BLE001 - it is already gone
            pass
        self._placement.pop(slot, None)
        self.restarts += 1
        self._start(slot)

    def wait_ready(self, timeout_s: float | None = None) -> list[dict[str, Any]]:
        """Block until every actor has started; return where each one landed."""
        self.wait_started(timeout_s)
        if self._starting:
            raise TimeoutError(f"{len(self._starting)} Ray workers did not start in {timeout_s} s")
        return self.placements

    def wait_started(self, timeout_s: float | None) -> int:
        """Wait until every actor has started or `timeout_s` has passed (None: no limit);
        return how many have. A run begins here so that its first generation spreads over
        every worker (tasks go only to started actors); late ones join as they start."""
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        while self._starting:
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                break
            ready, _ = self._ray.wait(list(self._starting), num_returns=1, timeout=left)
            if ready:
                self._on_started(ready[0])
        return len(self._placement)

    def _on_started(self, ref: Any) -> None:
        slot = self._starting.pop(ref)
        try:
            self._placement[slot] = self._ray.get(ref)
            self._idle.append(slot)
            self._start_failures[slot] = 0
        except self._ray.exceptions.RayError as exc:
            self._start_failures[slot] = self._start_failures.get(slot, 0) + 1
            first = str(exc).strip().splitlines()
            log.warning("worker w%d failed to start (%d in a row): %s", slot, self._start_failures[slot],
                        first[0] if first else type(exc).__name__)
            if self._start_failures[slot] >= self.MAX_START_FAILURES:
                log.error("giving up on worker slot w%d", slot)  # the other slots carry on
                self._given_up.add(slot)
                return
            self.restarts += 1
            self._start(slot)

    @property
    def gave_up(self) -> bool:
        """Every slot failed to start MAX_START_FAILURES times in a row."""
        return len(self._given_up) == self.num_workers

    @property
    def placements(self) -> list[dict[str, Any]]:
        return [self._placement[s] for s in sorted(self._placement)]

    @property
    def actors(self) -> list[Any]:
        return list(self._actors)

    # --- tasks ----------------------------------------------------------------------

    def submit(self, task: Task) -> None:
        self._queue.append((task, 1))
        self._dispatch()

    def _dispatch(self) -> None:
        while self._idle and self._queue:
            slot = self._idle.popleft()
            task, attempt = self._queue.popleft()
            ref, state = self._actors[slot].evaluate.options(num_returns=2).remote(task)
            self._in_flight[ref] = _Flight(slot, task, attempt, time.monotonic(), state)

    def next_result(self) -> Result:
        ray = self._ray
        while True:
            if not self._in_flight and not self._queue:
                raise RuntimeError("next_result called with nothing submitted")
            if not self._in_flight and not self._starting and not self._idle:
                raise RuntimeError("no Ray worker is alive or starting")
            self._check_stalled()
            timed_out = self._check_deadlines()
            if timed_out is not None:
                return timed_out
            refs = list(self._in_flight) + list(self._starting)
            ready, _ = ray.wait(refs, num_returns=1, timeout=1.0)
            if not ready:
                continue
            ref = ready[0]
            if ref in self._starting:
                self._on_started(ref)
                self._dispatch()
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
                self._idle.append(flight.slot)  # the actor lives on
                self._dispatch()
                cause = exc.cause if getattr(exc, "cause", None) is not None else exc
                last = (str(cause).strip().splitlines() or [""])[-1]
                error = f"{type(cause).__name__} in the worker: {last}"[:500]
                return Result(replace(flight.task, state=None), Evaluation.unfinished("failed", error),
                              worker=f"w{flight.slot}", attempts=flight.attempt)
            self._idle.append(flight.slot)
            self._dispatch()
            self._waiting_since = time.monotonic()
            # Only a training paused at a rung has a state worth keeping; dropping the
            # ref otherwise frees it from the object store.
            paused = (result.evaluation.status == "ok" and flight.task.epochs is not None
                      and flight.task.epochs < self._settings.epochs)
            return replace(result, attempts=flight.attempt, state=flight.state if paused else None)

    def _on_worker_lost(self, flight: _Flight, exc: Exception) -> Result | None:
        text = str(exc).strip().splitlines()
        reason = f"{type(exc).__name__}: {text[0] if text else ''}"[:300]
        log.warning("worker w%d was lost on genome %s (attempt %d): %s",
                    flight.slot, flight.task.genome.hash, flight.attempt, reason)
        self._restart_idle_on_dead_node(self._placement.get(flight.slot, {}).get("node_id"))
        self._restart(flight.slot)
        if flight.attempt <= self.max_retries:
            self._queue.appendleft((flight.task, flight.attempt + 1))
            self._dispatch()
            return None
        self._dispatch()
        error = f"worker lost {flight.attempt} times (cluster.max_retries={self.max_retries}); last: {reason}"
        return Result(replace(flight.task, state=None), Evaluation.unfinished("failed", error), worker=f"w{flight.slot}",
                      attempts=flight.attempt)

    def _restart_idle_on_dead_node(self, node_id: str | None) -> None:
        """When a worker's node is gone, its idle neighbours are gone too: restart them now,
        so no task is sent to a dead actor and spends one of its retries there."""
        if node_id is None:
            return
        alive = {n["NodeID"] for n in self._ray.nodes() if n.get("Alive")}
        if node_id in alive:
            return
        for slot in [s for s in self._idle if self._placement.get(s, {}).get("node_id") == node_id]:
            self._idle.remove(slot)
            log.warning("worker w%d was on lost node %s; restarting it", slot, node_id[:8])
            self._restart(slot)

    def _check_deadlines(self) -> Result | None:
        if self.hard_timeout_s is None:
            return None
        now = time.monotonic()
        for ref, flight in list(self._in_flight.items()):
            if now - flight.started > self.hard_timeout_s:
                del self._in_flight[ref]
                log.warning("genome %s ran past %.0f s on w%d; restarting that worker",
                            flight.task.genome.hash, self.hard_timeout_s, flight.slot)
                self._restart(flight.slot)
                self._dispatch()
                error = f"no result within {self.hard_timeout_s:.0f} s (train.timeout_s={self._settings.timeout_s})"
                return Result(replace(flight.task, state=None), Evaluation.unfinished("timeout", error, now - flight.started),
                              worker=f"w{flight.slot}", attempts=flight.attempt)
        return None

    def _check_stalled(self) -> None:
        """Tasks waiting, nothing running, nothing ready: only starting actors that the
        cluster cannot place (a lost node). Give up after start_timeout_s."""
        if self._in_flight or self._idle or not self._queue:
            self._waiting_since = time.monotonic()
            return
        if time.monotonic() - self._waiting_since > self.start_timeout_s:
            raise RuntimeError(f"no Ray worker could be placed for {self.start_timeout_s:.0f} s; "
                               f"cluster resources: {self._ray.cluster_resources()}")

    def peak_memory(self, timeout_s: float = 30.0) -> list[int | None]:
        """Peak CUDA memory of each started actor (0 on CPU; None when it does not answer)."""
        out: list[int | None] = []
        for slot in sorted(self._placement):
            try:
                out.append(self._ray.get(self._actors[slot].peak_memory.remote(), timeout=timeout_s))
            except (self._ray.exceptions.RayError, TimeoutError):
                out.append(None)
        return out

    def close(self) -> None:
        for actor in self._actors:
            try:
                self._ray.kill(actor)
            except Exception:  # noqa: BLE001
                pass
        self._actors = []

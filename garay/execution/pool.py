"""The worker pool: long-lived Ray actors that train genomes, where they run, their health,
and how the pool follows the cluster as nodes join and leave.

The pool is a list of slots. A slot is one worker's place; its actor is either starting
(waiting for the cluster to place it: also the demand the Ray autoscaler or KubeRay acts
on), started (idle or busy), or waiting out a backoff after it failed to start. Slots are
never dropped: a worker lost with its node is started again at once and waits, pending,
until the cluster can place it, so a node that comes back (or a new one) is used again.
With `num_workers=None` the pool also grows: whenever the live nodes hold more workers
than it has slots, it adds slots, and their actors land on the new capacity.
"""

from __future__ import annotations

import logging
import os
import time
from collections import deque
from dataclasses import dataclass
from typing import Any

from garay.errors import ConfigError
from garay.data.dataset import Dataset
from garay.execution.evaluation import TrainSettings
from garay.execution.protocol import Result, Task
from garay.execution.trainer import TorchTrainer, TrainerFactory, run_task

log = logging.getLogger(__name__)


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
            """Where this actor landed: node, GPU ids, CUDA_VISIBLE_DEVICES, pid, and the
            device its trainer trains on (None when the trainer does not say)."""
            return {
                "name": self.name,
                "node_id": ray.get_runtime_context().get_node_id(),
                "gpu_ids": [str(g) for g in ray.get_gpu_ids()],
                "cuda_visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES"),
                "pid": os.getpid(),
                "device": getattr(self.trainer, "device", None),
            }

        def evaluate(self, task: Task) -> tuple[Result, Any]:
            """(the result, the state to continue from): two return objects, so that the
            state stays in the object store and only its ref reaches the driver."""
            from dataclasses import replace

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
class Slot:
    """One worker's place in the pool."""

    name: str
    actor: Any = None
    placement: dict[str, Any] | None = None  # where its actor landed, once started
    failures: int = 0  # failed starts in a row
    retry_at: float | None = None  # in backoff: when to start it again
    live_since: float | None = None  # started and not known lost since then


class WorkerPool:
    """Ray actors for a run: started, placed, watched and replaced.

    `take()` lends an idle worker to the scheduler and `release()` takes it back; `lost()`
    replaces one that died. `tick()`, called often by the scheduler, starts slots whose
    backoff is over, replaces idle workers whose node is gone, and grows the pool.
    """

    MAX_START_FAILURES = 3  # every slot failing this often in a row, none started: the cluster refuses us
    # Beginning before every worker started: once no free place for another is left, the
    # workers already placed get this long to come up (the nodes' use by others is unknown).
    SETTLE_S = 30.0
    BACKOFF_S = (1.0, 60.0)  # the first and the longest wait before a failed slot starts again
    POLL_S = 2.0  # how often the cluster is asked about lost nodes and new capacity

    def __init__(self, dataset: Dataset, settings: TrainSettings, *, num_workers: int | None = None,
                 gpus_per_worker: float = 1.0, cpus_per_worker: int = 1, trainer: TrainerFactory = TorchTrainer,
                 require_gpus: bool = False):
        import ray

        self._ray = ray
        gpus = float(ray.cluster_resources().get("GPU", 0))
        # A cluster without GPUs trains on CPUs, unless GPUs are required: then the
        # workers wait, pending, for GPU nodes (which is what asks an autoscaler for them).
        self.gpus_per_worker = gpus_per_worker if gpus > 0 or require_gpus else 0.0
        if not gpus:
            log.warning("the cluster has no GPU: %s", "workers wait for GPU nodes (cluster.require_gpus=true)"
                        if require_gpus else "workers train on CPUs, also on GPU nodes that join later "
                                             "(cluster.require_gpus=true waits for GPUs instead)")
        self.cpus_per_worker = cpus_per_worker
        self.require_gpus = require_gpus
        self.elastic = num_workers is None
        self.slots: list[Slot] = []
        self.idle: deque[int] = deque()
        self.starting: dict[Any, int] = {}  # ready() ref -> slot
        self.restarts = 0
        self.max_live = 0
        self._ended_seconds = 0.0  # worker-seconds of lives that have ended
        self._polled = time.monotonic()
        self._settings, self._trainer = settings, trainer
        self._dataset_ref = ray.put(dataset)  # once; every actor reads it from the object store
        self._cls = _worker_class()
        for _ in range(num_workers if num_workers is not None else max(1, self.capacity())):
            self._add()
        log.info("starting %d Ray workers (gpus_per_worker=%s, cpus_per_worker=%d%s)", len(self.slots),
                 self.gpus_per_worker, cpus_per_worker, "; more as the cluster grows" if self.elastic else "")

    # --- size and health ------------------------------------------------------------

    def capacity(self) -> int:
        """Workers the cluster's live nodes hold at this pool's resources per worker."""
        resources = self._ray.cluster_resources()
        if self.gpus_per_worker > 0:
            return int(float(resources.get("GPU", 0)) / self.gpus_per_worker + 1e-9)
        return int(float(resources.get("CPU", 0)) // self.cpus_per_worker)

    @property
    def live(self) -> int:
        """Workers started and not known to be lost."""
        return sum(s.placement is not None for s in self.slots)

    @property
    def backing_off(self) -> int:
        return sum(s.retry_at is not None for s in self.slots)

    @property
    def gave_up(self) -> bool:
        """Every slot failed to start MAX_START_FAILURES times in a row and none is live:
        the cluster refuses our actors (e.g. the wrong authentication mode)."""
        return not self.live and all(s.failures >= self.MAX_START_FAILURES for s in self.slots)

    def worker_seconds(self) -> float:
        """Seconds of live workers, summed over workers: the denominator of utilisation."""
        now = time.monotonic()
        return self._ended_seconds + sum(now - s.live_since for s in self.slots if s.live_since is not None)

    @property
    def placements(self) -> list[dict[str, Any]]:
        return [s.placement for s in self.slots if s.placement is not None]

    def tick(self) -> None:
        """Start slots whose backoff is over; every POLL_S, replace idle workers whose node
        is gone and (num_workers=None) add slots for capacity the cluster has gained."""
        now = time.monotonic()
        for i, slot in enumerate(self.slots):
            if slot.retry_at is not None and now >= slot.retry_at:
                self.restarts += 1
                self._start(i)
        if now - self._polled < self.POLL_S:
            return
        self._polled = now
        self.replace_idle_on_lost_nodes()
        if self.elastic:
            grow = self.capacity() - len(self.slots)
            if grow > 0:
                log.info("the cluster grew: adding %d Ray workers to the %d there are", grow, len(self.slots))
                for _ in range(grow):
                    self._add()

    def replace_idle_on_lost_nodes(self) -> None:
        """Idle workers on a node that is gone are gone too: replace them now, so that no
        task is sent to a dead actor and spends one of its retries there."""
        alive = {n["NodeID"] for n in self._ray.nodes() if n.get("Alive")}
        for i in [i for i in self.idle if self.slots[i].placement["node_id"] not in alive]:
            log.warning("worker %s was on lost node %s; replacing it", self.slots[i].name,
                        self.slots[i].placement["node_id"][:8])
            self.lost(i)

    # --- actors ---------------------------------------------------------------------

    def _add(self) -> None:
        self.slots.append(Slot(f"w{len(self.slots)}"))
        self._start(len(self.slots) - 1)

    def _start(self, i: int) -> None:
        slot = self.slots[i]
        gpu_fraction = self.gpus_per_worker if 0 < self.gpus_per_worker < 1 else None
        slot.actor = self._cls.options(
            num_cpus=self.cpus_per_worker, num_gpus=self.gpus_per_worker, scheduling_strategy="SPREAD",
        ).remote(slot.name, self._dataset_ref, self._settings, self.cpus_per_worker, gpu_fraction, self._trainer)
        slot.retry_at = None
        self.starting[slot.actor.ready.remote()] = i

    def _end_life(self, slot: Slot) -> None:
        if slot.live_since is not None:
            self._ended_seconds += time.monotonic() - slot.live_since
        slot.live_since = None
        slot.placement = None

    def on_ready(self, ref: Any) -> None:
        """A starting actor answered: it is idle now, or its start failed and the slot
        waits out a backoff (1 s, doubling, at most 60 s) before it starts again."""
        i = self.starting.pop(ref)
        slot = self.slots[i]
        try:
            placement = self._ray.get(ref)
        except self._ray.exceptions.RayError as exc:
            slot.failures += 1
            wait = min(self.BACKOFF_S[1], self.BACKOFF_S[0] * 2 ** (slot.failures - 1))
            first = str(exc).strip().splitlines()
            log.warning("worker %s failed to start (%d in a row; trying again in %.0f s): %s", slot.name,
                        slot.failures, wait, first[0] if first else type(exc).__name__)
            self._kill(slot)
            slot.retry_at = time.monotonic() + wait
            return
        self._check_device(placement)
        slot.placement, slot.failures, slot.live_since = placement, 0, time.monotonic()
        self.idle.append(i)
        self.max_live = max(self.max_live, self.live)

    def _check_device(self, placement: dict[str, Any]) -> None:
        """cluster.require_gpus: a worker given a GPU must train on it."""
        if self.require_gpus and placement.get("device") not in (None, "cuda"):
            raise ConfigError(
                "cluster.require_gpus",
                f"worker {placement['name']} on node {placement['node_id'][:8]} holds GPU ids {placement['gpu_ids']} "
                f"but its trainer runs on {placement['device']!r}: torch there sees no CUDA device (a CPU build of "
                "torch, or no driver); install a CUDA build there, or set cluster.require_gpus=false")

    def lost(self, i: int) -> None:
        """Slot i's actor died (or hangs): kill it and start another, which waits for the
        cluster to place it."""
        slot = self.slots[i]
        self._kill(slot)
        self._end_life(slot)
        if i in self.idle:
            self.idle.remove(i)
        self.restarts += 1
        self._start(i)

    def _kill(self, slot: Slot) -> None:
        try:
            self._ray.kill(slot.actor, no_restart=True)
        except Exception:  # noqa: BLE001 - it is already gone
            pass

    def take(self) -> int | None:
        """An idle worker's slot, lent to the scheduler (None: none is idle)."""
        return self.idle.popleft() if self.idle else None

    def release(self, i: int) -> None:
        """Slot i's worker finished its task and lives: idle again."""
        self.idle.append(i)

    def call(self, name: str, timeout_s: float) -> list[Any]:
        """`name()` on every live actor (None where one does not answer)."""
        out: list[Any] = []
        for slot in self.slots:
            if slot.placement is None:
                continue
            try:
                out.append(self._ray.get(getattr(slot.actor, name).remote(), timeout=timeout_s))
            except (self._ray.exceptions.RayError, TimeoutError):
                out.append(None)
        return out

    def close(self) -> None:
        for slot in self.slots:
            self._kill(slot)
            self._end_life(slot)
        self.idle.clear()
        self.starting.clear()

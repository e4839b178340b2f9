"""Before a run begins on the Ray pool: how many workers the cluster's nodes can hold, and
the waits for workers to start, saying every few seconds what they wait for."""

from __future__ import annotations

import logging
import time

import ray

from garay.execution.pool import WorkerPool

log = logging.getLogger("garay.execution.pool")


def places(pool: WorkerPool, available: bool = False) -> int:
    """Workers the live nodes can hold, node by node (a worker needs its CPUs and GPUs
    on one node): of their total resources, or with `available` of what is free now."""
    from ray._private import state

    if available:
        per_node = list(state.available_resources_per_node().values())
    else:
        per_node = [n.get("Resources", {}) for n in ray.nodes() if n.get("Alive")]
    total = 0
    for res in per_node:
        fit = float(res.get("CPU", 0)) // pool.cpus_per_worker
        if pool.gpus_per_worker > 0:
            fit = min(fit, int(float(res.get("GPU", 0)) / pool.gpus_per_worker + 1e-9))
        total += int(fit)
    return total


def needs(pool: WorkerPool) -> str:
    """What one worker asks of a node, in words."""
    gpus = f", {pool.gpus_per_worker:g} GPU" if pool.gpus_per_worker > 0 else ""
    return f"{pool.cpus_per_worker} CPU{gpus}"


def wait_started(pool: WorkerPool, timeout_s: float | None, min_workers: int | None = None, *,
                 stop_when_refused: bool = False) -> int:
    """Wait until every slot has started (or `min_workers` have, when given: a pool that
    follows the cluster waits for nodes to join), or `timeout_s` has passed (None: no
    limit); with `stop_when_refused`, also when every slot has failed to start
    MAX_START_FAILURES times in a row (`gave_up`). Return how many are live."""
    deadline = None if timeout_s is None else time.monotonic() + timeout_s

    def waiting() -> bool:
        if min_workers is not None:
            return pool.live < min_workers
        return bool(pool.starting or pool.backing_off)

    while waiting():
        if stop_when_refused and pool.gave_up:
            break
        left = None if deadline is None else deadline - time.monotonic()
        if left is not None and left <= 0:
            break
        step = 1.0 if left is None else min(left, 1.0)
        if pool.starting:
            ready, _ = ray.wait(list(pool.starting), num_returns=1, timeout=step)
            for ref in ready:
                pool.on_ready(ref)
        else:
            time.sleep(min(step, 0.2))  # every slot in backoff, or waiting for the cluster to grow
        pool.tick()
    return pool.live


def wait_to_begin(pool: WorkerPool, timeout_s: float, min_workers: int | None = None, *,
                  stop_when_refused: bool = False) -> int:
    """Wait until the run can begin; how many workers are live then. With
    `min_workers`: until that many are live. Without: until every slot has started, or
    at least one has and the rest cannot be placed now (the live nodes hold no more
    workers of this size; or no free place is left and nothing started for SETTLE_S,
    as when other jobs hold the nodes): they join when the cluster places them. At
    most `timeout_s`; with `stop_when_refused`, not past `gave_up`. Says every
    HEARTBEAT_S what it waits for, and once more when it ends unmet."""
    from garay.progress import HEARTBEAT_S

    start = time.monotonic()
    deadline, said = start + timeout_s, start
    last_start, live = start, 0

    def ready() -> bool:
        if min_workers is not None:
            return pool.live >= min_workers
        if not (pool.starting or pool.backing_off):
            return True
        if not pool.live:
            return False
        if pool.live >= min(len(pool.slots), places(pool)):
            return True  # the others need nodes the cluster does not have (yet)
        return places(pool, available=True) == 0 and time.monotonic() - last_start >= pool.SETTLE_S

    while not ready():
        now = time.monotonic()
        if now >= deadline or (stop_when_refused and pool.gave_up):
            # Said whenever a wait ends unmet, however soon: what it waited for.
            log.info("waiting for Ray workers ended after %.0f s: %d of %d started; %s", now - start, pool.live,
                     len(pool.slots), waiting_for(pool, min_workers))
            break
        if now - said >= HEARTBEAT_S:
            said = now
            log.info("waiting for Ray workers: %d of %d started (%.0f s); %s", pool.live, len(pool.slots),
                     now - start, waiting_for(pool, min_workers))
        if pool.starting:
            ready_refs, _ = ray.wait(list(pool.starting), num_returns=1, timeout=min(1.0, deadline - now))
            for ref in ready_refs:
                pool.on_ready(ref)
        else:
            time.sleep(0.2)  # every slot in backoff, or waiting for the cluster to grow
        pool.tick()
        if pool.live > live:
            last_start = time.monotonic()
        live = pool.live
    return pool.live


def waiting_for(pool: WorkerPool, min_workers: int | None = None) -> str:
    """What the start of the run waits for, in words."""
    free = ray.available_resources()
    have = {k: round(float(free.get(k, 0)), 2) for k in ("CPU", "GPU")}
    need = f"cluster.min_workers={min_workers}" if min_workers is not None else "the run begins once placed ones are up"
    return (f"each needs {needs(pool)} on one node; the live nodes hold {places(pool)} such workers, "
            f"{places(pool, available=True)} more fit now (free: {have}); {need}")

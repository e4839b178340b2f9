"""Data preparation on every core: chunks of work on a pool of processes, results in order.

Decoding and feature extraction are CPU-bound Python and C (libsndfile, soxr, numpy's
FFT), so they need processes, not threads. On Linux processes are forked: a fork starts
in milliseconds with the audio libraries already loaded, and never re-runs the caller's
script (spawn re-imports an unguarded `__main__`, such as a script calling
`garay.evolve` at top level). The children run only numpy and the audio libraries. A
process with other threads running (Ray started in it, say by an earlier job of a
multirun) is not forked: its pool comes from a fork server, a clean process started for
it. Where fork does not exist (macOS, Windows), `data.workers=null` means one process,
so scripts keep working unguarded; set `data.workers` to use more.

The same function runs on the same chunks whatever the number of processes, so the
results are those of one process. On a cluster the chunks go to Ray tasks spread over
its nodes instead (map_ordered_ray).
"""

from __future__ import annotations

import itertools
import logging
import math
import multiprocessing
import os
import sys
import threading
from collections import deque
from concurrent.futures import Future, ProcessPoolExecutor
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Optional, Sized, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")
H = TypeVar("H")  # a job in flight: a future, a Ray ref

CAN_FORK = "fork" in multiprocessing.get_all_start_methods()
# Chunks in flight on a cluster, whatever its size: each holds its files' bytes in the driver.
MAX_REMOTE_IN_FLIGHT = 32


def _cgroup_cpus() -> Optional[float]:
    """The CPU quota of this process's container (cgroup v2 cpu.max, or v1 cfs quota), if any."""
    try:
        quota, period = Path("/sys/fs/cgroup/cpu.max").read_text().split()[:2]
        return None if quota == "max" else int(quota) / int(period)
    except (OSError, ValueError):
        pass
    try:
        quota_us = int(Path("/sys/fs/cgroup/cpu/cpu.cfs_quota_us").read_text())
        period_us = int(Path("/sys/fs/cgroup/cpu/cpu.cfs_period_us").read_text())
        return quota_us / period_us if quota_us > 0 and period_us > 0 else None
    except (OSError, ValueError):
        return None


def available_cpus() -> int:
    """The cores this process may use: its affinity mask (taskset, a cpuset), capped by a
    container's CPU quota (docker --cpus, a Kubernetes limit)."""
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cores = os.cpu_count() or 1
    quota = _cgroup_cpus()
    return max(1, min(cores, math.ceil(quota))) if quota else cores


def resolve_workers(workers: Optional[int], chunks: int) -> int:
    """`data.workers` (null: every available core where processes can be forked, else 1),
    never more than there are chunks."""
    wanted = (available_cpus() if CAN_FORK else 1) if workers is None else int(workers)
    return max(1, min(wanted, chunks))


def forking() -> bool:
    """Whether a pool made now is forked from this process (see the module docstring)."""
    return CAN_FORK and threading.active_count() == 1


def _context() -> Any:
    if forking():
        return multiprocessing.get_context("fork")
    if CAN_FORK:  # threads are running here: fork a clean server instead of this process
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(["garay.data.prepare", "garay.data.synthetic"])
        return context
    return multiprocessing.get_context()


def _die_with_parent() -> None:
    """A pool process ends when the process that made it does, even one killed with
    SIGKILL (Linux's PR_SET_PDEATHSIG): forked children hold both ends of their task pipe,
    so they would otherwise wait for work forever."""
    if sys.platform.startswith("linux"):
        import ctypes
        import signal

        ctypes.CDLL(None).prctl(1, signal.SIGKILL)  # 1: PR_SET_PDEATHSIG
        if os.getppid() == 1:  # the parent died before the line above
            os._exit(1)


_MALLOC_SET = False


def keep_freed_memory() -> None:
    """Fix glibc malloc's thresholds in this process at the values its own adaptive rule
    reaches at most (buffers up to 32 MiB from the heap, up to 64 MiB of free heap kept),
    once. Data preparation allocates and frees the same buffers chunk after chunk; from
    its default starting point malloc hands the freed memory back to the system after
    each chunk and takes it again, zeroed page by page, for the next. Measured on 20k
    files in one process: 1.1-1.7 million page faults and 42% of the time in the kernel,
    against 8k faults and 28% with these settings. Nothing to do off glibc."""
    global _MALLOC_SET
    if _MALLOC_SET or not sys.platform.startswith("linux"):
        return
    _MALLOC_SET = True
    import ctypes

    mallopt = getattr(ctypes.CDLL(None), "mallopt", None)  # glibc's; musl has none
    if mallopt is not None:
        mallopt(-3, 32 << 20)  # M_MMAP_THRESHOLD
        mallopt(-1, 64 << 20)  # M_TRIM_THRESHOLD


def _init_worker() -> None:
    _die_with_parent()
    keep_freed_memory()


def map_ordered(fn: Callable[[T], R], jobs: Iterable[T], *, workers: int, count: Optional[int] = None) -> Iterator[R]:
    """`fn(job)` for every job, yielded in the jobs' order.

    With `workers` > 1 the jobs run on that many processes. Jobs are taken from `jobs`
    (any iterable, read lazily; `count` when it has no len) only as places free up, at
    most two per process in flight, so a large corpus never has all its waveforms in
    memory at once. With one worker, or one job, everything runs here. Close the
    iterator (or exhaust it) to shut the processes down."""
    total = len(jobs) if isinstance(jobs, Sized) else count
    if workers <= 1 or (total is not None and total <= 1):
        for job in jobs:
            yield fn(job)
        return
    context = _context()
    log.debug("a pool of %d processes (%s)", workers, context.get_start_method())
    with ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=_init_worker) as pool:
        yield from _in_order(jobs, 2 * workers, start=lambda job: pool.submit(fn, job), finish=Future.result,
                             cancel=Future.cancel)


def _in_order(jobs: Iterable[T], limit: int, *, start: Callable[[T], H], finish: Callable[[H], R],
              cancel: Callable[[H], Any]) -> Iterator[R]:
    """Start jobs as places free up (at most `limit` in flight), finish them in the jobs'
    order; whatever is still in flight when this stops (an error, or the caller closed
    it) is cancelled."""
    source = iter(jobs)
    pending: deque[H] = deque()
    try:
        pending.extend(start(job) for job in itertools.islice(source, limit))
        while pending:
            result = finish(pending.popleft())
            pending.extend(start(job) for job in itertools.islice(source, 1))
            yield result
    finally:
        for handle in pending:
            cancel(handle)


def _on_node(fn: Callable[[T], R], job: T) -> tuple[str, R]:
    import ray

    return ray.get_runtime_context().get_node_id(), fn(job)


def map_ordered_ray(fn: Callable[[T], R], jobs: Iterable[T], *, skip: Callable[[T], Optional[R]] = lambda job: None,
                    nodes: Optional[set[str]] = None) -> Iterator[R]:
    """`fn(job)` for every job as Ray tasks of one CPU spread over the cluster's nodes
    (this process has joined it), yielded in the jobs' order. Two jobs per CPU of the
    cluster are in flight, at most MAX_REMOTE_IN_FLIGHT; a task whose node is lost is run
    again (Ray's retries). A job for which `skip(job)` is not None needs no task: that is
    its result. `nodes` receives the ids of the nodes that worked."""
    import ray

    task = ray.remote(num_cpus=1, scheduling_strategy="SPREAD", max_retries=3)(_on_node)
    limit = min(MAX_REMOTE_IN_FLIGHT, max(2, 2 * int(ray.cluster_resources().get("CPU", 1))))

    def start(job: T) -> tuple[bool, Any]:  # (a Ray ref?, the ref or the result)
        done = skip(job)
        return (False, done) if done is not None else (True, task.remote(fn, job))

    def finish(handle: tuple[bool, Any]) -> R:
        is_ref, item = handle
        if not is_ref:
            return item
        node, result = ray.get(item)
        if nodes is not None:
            nodes.add(node)
        return result

    yield from _in_order(jobs, limit, start=start, finish=finish, cancel=lambda h: h[0] and ray.cancel(h[1]))


def warm_up(compute: Callable[[Any], R], samples: int) -> R:
    """`compute` of a short silence, here. The feature code loads its parts (scipy.fft)
    on first use: processes forked afterwards inherit them instead of each paying; when a
    pool would be forked now, the decoders are imported for it too."""
    import numpy as np

    if forking():
        import soundfile  # noqa: F401
        import soxr  # noqa: F401
    return compute(np.zeros((1, samples), dtype=np.float32))


__all__: list[Any] = ["available_cpus", "resolve_workers", "forking", "keep_freed_memory", "map_ordered",
                      "map_ordered_ray", "warm_up"]

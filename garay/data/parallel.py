"""Data preparation on every core: chunks of work on a pool of processes, results in order.

Decoding and feature extraction are CPU-bound Python and C (libsndfile, soxr, numpy's
FFT), so they need processes, not threads. Processes are forked on Linux: a fork starts in
milliseconds with the audio libraries already imported, and never re-runs the caller's
script (spawn would re-import an unguarded `__main__`, such as a notebook-style script
calling `garay.evolve`). The children run only numpy and the audio libraries, never Ray
or torch. Elsewhere the platform's default start method is used.

The same function runs on the same chunks whatever the number of processes, so the
results are identical to the single-process path, bit for bit. On a cluster the chunks
go to Ray tasks spread over its nodes instead (map_ordered_ray).
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import sys
from collections import deque
from concurrent.futures import Future, ProcessPoolExecutor
from typing import Any, Callable, Iterable, Iterator, Optional, Sized, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")


def available_cpus() -> int:
    """The cores this process may run on (its affinity mask, e.g. under taskset or a
    container's cpuset), else os.cpu_count()."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def resolve_workers(workers: Optional[int], chunks: int) -> int:
    """`data.workers` (null: every available core), never more than there are chunks."""
    wanted = available_cpus() if workers is None else int(workers)
    return max(1, min(wanted, chunks))


def map_ordered(fn: Callable[[T], R], jobs: Iterable[T], *, workers: int, count: Optional[int] = None,
                done: Optional[Callable[[int], None]] = None) -> Iterator[R]:
    """`fn(job)` for every job, yielded in the jobs' order.

    With `workers` > 1 the jobs run on that many processes. Jobs are taken from `jobs`
    (any iterable, read lazily; `count` when it has no len) only as places free up, at
    most two per process in flight, so a large corpus never has all its waveforms in
    memory at once. `done(i)` is called as each job finishes, in whatever order they
    finish (for a progress bar). With one worker, or one job, everything runs here."""
    total = len(jobs) if isinstance(jobs, Sized) else count
    if workers <= 1 or (total is not None and total <= 1):
        for i, job in enumerate(jobs):
            result = fn(job)
            if done is not None:
                done(i)
            yield result
        return
    context = multiprocessing.get_context("fork" if sys.platform.startswith("linux") else None)
    source = enumerate(jobs)
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        pending: deque[Future[R]] = deque()

        def submit() -> bool:
            nxt = next(source, None)
            if nxt is None:
                return False
            index, job = nxt
            future = pool.submit(fn, job)
            if done is not None:
                future.add_done_callback(lambda _f: done(index))
            pending.append(future)
            return True

        try:
            more = True
            while more and len(pending) < 2 * workers:
                more = submit()
            while pending:
                result = pending.popleft().result()
                more = more and submit()
                yield result
        except BaseException:
            for future in pending:
                future.cancel()
            raise


def _on_node(fn: Callable[[T], R], job: T) -> tuple[str, R]:
    import ray

    return ray.get_runtime_context().get_node_id(), fn(job)


def map_ordered_ray(fn: Callable[[T], R], jobs: Iterable[T], *, done: Optional[Callable[[int], None]] = None,
                    nodes: Optional[set[str]] = None) -> Iterator[R]:
    """`fn(job)` for every job as Ray tasks of one CPU spread over the cluster's nodes
    (this process has joined it), yielded in the jobs' order. At most two jobs per CPU of
    the cluster are in flight; a task whose node is lost is run again (Ray's retries).
    `done(i)` as each result arrives; `nodes` receives the ids of the nodes that worked."""
    import ray

    task = ray.remote(num_cpus=1, scheduling_strategy="SPREAD", max_retries=3)(_on_node)
    limit = max(2, 2 * int(ray.cluster_resources().get("CPU", 1)))
    pending: deque[Any] = deque()
    source = enumerate(jobs)
    more = True

    def submit() -> bool:
        nxt = next(source, None)
        if nxt is not None:
            pending.append((nxt[0], task.remote(fn, nxt[1])))
        return nxt is not None

    try:
        while more and len(pending) < limit:
            more = submit()
        while pending:
            index, ref = pending.popleft()
            node, result = ray.get(ref)
            if nodes is not None:
                nodes.add(node)
            if done is not None:
                done(index)
            more = more and submit()
            yield result
    finally:
        for _, ref in pending:
            ray.cancel(ref)


def warm_up(compute: Callable[[Any], Any], samples: int) -> None:
    """Import the audio libraries and run `compute` once on a short silence here, before
    forking: librosa loads its parts (scipy, numba) on first use, seconds each time, and
    forked children inherit what the parent has loaded instead of paying for it each."""
    import numpy as np
    import soundfile  # noqa: F401
    import soxr  # noqa: F401

    compute(np.zeros((1, samples), dtype=np.float32))


__all__: list[Any] = ["available_cpus", "resolve_workers", "map_ordered", "map_ordered_ray", "warm_up"]

"""Audio files -> a features array, through the feature cache, on every core or every node.

Files go in chunks of CHUNK. Locally each chunk is read, hashed, looked up in the cache,
decoded and featurised by one of `data.workers` forked processes (garay.data.parallel).
When the run joins a cluster, the driver reads, hashes and looks up each chunk (the files
and the cache are on its disk) and sends the misses' bytes to Ray tasks spread over the
nodes, which decode and featurise them; the driver caches what comes back. Either way a
chunk's misses are featurised together, FEATURE_BATCH at a time, as one process would, so
the numbers are the same (with one BLAS thread, on any machine). One exception: the features of a file
differ in the last bits (~2e-6) with the batch it is computed in, so a file whose exact
bytes recur in a later chunk is a cache hit for one process but may be computed again
in another batch by parallel ones. Bad files are reported in the files' order (raise on
the first, or skip).

The features array is made before the work starts. Forked pool processes inherit it as
shared memory and write their rows into it, so the features never travel back through
a pipe to be copied again by the driver; the driver only closes the gaps bad files leave.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from typing import Any, Iterator, Optional, Sequence

import numpy as np

from garay.data.audio import decode
from garay.data.cache import FeatureCache, content_hash
from garay.data.errors import DataError
from garay.data.features import FeatureSettings
from garay.data.parallel import forking, keep_freed_memory, map_ordered, map_ordered_ray, resolve_workers, warm_up
from garay.data.wav import BadFiles, Recording
from garay.progress import progress_bar

log = logging.getLogger(__name__)

# Files read, looked up and featurised as one job: bounds the waveforms in flight, and
# keeps each job's buffers within what malloc reuses (keep_freed_memory).
CHUNK = 64
# Files whose features are computed in one call. librosa's STFT works in float64, about
# 1 MB a file: 16 files keep two processes' buffers within a shared 32 MB L3 cache.
# Measured on 2 cores, waves in memory: 2 processes 1.5-1.7x one with 16, 1.3-1.4x with
# 64 (6-8% more files a second in all; one process alone 4-8% slower).
FEATURE_BATCH = 16


@dataclass
class ChunkResult:
    """One chunk's outcome, per file in order: why the file is bad (None: it is good), and
    the good files' features, or None when they were written into the shared rows."""

    errors: list[str | None]
    features: list[np.ndarray | None] | None = None
    hits: int = 0
    misses: int = 0
    unwritable: str | None = None


# The features array of the featurise() call in progress, while chunks run in this process
# or in processes forked from it (which inherit it as shared memory): a chunk starting at
# file `start` writes file i's features into row start + i.
_ROWS: np.ndarray | None = None


Todo = list[tuple[int, str, str, bytes]]  # cache misses: (position in chunk, path, content hash, bytes)


def read_file(path: "str | os.PathLike[str]") -> tuple[bytes | None, str | None]:
    """A file's bytes, or None and why it cannot be read (a bad file's reason)."""
    try:
        with open(path, "rb", buffering=0) as f:  # unbuffered: one read, no copy
            return f.read(), None
    except OSError as exc:
        return None, f"cannot read ({exc.strerror or exc})"


def _read(paths: Sequence[str], cache: FeatureCache) -> tuple[list[np.ndarray | None], list[str | None], Todo]:
    """Read, hash and look up each file: (cached features, read errors, the misses)."""
    found: list[np.ndarray | None] = [None] * len(paths)
    errors: list[str | None] = [None] * len(paths)
    todo: Todo = []
    for i, path in enumerate(paths):
        data, errors[i] = read_file(path)
        if data is None:
            continue
        digest = content_hash(data)
        found[i] = cache.get(digest)
        if found[i] is None:
            todo.append((i, path, digest, data))
    return found, errors, todo


_BLAS: Any = None


def _blas() -> Any:
    """threadpoolctl's controller of this process's BLAS libraries, made once (forked
    processes inherit it): each new one reads /proc/self/maps, a few percent of the
    kernel's time when it was made for every chunk."""
    global _BLAS
    if _BLAS is None:
        from threadpoolctl import ThreadpoolController

        _BLAS = ThreadpoolController()
    return _BLAS


def featurise_waves(waves: np.ndarray, settings: FeatureSettings) -> np.ndarray:
    """Features of decoded waves (files, samples), FEATURE_BATCH at a time, as every
    preparation computes them (a model package's predictor too: garay.serve); at least one."""
    # One BLAS thread: a multi-threaded matrix product sums in another order, so the
    # features' last bits would depend on the machine's cores (a Ray task has one).
    with _blas().limit(limits=1):
        return np.concatenate([settings.compute(waves[i:i + FEATURE_BATCH]) for i in range(0, len(waves), FEATURE_BATCH)])


def decode_and_featurise(job: tuple[Todo, FeatureSettings]) -> list[tuple[np.ndarray | None, str | None]]:
    """Per file of `todo`: (features, None), or (None, why it does not decode). The files
    that decode are featurised together (pure: any process or node gives the same)."""
    todo, settings = job
    out: list[tuple[np.ndarray | None, str | None]] = [(None, None)] * len(todo)
    waves = []
    for k, (_, path, _, data) in enumerate(todo):
        try:
            waves.append((k, decode(data, path, sample_rate=settings.sample_rate, duration=settings.duration)))
        except DataError as exc:
            out[k] = (None, exc.detail)
    if waves:
        computed = featurise_waves(np.stack([w for _, w in waves]), settings)
        for (k, _), feats in zip(waves, computed):
            out[k] = (feats, None)
    return out


def _complete(found: list, errors: list, todo: Todo, computed: list, cache: FeatureCache) -> None:
    """Put the misses' features in the cache and in `found`, their errors in `errors`."""
    for (i, _, digest, _), (feats, error) in zip(todo, computed):
        if error is not None:
            errors[i] = error
        else:
            cache.put(digest, feats)
            found[i] = feats


def featurise_chunk(job: tuple[list[str], FeatureSettings, str, int]) -> ChunkResult:
    """One chunk (its files' paths, starting at file `start`), start to end, in a worker
    process (or here); good files' features go into the shared rows when there are some."""
    paths, settings, cache_root, start = job
    cache = FeatureCache(cache_root, settings.key(), warn=False)
    found, errors, todo = _read(paths, cache)
    if todo:
        _complete(found, errors, todo, decode_and_featurise((todo, settings)), cache)
    features: list[np.ndarray | None] | None = found
    if _ROWS is not None:
        for i, feats in enumerate(found):
            if feats is not None:
                _ROWS[start + i] = feats
        features = None
    return ChunkResult(errors, features, cache.hits, cache.misses, cache.unwritable)


def _on_nodes(chunks: list[list[Recording]], settings: FeatureSettings, cache: FeatureCache,
              nodes: set[str]) -> Iterator[ChunkResult]:
    """The driver reads and looks up; Ray tasks on the cluster's nodes decode and featurise
    the misses (a chunk found whole in the cache needs no task)."""
    looked_up: dict[int, tuple[list, list, Todo]] = {}

    def jobs() -> Iterator[tuple[Todo, FeatureSettings]]:
        for k, chunk in enumerate(chunks):
            looked_up[k] = _read([str(r.path) for r in chunk], cache)
            yield looked_up[k][2], settings

    computed_chunks = map_ordered_ray(decode_and_featurise, jobs(), skip=lambda job: [] if not job[0] else None,
                                      nodes=nodes)
    try:
        for k, computed in enumerate(computed_chunks):
            found, errors, todo = looked_up.pop(k)
            _complete(found, errors, todo, computed, cache)
            yield ChunkResult(errors, found)
    finally:
        computed_chunks.close()  # cancels the tasks still in flight


def featurise(
    recordings: Sequence[Recording], settings: FeatureSettings, cache: FeatureCache, bad: BadFiles, *,
    workers: int | None = 1, remote: bool = False, progress: bool = False, where: Optional[dict[str, Any]] = None,
) -> tuple[np.ndarray, list[Recording]]:
    """Features (examples, channels, frames) of the recordings that decode, and those
    recordings. Cached features are reused; the rest are decoded, computed in chunks and
    cached, on `workers` processes (None: every core), or with `remote` on the nodes of
    the Ray cluster this process has joined. A file that does not decode goes to `bad`
    (which raises unless skipping), in the files' order. `where` receives how it ran."""
    global _ROWS
    chunks = [list(recordings[i:i + CHUNK]) for i in range(0, len(recordings), CHUNK)]
    if not chunks:
        return np.zeros((0, 0, 0), dtype=np.float32), []
    nodes: set[str] = set()
    procs = 1 if remote else resolve_workers(workers, len(chunks))
    # Chunks that run here or in forked processes write their rows into `out` themselves.
    direct = not remote and (procs == 1 or forking())
    out: np.ndarray | None = None  # on a cluster: made from the first result (the driver needs no librosa)
    results: Iterator[ChunkResult]
    if remote:
        log.info("decoding and featurising %d files with Ray tasks on the cluster's nodes", len(recordings))
        results = _on_nodes(chunks, settings, cache, nodes)
    else:
        log.info("decoding and featurising %d files on %d process(es)", len(recordings), procs)
        # Features of silence give every file's shape (files are cut or padded to one
        # length) and load librosa's parts before the pool forks.
        silence = warm_up(settings.compute, int(round(settings.sample_rate * settings.duration)))
        out = _empty((len(recordings), *silence.shape[1:]), shared=direct and procs > 1)
        if procs == 1:  # the chunks run here
            keep_freed_memory()
        jobs = [([str(r.path) for r in chunk], settings, str(cache.root), k * CHUNK) for k, chunk in enumerate(chunks)]
        _ROWS = out if direct else None  # before the pool forks: its processes inherit it
        results = map_ordered(featurise_chunk, jobs, workers=procs)
    bar = progress_bar(len(recordings), "features", progress, unit="file")
    kept: list[Recording] = []
    try:
        for k, result in enumerate(results):
            chunk = chunks[k]
            cache.hits += result.hits
            cache.misses += result.misses
            if result.unwritable is not None and cache.unwritable is None:
                cache.unwritable = result.unwritable
                cache.warn_unwritable()
            for i, (rec, error) in enumerate(zip(chunk, result.errors)):
                if error is not None:
                    bad.report(DataError(rec.path, error))
                    continue
                row = k * CHUNK + i
                if result.features is not None:
                    if out is None:
                        out = np.empty((len(recordings), *result.features[i].shape), dtype=np.float32)
                    out[len(kept)] = result.features[i]
                elif row != len(kept):  # close the gap a bad file left (rows before it are final)
                    out[len(kept)] = out[row]
                kept.append(rec)
            bar.update(len(chunk))
    finally:
        _ROWS = None
        results.close()  # on an error too: the pool is shut down (or the Ray tasks cancelled) now
        bar.close()
    if where is not None:
        where.update({"nodes": len(nodes)} if remote else {"processes": procs})
    if out is None:
        return np.zeros((0, 0, 0), dtype=np.float32), kept
    return out[: len(kept)], kept


def _empty(shape: tuple[int, ...], *, shared: bool) -> np.ndarray:
    """A float32 array; with `shared`, in memory that processes forked later share (an
    anonymous shared mapping: not /dev/shm, whose size containers often cap at 64 MB)."""
    if not shared:
        return np.empty(shape, dtype=np.float32)
    import mmap

    size = int(np.prod(shape)) * 4
    return np.frombuffer(mmap.mmap(-1, max(size, 1)), dtype=np.float32, count=size // 4).reshape(shape)

"""Audio files -> a features array, through the feature cache, on every core or every node.

Files go in chunks of CHUNK. Locally each chunk is read, hashed, looked up in the cache,
decoded and featurised by one of `data.workers` forked processes (garay.data.parallel).
When the run joins a cluster, the driver reads, hashes and looks up each chunk (the files
and the cache are on its disk) and sends the misses' bytes to Ray tasks spread over the
nodes, which decode and featurise them; the driver caches what comes back. Either way a
chunk's misses are featurised together, as one process would, so the numbers are the
same (with one BLAS thread, on any machine). One exception: librosa's features of a file
differ in the last bits (~2e-6) with the batch it is computed in, so a file whose exact
bytes recur in a later chunk is a cache hit for one process but may be computed again
in another batch by parallel ones. Bad files are reported in the files' order (raise on
the first, or skip).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Optional, Sequence

import numpy as np

from garay.data.audio import decode
from garay.data.cache import FeatureCache, content_hash
from garay.data.errors import DataError
from garay.data.features import FeatureSettings
from garay.data.parallel import map_ordered, map_ordered_ray, resolve_workers, warm_up
from garay.data.wav import BadFiles, Recording
from garay.progress import progress_bar

log = logging.getLogger(__name__)

# Files featurised together: bounds the memory of waveforms and spectrograms in flight.
CHUNK = 256


@dataclass
class ChunkResult:
    """One chunk's outcome, per file in order: features, or why the file is bad."""

    features: list[np.ndarray | None]
    errors: list[str | None]
    hits: int = 0
    misses: int = 0
    unwritable: str | None = None


Todo = list[tuple[int, str, str, bytes]]  # cache misses: (position in chunk, path, content hash, bytes)


def _read(paths: Sequence[str], cache: FeatureCache) -> tuple[list[np.ndarray | None], list[str | None], Todo]:
    """Read, hash and look up each file: (cached features, read errors, the misses)."""
    found: list[np.ndarray | None] = [None] * len(paths)
    errors: list[str | None] = [None] * len(paths)
    todo: Todo = []
    for i, path in enumerate(paths):
        try:
            with open(path, "rb", buffering=0) as f:  # unbuffered: one read, no copy
                data = f.read()
        except OSError as exc:
            errors[i] = f"cannot read ({exc.strerror or exc})"
            continue
        digest = content_hash(data)
        found[i] = cache.get(digest)
        if found[i] is None:
            todo.append((i, path, digest, data))
    return found, errors, todo


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
        from threadpoolctl import threadpool_limits

        # One BLAS thread: a multi-threaded matrix product sums in another order, so the
        # features' last bits would depend on the machine's cores (a Ray task has one).
        with threadpool_limits(limits=1):
            computed = settings.compute(np.stack([w for _, w in waves]))
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


def featurise_chunk(job: tuple[list[str], FeatureSettings, str]) -> ChunkResult:
    """One chunk, start to end, in a worker process (or here)."""
    paths, settings, cache_root = job
    cache = FeatureCache(cache_root, settings.key(), warn=False)
    found, errors, todo = _read(paths, cache)
    if todo:
        _complete(found, errors, todo, decode_and_featurise((todo, settings)), cache)
    return ChunkResult(found, errors, cache.hits, cache.misses, cache.unwritable)


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
            yield ChunkResult(found, errors)
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
    chunks = [list(recordings[i:i + CHUNK]) for i in range(0, len(recordings), CHUNK)]
    nodes: set[str] = set()
    results: Iterator[ChunkResult]
    if remote:
        log.info("decoding and featurising %d files with Ray tasks on the cluster's nodes", len(recordings))
        results = _on_nodes(chunks, settings, cache, nodes)
    else:
        procs = resolve_workers(workers, len(chunks))
        log.info("decoding and featurising %d files on %d process(es)", len(recordings), procs)
        if procs > 1:
            warm_up(settings.compute, int(round(settings.sample_rate * settings.duration)))
        jobs = [([str(r.path) for r in chunk], settings, str(cache.root)) for chunk in chunks]
        results = map_ordered(featurise_chunk, jobs, workers=procs)
    bar = progress_bar(len(recordings), "features", progress, unit="file")
    # One array filled as chunks arrive (no list of per-file arrays stacked at the end):
    # the driver holds the features once, plus the chunks in flight.
    out: np.ndarray | None = None
    kept: list[Recording] = []
    try:
        for k, result in enumerate(results):
            chunk = chunks[k]
            cache.hits += result.hits
            cache.misses += result.misses
            if result.unwritable is not None and cache.unwritable is None:
                cache.unwritable = result.unwritable
                cache.warn_unwritable()
            for rec, feats, error in zip(chunk, result.features, result.errors):
                if error is not None:
                    bad.report(DataError(rec.path, error))
                elif feats is not None:
                    if out is None:
                        out = np.empty((len(recordings), *feats.shape), dtype=np.float32)
                    out[len(kept)] = feats
                    kept.append(rec)
            bar.update(len(chunk))
    finally:
        results.close()  # on an error too: the pool is shut down (or the Ray tasks cancelled) now
        bar.close()
    if where is not None:
        where.update({"nodes": len(nodes)} if remote else {"processes": procs})
    if out is None:
        return np.zeros((0, 0, 0), dtype=np.float32), kept
    return out[: len(kept)], kept

"""Audio files -> a features array, through the feature cache; bad files raise or are skipped."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from garay.data.audio import decode
from garay.data.cache import FeatureCache, content_hash
from garay.data.errors import DataError
from garay.data.features import FeatureSettings
from garay.data.parallel import map_ordered, resolve_workers, warm_up
from garay.progress import progress_bar

log = logging.getLogger(__name__)

# Files featurised together: bounds the memory of waveforms and spectrograms in flight.
CHUNK = 256


@dataclass(frozen=True)
class Recording:
    """One audio file and what its location or name says about it."""

    path: Path
    label: str
    speaker: str | None = None
    take: int | None = None


class BadFiles:
    """Bad input files: raise on the first, or (skip_bad) warn about each and count them."""

    def __init__(self, skip: bool):
        self.skip = skip
        self.paths: list[str] = []

    def report(self, error: DataError) -> None:
        if not self.skip:
            raise error
        log.warning("data.skip_bad: skipping %s", error)
        self.paths.append(error.path)

    def summary(self, root: Path) -> None:
        if self.paths:
            log.warning("data.skip_bad: skipped %d bad file(s) under %s", len(self.paths), root)


@dataclass
class ChunkResult:
    """One chunk's outcome, per file in order: features, or why the file is bad."""

    features: list[np.ndarray | None]
    errors: list[str | None]
    hits: int = 0
    misses: int = 0
    unwritable: str | None = None


def featurise_chunk(job: tuple[list[str], FeatureSettings, str]) -> ChunkResult:
    """Read, hash, look up, decode and featurise one chunk of files (in a worker process
    or here): cached features are reused; the rest are computed together and cached."""
    paths, settings, cache_root = job
    cache = FeatureCache(cache_root, settings.key(), warn=False)
    found: list[np.ndarray | None] = []
    errors: list[str | None] = []
    todo: list[tuple[int, str, np.ndarray]] = []  # (position in chunk, hash, waveform)
    for i, path in enumerate(paths):
        found.append(None)
        errors.append(None)
        try:
            data = Path(path).read_bytes()
        except OSError as exc:
            errors[i] = f"cannot read ({exc.strerror or exc})"
            continue
        digest = content_hash(data)
        found[i] = cache.get(digest)
        if found[i] is None:
            try:
                todo.append((i, digest, decode(data, path, sample_rate=settings.sample_rate,
                                               duration=settings.duration)))
            except DataError as exc:
                errors[i] = exc.detail
    if todo:
        computed = settings.compute(np.stack([wave for _, _, wave in todo]))
        for (i, digest, _), feats in zip(todo, computed):
            cache.put(digest, feats)
            found[i] = feats
    return ChunkResult(found, errors, cache.hits, cache.misses, cache.unwritable)


def featurise(
    recordings: Sequence[Recording], settings: FeatureSettings, cache: FeatureCache, bad: BadFiles, *,
    workers: int | None = 1, progress: bool = False,
) -> tuple[np.ndarray, list[Recording]]:
    """Features (examples, channels, frames) of the recordings that decode, and those
    recordings. Cached features are reused; the rest are decoded, computed in chunks and
    cached, on `workers` processes (None: every core; garay.data.parallel). A file that
    does not decode goes to `bad` (which raises unless skipping), in the files' order."""
    chunks = [recordings[i:i + CHUNK] for i in range(0, len(recordings), CHUNK)]
    procs = resolve_workers(workers, len(chunks))
    if procs > 1:
        warm_up(settings.compute, int(round(settings.sample_rate * settings.duration)))
    log.info("decoding and featurising %d files on %d process(es)", len(recordings), procs)
    bar = progress_bar(len(recordings), "features", progress, unit="file")
    jobs = [([str(r.path) for r in chunk], settings, str(cache.root)) for chunk in chunks]
    features: list[np.ndarray] = []
    kept: list[Recording] = []
    try:
        results = map_ordered(featurise_chunk, jobs, workers=procs, done=lambda i: bar.update(len(chunks[i])))
        for chunk, result in zip(chunks, results):
            cache.hits += result.hits
            cache.misses += result.misses
            if result.unwritable is not None and cache.unwritable is None:
                cache.unwritable = result.unwritable
                cache.warn_unwritable()
            for rec, feats, error in zip(chunk, result.features, result.errors):
                if error is not None:
                    bad.report(DataError(rec.path, error))
                elif feats is not None:
                    features.append(feats)
                    kept.append(rec)
    finally:
        bar.close()
    if not features:
        return np.zeros((0, 0, 0), dtype=np.float32), kept
    return np.stack(features).astype(np.float32, copy=False), kept

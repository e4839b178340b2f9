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

log = logging.getLogger(__name__)

# Files featurised together: bounds the memory of waveforms and spectrograms in flight.
CHUNK = 512


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


def featurise(
    recordings: Sequence[Recording], settings: FeatureSettings, cache: FeatureCache, bad: BadFiles
) -> tuple[np.ndarray, list[Recording]]:
    """Features (examples, channels, frames) of the recordings that decode, and those
    recordings. Cached features are reused; the rest are decoded, computed in chunks and
    cached. A file that does not decode goes to `bad` (which raises unless skipping)."""
    features: list[np.ndarray] = []
    kept: list[Recording] = []
    for start in range(0, len(recordings), CHUNK):
        chunk = recordings[start:start + CHUNK]
        found: list[np.ndarray | None] = []
        todo: list[tuple[int, str, np.ndarray]] = []  # (position in chunk, hash, waveform)
        for i, rec in enumerate(chunk):
            try:
                data = rec.path.read_bytes()
            except OSError as exc:
                bad.report(DataError(rec.path, f"cannot read ({exc.strerror or exc})"))
                found.append(None)
                continue
            digest = content_hash(data)
            cached = cache.get(digest)
            if cached is None:
                try:
                    wave = decode(data, rec.path, sample_rate=settings.sample_rate, duration=settings.duration)
                except DataError as exc:
                    bad.report(exc)
                    found.append(None)
                    continue
                todo.append((i, digest, wave))
            found.append(cached)
        if todo:
            computed = settings.compute(np.stack([wave for _, _, wave in todo]))
            for (i, digest, _), feats in zip(todo, computed):
                cache.put(digest, feats)
                found[i] = feats
        for rec, feats in zip(chunk, found):
            if feats is not None:
                features.append(feats)
                kept.append(rec)
    if not features:
        return np.zeros((0, 0, 0), dtype=np.float32), kept
    return np.stack(features).astype(np.float32, copy=False), kept

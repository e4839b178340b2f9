"""Decoding audio files to fixed-length mono waveforms at one sample rate.

soundfile (libsndfile) decodes; soxr resamples. Both are maintained, and soxr is what
librosa itself uses for high-quality resampling.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from garay.data.errors import DataError


def decode(data: bytes, path: Path | str, *, sample_rate: int, duration: float) -> np.ndarray:
    """The audio in `data` (the bytes of the file at `path`) as float32 samples: mixed down
    to mono, resampled to `sample_rate`, zero-padded or trimmed at the end to `duration`
    seconds. Raises DataError naming `path` when it cannot be decoded or holds no samples."""
    import soundfile as sf

    try:
        samples, rate = sf.read(io.BytesIO(data), dtype="float32", always_2d=True)
    except Exception as exc:  # noqa: BLE001 - libsndfile raises several types; all mean "not audio"
        # libsndfile's own reason ("Format not recognised."), not the in-memory buffer's repr.
        reason = getattr(exc, "error_string", None) or str(exc)
        raise DataError(path, f"cannot decode as audio: {reason}") from exc
    if samples.shape[0] == 0:
        raise DataError(path, "holds no audio samples")
    wave = samples.mean(axis=1)
    if not np.all(np.isfinite(wave)):
        raise DataError(path, "holds non-finite samples")
    if rate != sample_rate:
        import soxr

        wave = soxr.resample(wave, rate, sample_rate).astype(np.float32)
    return fit_length(wave, int(round(sample_rate * duration)))


def fit_length(wave: np.ndarray, num_samples: int) -> np.ndarray:
    """`wave` zero-padded or trimmed at the end to exactly `num_samples` samples."""
    out = np.zeros(num_samples, dtype=np.float32)
    n = min(num_samples, len(wave))
    out[:n] = wave[:n]
    return out

"""Waveforms -> features (log-mel, MFCC, or the raw waveform), via librosa.

librosa is the maintained reference implementation of these features for numpy
arrays; it needs no particular torch build, so it works beside any CUDA torch.
"""

from __future__ import annotations

import numpy as np

FEATURES = ("logmel", "mfcc", "waveform")


def compute_features(
    waves: np.ndarray,
    *,
    sample_rate: int,
    kind: str = "logmel",
    n_mels: int = 32,
    n_mfcc: int = 20,
    n_fft: int = 256,
    hop_length: int = 128,
) -> np.ndarray:
    """Features shaped (examples, channels, frames) from waves shaped (examples, samples)."""
    if kind not in FEATURES:
        raise ValueError(f"data.features must be one of {list(FEATURES)}, got {kind!r}")
    waves = np.asarray(waves, dtype=np.float32)
    if kind == "waveform":
        return waves[:, None, :]
    import librosa  # imported here: it is slow to import and only data loading needs it

    mel = librosa.feature.melspectrogram(
        y=waves, sr=sample_rate, n_fft=n_fft, hop_length=hop_length, n_mels=n_mels, power=2.0
    )
    logmel = librosa.power_to_db(mel, ref=1.0, top_db=None)
    if kind == "logmel":
        return logmel.astype(np.float32)
    return librosa.feature.mfcc(S=logmel, n_mfcc=n_mfcc).astype(np.float32)

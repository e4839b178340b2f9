"""Waveforms -> features (log-mel, MFCC, or the raw waveform).

The numbers are librosa's, bit for bit (garay.data.logmel says why it is not librosa
itself); numpy and scipy need no particular torch build, so they work beside any CUDA torch.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

FEATURES = ("logmel", "mfcc", "waveform")
# Bump when decoding or feature code changes what a file's features are: old cache
# entries then stop matching.
FEATURES_VERSION = 1


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
    from garay.data.logmel import log_mel, mfcc

    logmel = log_mel(waves, sample_rate=sample_rate, n_fft=n_fft, hop_length=hop_length, n_mels=n_mels)
    if kind == "logmel":
        return logmel.astype(np.float32)
    return mfcc(logmel, n_mfcc).astype(np.float32)


@dataclass(frozen=True)
class FeatureSettings:
    """Everything that decides one file's features; its `key` names a cache generation."""

    sample_rate: int = 8000
    duration: float = 1.0
    kind: str = "logmel"
    n_mels: int = 32
    n_mfcc: int = 20
    n_fft: int = 256
    hop_length: int = 128

    @classmethod
    def from_config(cls, cfg: Any) -> "FeatureSettings":
        return cls(sample_rate=int(cfg.sample_rate), duration=float(cfg.duration), kind=str(cfg.features),
                   n_mels=int(cfg.n_mels), n_mfcc=int(cfg.n_mfcc), n_fft=int(cfg.n_fft),
                   hop_length=int(cfg.hop_length))

    def key(self) -> str:
        """A short hash of the settings and the feature code's version."""
        text = json.dumps({"version": FEATURES_VERSION, **asdict(self)}, sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def compute(self, waves: np.ndarray) -> np.ndarray:
        """Features (examples, channels, frames) of waves (examples, samples)."""
        return compute_features(waves, sample_rate=self.sample_rate, kind=self.kind, n_mels=self.n_mels,
                                n_mfcc=self.n_mfcc, n_fft=self.n_fft, hop_length=self.hop_length)

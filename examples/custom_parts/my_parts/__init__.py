"""A user's own parts for garay (README "Your own parts"): a fitness metric and a data
loader. garay ships this package to the Ray workers by itself (it is not installed)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np

NAME = re.compile(r"^(?P<label>[^_]+)_(?P<speaker>[^_]+)_(?P<take>\d+)\.wav$")


def macro_f1(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """The unweighted mean over classes of F1: every class counts alike, however rare."""
    classes = np.union1d(y_true, y_pred)
    scores = []
    for c in classes:
        tp = np.sum((y_pred == c) & (y_true == c))
        fp = np.sum((y_pred == c) & (y_true != c))
        fn = np.sum((y_pred != c) & (y_true == c))
        scores.append(2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 1.0)
    return float(np.mean(scores))


def load_speaker_folder(cfg: Any) -> dict[str, np.ndarray]:
    """Every `{label}_{speaker}_{take}.wav` in `data.root` (FSDD's names; other files are
    skipped) as log-mel features (data.n_mels bands, data.hop_length, data.duration
    seconds at data.sample_rate), with labels and speakers, so data.split=speaker works."""
    import soundfile as sf
    import soxr

    from garay.data.logmel import mel_filters, stft

    root = Path(cfg.root)
    files = sorted(p for p in root.iterdir() if NAME.match(p.name))
    if not files:
        raise ValueError(f"no {{label}}_{{speaker}}_{{take}}.wav files in {root}")
    samples = int(round(cfg.sample_rate * cfg.duration))
    features, labels, speakers = [], [], []
    for path in files:
        wave, rate = sf.read(path, dtype="float32", always_2d=True)
        wave = soxr.resample(wave.mean(axis=1), rate, cfg.sample_rate).astype(np.float32)
        wave = np.pad(wave[:samples], (0, max(0, samples - len(wave))))
        power = np.abs(stft(wave, cfg.n_fft, cfg.hop_length)) ** 2
        mel = mel_filters(cfg.sample_rate, cfg.n_fft, cfg.n_mels) @ power
        features.append(np.log(mel + 1e-6).astype(np.float32))
        match = NAME.match(path.name)
        labels.append(match["label"])
        speakers.append(match["speaker"])
    return {"X": np.stack(features), "y": np.array(labels), "speakers": np.array(speakers)}

"""The built-in synthetic spoken-word-like data set (the default).

Ten classes of short 8 kHz "words": each class has its own pitch contour (in semitones,
relative to the speaker's pitch) and its own formant trajectories (a glide between two
vowels). Speakers differ in base pitch, vocal-tract length (formant scale), speaking rate
and onset; recordings get background noise at a random SNR. Classes share vowels and
contour shapes in pairs, so the task is learnable but not trivial. Deterministic by seed.
"""

from __future__ import annotations

import numpy as np

from garay.data.dataset import Dataset, split_dataset
from garay.data.features import compute_features
from garay.data.splits import stratified_split, validation_rounds

# (F1, F2, F3) of a few vowels, Hz.
_VOWELS = np.array(
    [[730, 1090, 2440], [270, 2290, 3010], [300, 870, 2240], [530, 1840, 2480], [570, 840, 2410], [660, 1720, 2410]],
    dtype=np.float64,
)
_CONTOURS = [  # semitone offsets at u = 0, 0.5, 1 (interpolated quadratically)
    (0.0, 0.0, 0.0), (-4.0, 0.0, 5.0), (5.0, 0.0, -5.0), (-3.0, 5.0, -3.0), (4.0, -4.0, 4.0),
]


def _class_table(num_classes: int) -> list[tuple[int, int, int]]:
    """(start vowel, end vowel, contour) per class; neighbouring classes share parts."""
    table = []
    for c in range(num_classes):
        v0 = c % len(_VOWELS)
        v1 = (c * 2 + 1) % len(_VOWELS)
        table.append((v0, v1, (c // 2 + c) % len(_CONTOURS)))
    return table


def _contour(idx: int, u: np.ndarray) -> np.ndarray:
    a, b, c = _CONTOURS[idx]
    # Quadratic through (0, a), (0.5, b), (1, c).
    return a * (2 * u - 1) * (u - 1) - 4 * b * u * (u - 1) + c * u * (2 * u - 1)


def synthesize(
    labels: np.ndarray, *, sample_rate: int, duration: float, snr_db: tuple[float, float], rng: np.random.Generator
) -> np.ndarray:
    """Waveforms (examples, samples) for the given class labels."""
    n = len(labels)
    num_samples = int(round(sample_rate * duration))
    t = np.arange(num_samples) / sample_rate
    table = _class_table(int(labels.max()) + 1)

    f0 = rng.uniform(90, 240, n)  # speaker pitch
    tract = rng.uniform(0.85, 1.18, n)  # vocal-tract scale on formants
    length = duration * rng.uniform(0.55, 0.85, n)  # speaking rate
    onset = rng.uniform(0, 1, n) * (duration - length)
    snr = rng.uniform(*snr_db, n)

    waves = np.zeros((n, num_samples), dtype=np.float64)
    harmonics = np.arange(1, 21)
    for i, label in enumerate(labels):
        v0, v1, contour = table[label]
        u = np.clip((t - onset[i]) / length[i], 0.0, 1.0)
        active = (t >= onset[i]) & (t <= onset[i] + length[i])
        pitch = f0[i] * 2 ** (_contour(contour, u) / 12 + rng.normal(0, 0.15) / 12)
        phase = 2 * np.pi * np.cumsum(pitch) / sample_rate
        # Formant gains change slowly: compute them every `step` samples, then hold.
        step = 16
        coarse = slice(None, None, step)
        formants = tract[i] * ((1 - u[coarse])[:, None] * _VOWELS[v0] + u[coarse][:, None] * _VOWELS[v1])
        freqs = pitch[coarse, None] * harmonics[None, :]  # (T/step, K)
        gain = np.zeros_like(freqs)
        for j, bw in enumerate((90.0, 120.0, 160.0)):
            gain += np.exp(-(((freqs - formants[:, j:j + 1]) / bw) ** 2)) / (j + 1)
        gain *= freqs < sample_rate / 2
        gain = np.repeat(gain, step, axis=0)[:num_samples].astype(np.float32)
        offsets = rng.uniform(0, 2 * np.pi, len(harmonics))
        voiced = (gain * np.sin((phase[:, None] * harmonics[None, :] + offsets).astype(np.float32))).sum(axis=1)
        envelope = np.sin(np.pi * u) ** 0.6 * active
        signal = voiced * envelope
        power = np.mean(signal[active] ** 2) if active.any() else 1.0
        noise = rng.normal(0, 1, num_samples)
        noise = np.convolve(noise, [0.6, 0.3, 0.1], mode="same")  # a little coloured
        noise *= np.sqrt(power / 10 ** (snr[i] / 10) / np.mean(noise**2))
        waves[i] = signal + noise
    peak = np.abs(waves).max(axis=1, keepdims=True) + 1e-9
    return (waves / peak).astype(np.float32)


def make_synthetic(
    *,
    seed: int = 0,
    num_classes: int = 10,
    examples_per_class: int = 400,
    sample_rate: int = 8000,
    duration: float = 0.5,
    snr_db: tuple[float, float] = (-2.0, 10.0),
    features: str = "logmel",
    n_mels: int = 32,
    n_mfcc: int = 20,
    n_fft: int = 256,
    hop_length: int = 128,
    val_fraction: float = 0.2,
    test_fraction: float = 0.2,
    rounds: int = 1,
) -> Dataset:
    """Generate, featurise, split (stratified, seeded) and standardise the synthetic set;
    `rounds` validation rounds (garay.data.splits.validation_rounds)."""
    if not 2 <= num_classes <= 10:
        raise ValueError(f"data.num_classes must be in 2..10, got {num_classes}")
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(num_classes), examples_per_class)
    waves = synthesize(labels, sample_rate=sample_rate, duration=duration, snr_db=snr_db, rng=rng)
    x = compute_features(waves, sample_rate=sample_rate, kind=features, n_mels=n_mels, n_mfcc=n_mfcc,
                         n_fft=n_fft, hop_length=hop_length)
    parts = validation_rounds(stratified_split(labels, (val_fraction, test_fraction), seed), rounds, labels, None, seed)
    info = {"seed": seed, "sample_rate": sample_rate, "duration": duration, "features": features, "split": "random"}
    classes = tuple(f"word{c}" for c in range(num_classes))
    return split_dataset(x, labels.astype(np.int64), parts, classes, name="synthetic", info=info)

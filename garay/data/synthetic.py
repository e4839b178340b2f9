"""The built-in synthetic spoken-word-like data set (the default).

Ten classes of short 8 kHz "words": each class has its own pitch contour (in semitones,
relative to the speaker's pitch) and its own formant trajectories (a glide between two
vowels). Speakers differ in base pitch, vocal-tract length (formant scale), speaking rate
and onset; recordings get background noise at a random SNR. Classes share vowels and
contour shapes in pairs, so the task is learnable but not trivial. Deterministic by seed.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Iterator

import numpy as np

from garay.data.dataset import Dataset, split_dataset
from garay.data.features import compute_features
from garay.data.parallel import map_ordered, resolve_workers
from garay.data.splits import stratified_split, validation_rounds
from garay.progress import progress_bar

log = logging.getLogger(__name__)

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


# Examples rendered together (one process's job): bounds the noise drawn ahead in memory.
CHUNK = 512
_HARMONICS = np.arange(1, 21)


@dataclass
class _Draws:
    """The random numbers of a run of consecutive examples, drawn in synthesize's order."""

    labels: np.ndarray
    f0: np.ndarray
    tract: np.ndarray
    length: np.ndarray
    onset: np.ndarray
    snr: np.ndarray
    jitter: np.ndarray  # (n,) pitch jitter
    offsets: np.ndarray  # (n, harmonics) phases
    noise: np.ndarray  # (n, samples) white noise


def _draw_chunks(labels: np.ndarray, num_samples: int, duration: float, snr_db: tuple[float, float],
                 rng: np.random.Generator) -> Iterator[_Draws]:
    """Every example's random numbers, chunk by chunk, in one fixed order (per-example
    values first for all, then each example's own), so the data depends on the seed only."""
    n = len(labels)
    f0 = rng.uniform(90, 240, n)  # speaker pitch
    tract = rng.uniform(0.85, 1.18, n)  # vocal-tract scale on formants
    length = duration * rng.uniform(0.55, 0.85, n)  # speaking rate
    onset = rng.uniform(0, 1, n) * (duration - length)
    snr = rng.uniform(*snr_db, n)
    for a in range(0, n, CHUNK):
        b = min(n, a + CHUNK)
        jitter, offsets, noise = np.empty(b - a), np.empty((b - a, len(_HARMONICS))), np.empty((b - a, num_samples))
        for i in range(b - a):
            jitter[i] = rng.normal(0, 0.15)
            offsets[i] = rng.uniform(0, 2 * np.pi, len(_HARMONICS))
            noise[i] = rng.normal(0, 1, num_samples)
        yield _Draws(labels[a:b], f0[a:b], tract[a:b], length[a:b], onset[a:b], snr[a:b], jitter, offsets, noise)


def _render(job: tuple[_Draws, int, int, float]) -> np.ndarray:
    """Waveforms (examples, samples) of one chunk of draws: pure, so any process gives
    the same numbers."""
    d, num_classes, sample_rate, duration = job
    num_samples = d.noise.shape[1]
    t = np.arange(num_samples) / sample_rate
    table = _class_table(num_classes)
    waves = np.zeros((len(d.labels), num_samples), dtype=np.float64)
    harmonics = _HARMONICS
    for i, label in enumerate(d.labels):
        v0, v1, contour = table[label]
        u = np.clip((t - d.onset[i]) / d.length[i], 0.0, 1.0)
        active = (t >= d.onset[i]) & (t <= d.onset[i] + d.length[i])
        pitch = d.f0[i] * 2 ** (_contour(contour, u) / 12 + d.jitter[i] / 12)
        phase = 2 * np.pi * np.cumsum(pitch) / sample_rate
        # Formant gains change slowly: compute them every `step` samples, then hold.
        step = 16
        coarse = slice(None, None, step)
        formants = d.tract[i] * ((1 - u[coarse])[:, None] * _VOWELS[v0] + u[coarse][:, None] * _VOWELS[v1])
        freqs = pitch[coarse, None] * harmonics[None, :]  # (T/step, K)
        gain = np.zeros_like(freqs)
        for j, bw in enumerate((90.0, 120.0, 160.0)):
            gain += np.exp(-(((freqs - formants[:, j:j + 1]) / bw) ** 2)) / (j + 1)
        gain *= freqs < sample_rate / 2
        gain = np.repeat(gain, step, axis=0)[:num_samples].astype(np.float32)
        voiced = (gain * np.sin((phase[:, None] * harmonics[None, :] + d.offsets[i]).astype(np.float32))).sum(axis=1)
        envelope = np.sin(np.pi * u) ** 0.6 * active
        signal = voiced * envelope
        power = np.mean(signal[active] ** 2) if active.any() else 1.0
        noise = np.convolve(d.noise[i], [0.6, 0.3, 0.1], mode="same")  # a little coloured
        noise *= np.sqrt(power / 10 ** (d.snr[i] / 10) / np.mean(noise**2))
        waves[i] = signal + noise
    peak = np.abs(waves).max(axis=1, keepdims=True) + 1e-9
    return (waves / peak).astype(np.float32)


def synthesize(
    labels: np.ndarray, *, sample_rate: int, duration: float, snr_db: tuple[float, float], rng: np.random.Generator,
    workers: int | None = 1, progress: bool = False,
) -> np.ndarray:
    """Waveforms (examples, samples) for the given class labels, rendered on `workers`
    processes (None: every core); the same numbers whatever their count."""
    n = len(labels)
    num_samples = int(round(sample_rate * duration))
    num_classes = int(labels.max()) + 1
    chunks = (n + CHUNK - 1) // CHUNK
    jobs = ((d, num_classes, sample_rate, duration) for d in _draw_chunks(labels, num_samples, duration, snr_db, rng))
    waves = np.empty((n, num_samples), dtype=np.float32)  # filled chunk by chunk: no second copy
    bar = progress_bar(n, "synthesizing", progress, unit="example")
    rendered = map_ordered(_render, jobs, workers=resolve_workers(workers, chunks), count=chunks)
    try:
        for k, part in enumerate(rendered):
            waves[k * CHUNK: k * CHUNK + len(part)] = part
            bar.update(len(part))
    finally:
        rendered.close()
        bar.close()
    return waves


# The waveforms of the last sets rendered, by what decides them (the same numbers whatever
# the number of processes), newest last: a Hydra multirun's jobs, run one after another in
# one process, and repeated runs from Python render them once.
_rendered: dict[tuple, np.ndarray] = {}
KEPT_SETS = 4  # the default set's waveforms are 64 MB


def forget_rendered() -> None:
    """Drop the waveforms kept in this process (the next call reads or renders them again)."""
    _rendered.clear()


def _waves(key: tuple, labels: np.ndarray, *, workers: int | None, progress: bool,
           cache_dir: str | None) -> np.ndarray:
    """The waveforms `key` decides: from the on-disk cache, or rendered and cached. The
    cache key holds this module's source too, so a change to the rendering is never
    served stale."""
    from pathlib import Path

    from garay.data.cache import FeatureCache, content_hash

    seed, _, _, sample_rate, duration, snr_db = key
    digest = content_hash(repr(key).encode() + Path(__file__).read_bytes())
    cache = FeatureCache(cache_dir, "synthetic-waves")
    waves = cache.get(digest)
    if waves is not None and waves.shape == (len(labels), int(round(sample_rate * duration))):
        log.info("synthetic data: %d examples from the cache %s", len(labels), cache.root)
        return waves
    log.info("synthetic data: generating %d examples on %d process(es)", len(labels),
             resolve_workers(workers, (len(labels) + CHUNK - 1) // CHUNK))
    waves = synthesize(labels, sample_rate=sample_rate, duration=duration, snr_db=snr_db,
                       rng=np.random.default_rng(seed), workers=workers, progress=progress)
    cache.put(digest, waves)
    return waves


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
    workers: int | None = 1,
    progress: bool = False,
    normalize: str = "dataset",
    cache_dir: str | None = None,
) -> Dataset:
    """Generate, featurise, split (stratified, seeded) and standardise the synthetic set;
    `rounds` validation rounds (garay.data.splits.validation_rounds); the waveforms are
    rendered on `workers` processes (None: every core), or read from the cache in
    `cache_dir` (data.cache_dir; None: the default) where an earlier run rendered them."""
    if not 2 <= num_classes <= 10:
        raise ValueError(f"data.num_classes must be in 2..10, got {num_classes}")
    labels = np.repeat(np.arange(num_classes), examples_per_class)
    key = (seed, num_classes, examples_per_class, sample_rate, duration, tuple(snr_db))
    waves = _rendered.pop(key, None)
    if waves is not None:
        log.info("synthetic data: the %d examples rendered earlier in this process", len(labels))
    else:
        waves = _waves(key, labels, workers=workers, progress=progress, cache_dir=cache_dir)
        waves.setflags(write=False)  # shared by later calls: nobody writes into it
        while len(_rendered) >= KEPT_SETS:
            _rendered.pop(next(iter(_rendered)))  # the oldest
    _rendered[key] = waves  # the newest
    # One call for the whole set, as always: features of chunks differ in the last bits.
    log.info("synthetic data: computing %s features", features)
    x = compute_features(waves, sample_rate=sample_rate, kind=features, n_mels=n_mels, n_mfcc=n_mfcc,
                         n_fft=n_fft, hop_length=hop_length)
    parts = validation_rounds(stratified_split(labels, (val_fraction, test_fraction), seed), rounds, labels, None, seed)
    info = {"seed": seed, "sample_rate": sample_rate, "duration": duration, "features": features, "split": "random"}
    classes = tuple(f"word{c}" for c in range(num_classes))
    return split_dataset(x, labels.astype(np.int64), parts, classes, name="synthetic", info=info, normalize=normalize)

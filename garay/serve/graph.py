"""The exported graph: a trained network behind its input pipeline's last steps, in torch,
so TorchScript and ONNX carry them. Two forms:

- "waves": mono waveforms (batch, samples), already at the model's sample rate and
  length, in; features (log-mel: centred float32 STFT, the same Slaney mel filters, dB;
  MFCC: its DCT-II as a matrix; waveform: as is), standardisation, network and softmax
  inside. A service then only decodes audio.
- "features": standardised features in, probabilities out: the network alone.

Training computes its features in numpy (float64 window, complex64 spectrum); float32 in
the graph differs in the last bits. garay-export measures the difference on probe audio and
keeps "waves" only when the probabilities agree within GRAPH_TOLERANCE (benchmarks/
graph_features.py measures it on real files); otherwise the package takes features.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from garay.data.features import FeatureSettings
from garay.data.logmel import AMIN, mel_filters

GRAPH_TOLERANCE = 1e-4  # largest |probability difference| from training's numpy pipeline


class Probabilities(torch.nn.Module):
    """Standardised features (batch, channels, frames) -> class probabilities."""

    def __init__(self, net: torch.nn.Module):
        super().__init__()
        self.net = net

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return torch.softmax(self.net(features), dim=1)


class Features(torch.nn.Module):
    """Waves (batch, samples) -> standardised features (batch, channels, frames), as
    garay.data.features computes them, in float32."""

    def __init__(self, settings: FeatureSettings, mean: Any, std: Any, normalize: str = "dataset"):
        super().__init__()
        self.utterance = normalize == "utterance"
        self.kind, self.n_fft, self.hop = settings.kind, settings.n_fft, settings.hop_length
        n = settings.n_fft
        self.register_buffer("window", torch.hann_window(n, periodic=True, dtype=torch.float32))
        self.register_buffer("mel", torch.from_numpy(mel_filters(settings.sample_rate, n, settings.n_mels).T.copy()))
        if settings.kind == "mfcc":
            import scipy.fft

            # dct(x, type=2, norm="ortho") along the mel axis is this matrix times x
            dct = scipy.fft.dct(np.eye(settings.n_mels), axis=0, type=2, norm="ortho")[: settings.n_mfcc]
            self.register_buffer("dct", torch.from_numpy(dct.astype(np.float32)))
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).reshape(1, -1, 1))
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32).reshape(1, -1, 1))

    def forward(self, waves: torch.Tensor) -> torch.Tensor:
        if self.kind == "waveform":
            x = waves.unsqueeze(1)
        else:
            half = self.n_fft // 2
            y = torch.nn.functional.pad(waves, (half, half))  # centred frames, zero padding
            frames = y.unfold(-1, self.n_fft, self.hop) * self.window  # (batch, frames, n_fft)
            spec = torch.fft.rfft(frames, dim=-1)
            power = spec.real * spec.real + spec.imag * spec.imag
            x = 10.0 * torch.log10(torch.clamp(torch.matmul(power, self.mel), min=AMIN)).transpose(1, 2)
            if self.kind == "mfcc":
                x = torch.matmul(self.dct, x)
        if self.utterance:  # garay.data.dataset.normalise_utterances
            x = x - x.mean(dim=2, keepdim=True)
            x = x / (torch.sqrt((x * x).mean(dim=2, keepdim=True)) + 1e-6)
        return (x - self.mean) / self.std


class WavesToProbabilities(torch.nn.Module):
    def __init__(self, features: Features, net: torch.nn.Module):
        super().__init__()
        self.features, self.probabilities = features, Probabilities(net)

    def forward(self, waves: torch.Tensor) -> torch.Tensor:
        return self.probabilities(self.features(waves))


def build(net: torch.nn.Module, preprocess: Any, takes: str) -> torch.nn.Module:
    """The graph to export (eval mode): `takes` "waves" or "features"."""
    if takes == "features":
        return Probabilities(net).eval()
    return WavesToProbabilities(Features(preprocess.features, preprocess.mean, preprocess.std,
                                         preprocess.normalize), net).eval()


def probe_waves(preprocess: Any, n: int = 32, seed: int = 0) -> np.ndarray:
    """Waves like recordings for the export check: bursts of harmonic tones and noise at
    speech-like levels, with silent and zero-padded stretches (where float32 and float64
    differ most), at the model's rate and length."""
    f = preprocess.features
    length = int(round(f.sample_rate * f.duration))
    rng = np.random.default_rng(seed)
    t = np.arange(length) / f.sample_rate
    out = np.zeros((n, length), np.float32)
    for i in range(n):
        start, stop = sorted(rng.integers(0, length, 2))
        f0 = rng.uniform(80, 400)
        tone = sum(np.sin(2 * np.pi * f0 * k * t + rng.uniform(0, 6.3)) / k for k in range(1, 6))
        wave = rng.uniform(0.01, 0.5) * (tone + rng.normal(0, rng.uniform(0.01, 0.3), length))
        out[i, start:stop] = wave[start:stop] * np.hanning(stop - start) if stop > start else 0
        out[i] += rng.normal(0, 1e-4, length) * (i % 2)  # a noise floor in half of them
    return out

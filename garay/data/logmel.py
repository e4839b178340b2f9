"""Log-mel and MFCC features in numpy and scipy.fft, equal bit for bit to librosa's
`power_to_db(melspectrogram(y, power=2.0), ref=1.0, top_db=None)` and `mfcc(S=...)` at
their defaults (centred frames, zero padding, a periodic Hann window, Slaney mel bands).

Why not librosa itself: its first use after an install compiles a dozen numba kernels
(20-30 s of silence on a first run) and every later process pays ~1.5 s to load them,
although these features use none of them. The steps below are librosa 0.11's own, in its
order and dtypes (float64 window times float32 frames, scipy's FFT in blocks of
MAX_MEM_BLOCK bytes, a complex64 spectrum, one einsum with the filters), which is what
keeps the numbers the same; tests/test_data.py checks them against librosa.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import as_strided

MAX_MEM_BLOCK = 2**8 * 2**10  # librosa.util.MAX_MEM_BLOCK: bytes of frames per FFT call
AMIN = 1e-10  # power_to_db's floor


def frames(x: np.ndarray, frame_length: int, hop_length: int) -> np.ndarray:
    """Views of `x` (..., samples) as frames (..., frame_length, n_frames)."""
    shape = (*x.shape[:-1], x.shape[-1] - frame_length + 1, frame_length)
    xw = as_strided(x, strides=(*x.strides, x.strides[-1]), shape=shape, writeable=False)
    return np.moveaxis(xw, -1, -2)[..., ::hop_length]


def hann(n: int) -> np.ndarray:
    """The periodic Hann window (scipy.signal.get_window("hann", n, fftbins=True))."""
    if n <= 1:
        return np.ones(n, dtype=np.float64)
    fac = np.linspace(-np.pi, np.pi, n + 1, dtype=np.float64)
    w = np.zeros(n + 1, dtype=np.float64)
    for k, a in enumerate(np.asarray([0.5, 0.5])):
        w += a * np.cos(k * fac)
    return w[:-1]


def stft(y: np.ndarray, n_fft: int, hop_length: int) -> np.ndarray:
    """The centred, zero-padded short-time Fourier transform (..., 1 + n_fft // 2,
    frames), as librosa.stft computes it: the edge frames from small padded copies, the
    rest from views of `y`, FFT'd in blocks."""
    import scipy.fft

    window = hann(n_fft).reshape((1,) * (y.ndim - 1) + (n_fft, 1))
    half = n_fft // 2
    start_k = int(np.ceil(half / hop_length))  # frames that reach into the left padding
    tail_k = (y.shape[-1] + half - n_fft) // hop_length + 1  # the first frame reaching into the right one
    pad = [(0, 0)] * (y.ndim - 1)
    pre = post = None
    if tail_k <= start_k:  # a short signal: pad it whole
        start = 0
        y = np.pad(y, [*pad, (half, half)], mode="constant")
    else:
        start = start_k * hop_length - half
        y_pre = np.pad(y[..., : (start_k - 1) * hop_length - half + n_fft + 1], [*pad, (half, 0)], mode="constant")
        pre = frames(y_pre, n_fft, hop_length)[..., :start_k]
        if tail_k * hop_length - half + n_fft <= y.shape[-1] + half:
            y_post = np.pad(y[..., tail_k * hop_length - half:], [*pad, (0, half)], mode="constant")
            post = frames(y_post, n_fft, hop_length)
    body = frames(y[..., start:], n_fft, hop_length)
    extra = (0 if pre is None else pre.shape[-1]) + (0 if post is None else post.shape[-1])
    dtype = np.complex64 if y.dtype == np.float32 else np.complex128  # librosa.util.dtype_r2c
    out = np.zeros((*body.shape[:-2], 1 + half, body.shape[-1] + extra), dtype=dtype, order="F")
    offset = 0
    if pre is not None:
        offset = pre.shape[-1]
        out[..., :offset] = scipy.fft.rfft(window * pre, axis=-2)
        if post is not None and post.shape[-1] > 0:
            out[..., -post.shape[-1]:] = scipy.fft.rfft(window * post, axis=-2)
    columns = max(int(MAX_MEM_BLOCK // (np.prod(body.shape[:-1]) * body.itemsize)), 1)
    for a in range(0, body.shape[-1], columns):
        b = min(a + columns, body.shape[-1])
        out[..., a + offset: b + offset] = scipy.fft.rfft(window * body[..., a:b], axis=-2)
    return out


def _hz_to_mel(f: np.ndarray) -> np.ndarray:
    """Slaney's mel scale: linear below 1 kHz, logarithmic above."""
    f = np.asanyarray(f)
    f_sp, min_log_hz = 200.0 / 3, 1000.0
    mels = (f - 0.0) / f_sp
    min_log_mel, logstep = (min_log_hz - 0.0) / f_sp, np.log(6.4) / 27.0
    if f.ndim:
        log = f >= min_log_hz
        mels[log] = min_log_mel + np.log(f[log] / min_log_hz) / logstep
    elif f >= min_log_hz:
        mels = min_log_mel + np.log(f / min_log_hz) / logstep
    return mels


def _mel_to_hz(m: np.ndarray) -> np.ndarray:
    m = np.asanyarray(m)
    f_sp, min_log_hz = 200.0 / 3, 1000.0
    freqs = 0.0 + f_sp * m
    min_log_mel, logstep = (min_log_hz - 0.0) / f_sp, np.log(6.4) / 27.0
    if m.ndim:
        log = m >= min_log_mel
        freqs[log] = min_log_hz * np.exp(logstep * (m[log] - min_log_mel))
    elif m >= min_log_mel:
        freqs = min_log_hz * np.exp(logstep * (m - min_log_mel))
    return freqs


def mel_filters(sample_rate: int, n_fft: int, n_mels: int) -> np.ndarray:
    """Slaney-normalised triangular mel filters (n_mels, 1 + n_fft // 2), 0 Hz to Nyquist,
    float32 (librosa.filters.mel's defaults)."""
    weights = np.zeros((n_mels, 1 + n_fft // 2), dtype=np.float32)
    fft_freqs = np.fft.rfftfreq(n=n_fft, d=1.0 / sample_rate)
    mel_f = _mel_to_hz(np.linspace(_hz_to_mel(0.0), _hz_to_mel(float(sample_rate) / 2), n_mels + 2))
    fdiff = np.diff(mel_f)
    ramps = np.subtract.outer(mel_f, fft_freqs)
    for i in range(n_mels):
        lower = -ramps[i] / fdiff[i]
        upper = ramps[i + 2] / fdiff[i + 1]
        weights[i] = np.maximum(0, np.minimum(lower, upper))
    weights *= (2.0 / (mel_f[2: n_mels + 2] - mel_f[:n_mels]))[:, np.newaxis]
    return weights


def log_mel(y: np.ndarray, *, sample_rate: int, n_fft: int, hop_length: int, n_mels: int) -> np.ndarray:
    """Log-mel power in dB (..., n_mels, frames) of waves `y` (..., samples)."""
    power = np.abs(stft(y, n_fft, hop_length)) ** 2.0
    mel = np.einsum("...ft,mf->...mt", power, mel_filters(sample_rate, n_fft, n_mels), optimize=True)
    db = 10.0 * np.log10(np.maximum(AMIN, mel))
    db -= 10.0 * np.log10(np.maximum(AMIN, np.abs(1.0)))  # ref=1.0, as power_to_db subtracts it
    return db


def mfcc(logmel: np.ndarray, n_mfcc: int) -> np.ndarray:
    """The first `n_mfcc` orthonormal DCT-II coefficients of log-mel frames."""
    import scipy.fft

    return scipy.fft.dct(logmel, axis=-2, type=2, norm="ortho")[..., :n_mfcc, :]

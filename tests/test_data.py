import numpy as np

from garay.data.splits import stratified_split
from garay.data.synthetic import make_synthetic


def test_synthetic_is_deterministic_split_and_standardised():
    a = make_synthetic(seed=3, examples_per_class=30)
    b = make_synthetic(seed=3, examples_per_class=30)
    np.testing.assert_array_equal(a.x_train, b.x_train)
    assert a.sizes() == {"train": 180, "val": 60, "test": 60}
    assert a.input_shape == (32, 32) and a.num_classes == 10
    assert a.x_train.dtype == np.float32
    assert abs(a.x_train.mean()) < 1e-3 and abs(a.x_train.std() - 1) < 1e-2
    for y in (a.y_train, a.y_val, a.y_test):
        assert set(np.bincount(y)) == {np.bincount(y)[0]}  # stratified: balanced classes
    c = make_synthetic(seed=4, examples_per_class=30)
    assert not np.allclose(a.x_train, c.x_train)


def test_stratified_split_is_disjoint_and_complete():
    y = np.repeat(np.arange(5), 20)
    tr, va, te = stratified_split(y, (0.2, 0.1), seed=1)
    assert len(set(tr) | set(va) | set(te)) == 100
    assert not set(tr) & set(va) and not set(tr) & set(te) and not set(va) & set(te)
    assert list(np.bincount(y[va])) == [4] * 5 and list(np.bincount(y[te])) == [2] * 5


def test_split_views_reordered_in_place_equal_gathered_copies():
    """The first split's parts are views of the features reordered in place (no second
    copy); they equal gathering x[indices] and standardising with numpy's mean and std."""
    from garay.data.dataset import split_dataset

    rng = np.random.default_rng(0)
    x = (rng.standard_normal((300, 6, 17)) * 3 + 1).astype(np.float32)
    y = rng.integers(0, 3, 300)
    first, second = stratified_split(y, (0.2, 0.1), seed=0), stratified_split(y, (0.1, 0.3), seed=1)
    data = split_dataset(x.copy(), y, [first, second], ("a", "b", "c"), name="t", info={})
    for d, (train, val, test) in ((data, first), (data.rounds[0], second)):
        mean = x[train].mean(axis=(0, 2), keepdims=True)
        std = x[train].std(axis=(0, 2), keepdims=True) + 1e-6
        for got, idx in ((d.x_train, train), (d.x_val, val), (d.x_test, test)):
            np.testing.assert_array_equal(got, (x[idx] - mean) / std)
        np.testing.assert_array_equal(d.y_val, y[val])
    assert data.x_train.base is not None and data.x_train.base is data.x_test.base  # one array, three views
    partial = (first[0][:-4], first[1], first[2])  # four examples in no part: gathered instead
    some = split_dataset(x.copy(), y, [partial], ("a", "b", "c"), name="t", info={})
    assert len(some.x_train) == len(first[0]) - 4


def test_block_statistics_are_numpys_bit_for_bit():
    from garay.data.dataset import channel_statistics

    rng = np.random.default_rng(1)
    for shape in [(2500, 32, 126), (3, 2, 20000), (1, 5, 7), (1500, 64, 1)]:
        x = (rng.standard_normal(shape) * 4 + 7).astype(np.float32)
        mean, std = channel_statistics(x)
        np.testing.assert_array_equal(mean, x.mean(axis=(0, 2), keepdims=True))
        np.testing.assert_array_equal(std, x.std(axis=(0, 2), keepdims=True))


def test_permute_rows_in_place():
    from garay.data.dataset import permute_rows

    rng = np.random.default_rng(2)
    x = rng.standard_normal((50, 3)).astype(np.float32)
    order = rng.permutation(50)
    y = x.copy()
    permute_rows(y, order)
    np.testing.assert_array_equal(y, x[order])


def _librosa_features(waves, sr, kind, n_mels, n_mfcc, n_fft, hop):
    import librosa

    mel = librosa.feature.melspectrogram(y=waves, sr=sr, n_fft=n_fft, hop_length=hop, n_mels=n_mels, power=2.0)
    logmel = librosa.power_to_db(mel, ref=1.0, top_db=None)
    out = logmel if kind == "logmel" else librosa.feature.mfcc(S=logmel, n_mfcc=n_mfcc)
    return out.astype(np.float32)


def test_features_are_librosas_bit_for_bit(fsdd_root):
    """garay.data.logmel computes librosa's log-mel and MFCC without librosa (whose first
    use compiles numba kernels for half a minute): the same numbers to the last bit, on
    real recordings and on noise, short signals (one padded frame) and odd sizes included."""
    import warnings

    import scipy.signal
    import soundfile as sf

    from garay.data.features import compute_features
    from garay.data.logmel import hann

    for n in (1, 2, 3, 255, 256, 400, 512):
        np.testing.assert_array_equal(hann(n), scipy.signal.get_window("hann", n, fftbins=True))
    files = sorted(fsdd_root.glob("*.wav"))[:40]
    speech = np.zeros((len(files), 4000), np.float32)
    for i, path in enumerate(files):
        wave = sf.read(path, dtype="float32")[0][:4000]
        speech[i, :len(wave)] = wave
    noise = np.random.default_rng(0).normal(size=(5, 4001)).astype(np.float32)
    cases = [(speech, 8000, 32, 256, 128), (speech, 8000, 40, 512, 160), (noise, 8000, 20, 255, 97),
             (noise[:, :300], 8000, 32, 256, 128), (noise[:, :100], 8000, 32, 256, 128),
             (np.repeat(noise, 3, axis=1), 16000, 64, 400, 160)]
    for waves, sr, n_mels, n_fft, hop in cases:
        for kind in ("logmel", "mfcc"):
            ours = compute_features(waves, sample_rate=sr, kind=kind, n_mels=n_mels, n_mfcc=13, n_fft=n_fft,
                                    hop_length=hop)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # librosa: n_fft longer than the 100-sample signal
                theirs = _librosa_features(waves, sr, kind, n_mels, 13, n_fft, hop)
            assert ours.dtype == theirs.dtype and ours.shape == theirs.shape, (kind, waves.shape, n_fft)
            np.testing.assert_array_equal(ours, theirs, err_msg=f"{kind} {waves.shape} n_fft={n_fft} hop={hop}")


def test_synthetic_data_never_imports_librosa():
    """The first run's features need no librosa (nor numba, whose compile is the first
    run's half minute of silence)."""
    import subprocess
    import sys

    code = ("import sys; from garay.data.synthetic import make_synthetic; make_synthetic(examples_per_class=5); "
            "print(sorted(m for m in ('librosa', 'numba') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=300)
    assert out.stdout.strip() == "[]"

"""Real audio: FSDD recordings (the shared copy), WAV folders the tests write, the feature
cache, the three splits, and bad input (one line naming the path, exit status 2)."""

from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from garay.cli import run
from garay.config import ConfigError
from garay.data import load_dataset
from garay.data.audio import decode
from garay.data.errors import DataError
from garay.data.fsdd import list_fsdd, official_split
from garay.data.wav import BadFiles
from tests.conftest import compose_config

SR = 8000


def tone(freq: float, *, sr: int = SR, seconds: float = 0.5, channels: int = 1, seed: int = 0) -> np.ndarray:
    """A sine at `freq` with a little noise, shaped (samples,) or (samples, channels)."""
    t = np.arange(int(sr * seconds)) / sr
    wave = 0.5 * np.sin(2 * np.pi * freq * t) + 0.01 * np.random.default_rng(seed).normal(size=t.shape)
    wave = wave.astype(np.float32)
    return wave if channels == 1 else np.stack([wave] * channels, axis=1)


def write_folder(root: Path, classes: dict[str, float], per_class: int = 6) -> Path:
    """root/{class}/{i}.wav: tones of each class's frequency."""
    for name, freq in classes.items():
        (root / name).mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            sf.write(root / name / f"{i}.wav", tone(freq * (1 + 0.02 * i), seed=i), SR)
    return root


def write_fsdd_like(root: Path, digits=("0", "1"), speakers=("ann", "bob", "cid"), takes=12) -> Path:
    """root/{digit}_{speaker}_{take}.wav, FSDD's naming."""
    root.mkdir(parents=True, exist_ok=True)
    for d, digit in enumerate(digits):
        for s, speaker in enumerate(speakers):
            for take in range(takes):
                sf.write(root / f"{digit}_{speaker}_{take}.wav", tone(300 + 400 * d + 10 * s, seed=take), SR)
    return root


def data_cfg(*overrides: str):
    return compose_config(*overrides).data


# --- FSDD, the real recordings ---------------------------------------------------------


@pytest.fixture(scope="session")
def fsdd_cache(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("fsdd_cache")


@pytest.fixture(scope="session")
def fsdd_official(fsdd_root, fsdd_cache):
    """FSDD with the official split; fills the session's feature cache (computed once)."""
    return load_dataset(data_cfg("data=fsdd", f"data.root={fsdd_root}", f"data.cache_dir={fsdd_cache}"))


def test_fsdd_official_split_holds_out_takes_0_to_4(fsdd_root, fsdd_official):
    data = fsdd_official
    assert data.sizes() == {"train": 2400, "val": 300, "test": 300}
    assert data.input_shape == (32, 63) and data.classes == tuple("0123456789")
    assert data.x_train.dtype == np.float32
    # Standardised with training statistics only: train is centred, the others need not be.
    assert abs(data.x_train.mean()) < 1e-3 and abs(data.x_train.std() - 1) < 1e-2
    recordings = list_fsdd(fsdd_root, BadFiles(skip=False))
    train, val, test = official_split([r.take for r in recordings])
    assert {recordings[i].take for i in test} == set(range(5))
    assert {recordings[i].take for i in val} == set(range(5, 10))
    assert min(recordings[i].take for i in train) == 10
    for part, size in ((test, 300), (val, 300)):  # every speaker says every digit 5 times
        pairs = [(recordings[i].label, recordings[i].speaker) for i in part]
        assert len(set(pairs)) == 60 and len(pairs) == size
    assert np.bincount(data.y_test).tolist() == [30] * 10


def test_fsdd_second_load_comes_from_the_cache(fsdd_root, fsdd_cache, fsdd_official):
    again = load_dataset(data_cfg("data=fsdd", f"data.root={fsdd_root}", f"data.cache_dir={fsdd_cache}"))
    assert again.info["cache_hits"] == 3000 and again.info["cache_misses"] == 0
    np.testing.assert_array_equal(again.x_train, fsdd_official.x_train)
    np.testing.assert_array_equal(again.y_test, fsdd_official.y_test)
    entries = list((fsdd_cache / "features").rglob("*"))
    assert sum(p.suffix == ".npy" for p in entries) == 3000
    assert not [p for p in entries if p.is_file() and p.suffix != ".npy"]  # no pickles, no temp files


def test_fsdd_speaker_split_keeps_speakers_apart(fsdd_root, fsdd_cache, fsdd_official):
    base = ("data=fsdd", f"data.root={fsdd_root}", f"data.cache_dir={fsdd_cache}", "data.split=speaker")
    data = load_dataset(data_cfg(*base, "data.test_speakers=[theo]"))
    assert data.sizes() == {"train": 2000, "val": 500, "test": 500}
    val_speakers = data.info["val_speakers"]
    assert len(val_speakers) == 1 and "theo" not in val_speakers
    assert load_dataset(data_cfg(*base, "data.test_speakers=[theo]")).info["val_speakers"] == val_speakers
    named = load_dataset(data_cfg(*base, "data.test_speakers=[theo,george]", "data.val_speakers=[lucas]"))
    assert named.sizes() == {"train": 1500, "val": 500, "test": 1000}
    assert named.info["val_speakers"] == ["lucas"]
    with pytest.raises(ConfigError) as err:
        load_dataset(data_cfg(*base, "data.test_speakers=[nobody]"))
    assert err.value.key == "data.test_speakers" and "nobody" in str(err.value)


def test_fsdd_random_split_is_stratified(fsdd_root, fsdd_cache, fsdd_official):
    data = load_dataset(data_cfg("data=fsdd", f"data.root={fsdd_root}", f"data.cache_dir={fsdd_cache}",
                                 "data.split=random"))
    assert data.sizes() == {"train": 1800, "val": 600, "test": 600}
    assert np.bincount(data.y_val).tolist() == [60] * 10


def test_fsdd_end_to_end(make_cfg, fsdd_root, fsdd_cache, fsdd_official, tmp_path):
    cfg = make_cfg("data=fsdd", f"data.root={fsdd_root}", f"data.cache_dir={fsdd_cache}",
                   "cluster.backend=inprocess", "cluster.cpus_per_worker=2", "ga.generations=1")
    summary = run(cfg, run_dir=tmp_path)
    assert summary["data"]["sizes"] == {"train": 2400, "val": 300, "test": 300}
    assert summary["data"]["input_shape"] == [32, 63]
    assert summary["evaluations"] >= 4 and (tmp_path / "best.json").exists()
    assert summary["best"]["val_accuracy"] > 0.2  # ten classes: well above chance after one epoch


# --- decoding ---------------------------------------------------------------------------


def test_decode_mixes_down_resamples_and_fits_the_length(tmp_path):
    sf.write(tmp_path / "mono8k.wav", tone(440, seconds=0.5), SR)
    sf.write(tmp_path / "stereo16k.flac", tone(440, sr=16000, seconds=0.5, channels=2), 16000)
    mono = decode((tmp_path / "mono8k.wav").read_bytes(), "mono8k.wav", sample_rate=SR, duration=1.0)
    resampled = decode((tmp_path / "stereo16k.flac").read_bytes(), "x.flac", sample_rate=SR, duration=1.0)
    assert mono.shape == resampled.shape == (SR,) and mono.dtype == np.float32
    assert np.all(mono[4000:] == 0)  # padded at the end
    spectrum = np.abs(np.fft.rfft(resampled[:4000]))
    assert abs(np.argmax(spectrum) * SR / 4000 - 440) <= 2  # the tone survives resampling
    trimmed = decode((tmp_path / "mono8k.wav").read_bytes(), "mono8k.wav", sample_rate=SR, duration=0.25)
    np.testing.assert_array_equal(trimmed, mono[:2000])


# --- folders, features, the cache -------------------------------------------------------


@pytest.mark.parametrize("features, shape", [("logmel", (32, 63)), ("mfcc", (13, 63)), ("waveform", (1, 8000))])
def test_folder_loader_and_features(tmp_path, features, shape):
    root = write_folder(tmp_path / "words", {"low": 200, "mid": 800, "high": 2000}, per_class=10)
    (root / "mid" / "nested").mkdir()
    sf.write(root / "mid" / "nested" / "extra.wav", tone(800, sr=16000), 16000)  # other rate, sub-folder
    (root / ".DS_Store").write_bytes(b"\0junk")  # hidden: never data
    data = load_dataset(data_cfg("data=folder", f"data.root={root}", f"data.cache_dir={tmp_path / 'c'}",
                                 "data.sample_rate=8000", f"data.features={features}", "data.n_mfcc=13"))
    assert data.classes == ("high", "low", "mid")
    assert data.input_shape == shape
    assert sum(data.sizes().values()) == 31


def test_cache_is_invalidated_by_changed_file_or_setting(tmp_path):
    root = write_folder(tmp_path / "words", {"a": 300, "b": 900}, per_class=5)
    base = ("data=folder", f"data.root={root}", f"data.cache_dir={tmp_path / 'cache'}", "data.sample_rate=8000")
    first = load_dataset(data_cfg(*base))
    assert (first.info["cache_hits"], first.info["cache_misses"]) == (0, 10)
    sf.write(root / "a" / "0.wav", tone(1500), SR)  # new contents, same name
    second = load_dataset(data_cfg(*base))
    assert (second.info["cache_hits"], second.info["cache_misses"]) == (9, 1)
    third = load_dataset(data_cfg(*base, "data.n_mels=24"))
    assert (third.info["cache_misses"], third.input_shape) == (10, (24, 63))
    for entry in (tmp_path / "cache").rglob("*.npy"):
        np.load(entry, allow_pickle=False)  # plain arrays: loading never runs code


# --- bad input --------------------------------------------------------------------------


def _bad_root(kind: str, tmp_path: Path) -> tuple[list[str], Path]:
    """Overrides for one kind of bad input, and the path its error must name."""
    if kind == "missing":
        return ["data=folder", f"data.root={tmp_path / 'nowhere'}"], tmp_path / "nowhere"
    if kind == "empty":
        (tmp_path / "empty").mkdir()
        return ["data=fsdd", f"data.root={tmp_path / 'empty'}"], tmp_path / "empty"
    if kind == "empty_class":
        root = write_folder(tmp_path / "w", {"a": 300, "b": 900})
        (root / "c").mkdir()
        return ["data=folder", f"data.root={root}"], root / "c"
    if kind == "corrupt":
        root = write_folder(tmp_path / "w", {"a": 300, "b": 900})
        (root / "b" / "broken.wav").write_bytes(b"RIFF\x00\x00\x00\x00WAVEfmt ")
        return ["data=folder", f"data.root={root}"], root / "b" / "broken.wav"
    if kind == "not_audio":
        root = write_folder(tmp_path / "w", {"a": 300, "b": 900})
        (root / "a" / "notes.txt").write_text("not audio\n")
        return ["data=folder", f"data.root={root}"], root / "a" / "notes.txt"
    if kind == "single_class":
        root = write_folder(tmp_path / "w", {"only": 300})
        return ["data=folder", f"data.root={root}"], root
    if kind == "misnamed":
        root = write_fsdd_like(tmp_path / "fsdd")
        sf.write(root / "seven-by-bob.wav", tone(500), SR)
        return ["data=fsdd", f"data.root={root}"], root / "seven-by-bob.wav"
    raise AssertionError(kind)


BAD = ["missing", "empty", "empty_class", "corrupt", "not_audio", "single_class", "misnamed"]


@pytest.mark.parametrize("kind", BAD)
def test_bad_input_stops_before_training_naming_the_path(kind, make_cfg, tmp_path):
    overrides, path = _bad_root(kind, tmp_path)
    cfg = make_cfg(*overrides, f"data.cache_dir={tmp_path / 'cache'}", "cluster.backend=inprocess")
    with pytest.raises(DataError) as err:
        run(cfg, run_dir=tmp_path / "run")
    message = str(err.value)
    assert err.value.key == "data.root" and str(path) in message and "\n" not in message
    assert not (tmp_path / "run" / "history.jsonl").exists()


def test_skip_bad_skips_with_a_warning_and_a_count(tmp_path, caplog):
    root = write_fsdd_like(tmp_path / "fsdd")
    (root / "0_ann_99.wav").write_bytes(b"garbage")
    (root / "README").write_text("not a recording")
    cfg = data_cfg("data=fsdd", f"data.root={root}", f"data.cache_dir={tmp_path / 'c'}", "data.skip_bad=true")
    with caplog.at_level(logging.WARNING):
        data = load_dataset(cfg)
    assert data.info["skipped"] == 2
    assert data.sizes() == {"train": 12, "val": 30, "test": 30}  # takes 10-11 | 5-9 | 0-4
    warned = caplog.text
    assert "0_ann_99.wav" in warned and "README" in warned and "skipped 2 bad file(s)" in warned


def test_cli_exits_2_with_one_line_for_a_corrupt_file(tmp_path):
    overrides, path = _bad_root("corrupt", tmp_path)
    proc = subprocess.run(
        [sys.executable, "-m", "garay.cli", *overrides, f"data.cache_dir={tmp_path / 'c'}",
         f"hydra.run.dir={tmp_path / 'run'}", "progress=false"],  # stderr: the error line alone
        capture_output=True, text=True, timeout=120, cwd=tmp_path,
    )
    assert proc.returncode == 2
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert lines == [f"garay: error: data.root: {path}: cannot decode as audio: Error in WAV file. No 'data' chunk marker. "
                     "(data.skip_bad=true skips such files with a warning)"]
    assert not (tmp_path / "run" / "history.jsonl").exists()


@pytest.mark.parametrize(
    "overrides, key",
    [
        (["data=folder", "data.root=/x", "data.split=speaker"], "data.speaker_pattern"),
        (["data=synthetic", "data.split=hash"], "data.split"),
        (["data=fsdd", "data.root=/x", "data.split=speaker"], "data.test_speakers"),
        (["data=fsdd", "data.root=/x", "data.split=speaker", "data.test_speakers=[a]", "data.val_speakers=[a]"],
         "data.val_speakers"),
        (["data=fsdd", "data.split=official"], "data.root"),
        (["data=fsdd", "data.root=/x", "data.features=mfcc", "data.n_mfcc=40"], "data.n_mfcc"),
        (["data=fsdd", "data.root=/x", "data.duration=0"], "data.duration"),
    ],
)
def test_bad_data_keys_are_named(overrides, key, make_cfg, tmp_path):
    with pytest.raises(ConfigError) as err:
        run(make_cfg(*overrides), run_dir=tmp_path)
    assert err.value.key == key


def test_cache_entries_are_written_again_into_a_folder_deleted_meanwhile(tmp_path):
    import shutil

    from garay.data.cache import FeatureCache

    cache = FeatureCache(tmp_path / "c", "key")
    a, b = "ab" + "0" * 62, "ab" + "1" * 62  # the same entry folder
    cache.put(a, np.ones((2, 3), dtype=np.float32))
    shutil.rmtree(tmp_path / "c")  # a user clears the cache while a run writes it
    cache.put(b, np.full((2, 3), 2, dtype=np.float32))
    assert cache.unwritable is None
    np.testing.assert_array_equal(cache.get(b), np.full((2, 3), 2, dtype=np.float32))
    assert cache.get(a) is None and (cache.hits, cache.misses) == (1, 1)
    assert not list((tmp_path / "c").rglob(".tmp-*"))  # no temporary file left behind
    cache.path(b).write_bytes(cache.path(b).read_bytes()[:-5])  # truncated: damaged, recomputed
    assert cache.get(b) is None


def test_folder_listing_order_and_visibility(tmp_path):
    """Files in class folders, recursively, hidden ones and linked folders left out, in the
    order sorted paths have (os.scandir lists them; rglob was the reference)."""
    from garay.data.folder import list_folder
    from garay.data.wav import BadFiles

    root = write_folder(tmp_path / "w", {"a": 300, "b": 900}, per_class=2)
    for rel in ("a/sub/x.wav", "a/sub-2/y.wav", "a/sub.z/z.wav", "a/.hidden/h.wav", "b/.h.wav"):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        sf.write(root / rel, tone(300), SR)
    (root / "b" / "linked").symlink_to(root / "a" / "sub", target_is_directory=True)
    recordings = list_folder(root, BadFiles(skip=False))
    expected = sorted(p for c in (root / "a", root / "b") for p in c.rglob("*")
                      if p.is_file() and not any(part.startswith(".") for part in p.relative_to(root).parts))
    assert [r.path for r in recordings] == expected
    assert [r.path.relative_to(root).as_posix() for r in recordings] == [
        "a/0.wav", "a/1.wav", "a/sub/x.wav", "a/sub-2/y.wav", "a/sub.z/z.wav", "b/0.wav", "b/1.wav"]

"""Data preparation at scale: parallel decoding and features (identical to one process),
progress, speaker-aware folders (data.speaker_pattern, data.split=speaker|hash|official)."""

from __future__ import annotations

import hashlib
import importlib.util
import re
import sys
from pathlib import Path

import numpy as np
import pytest

from garay.config import ConfigError
from garay.data import load_dataset
from garay.data.synthetic import forget_rendered, make_synthetic

from .conftest import REPO, compose_config

_spec = importlib.util.spec_from_file_location("speech_corpus", REPO / "benchmarks" / "speech_corpus.py")
speech_corpus = importlib.util.module_from_spec(_spec)
sys.modules["speech_corpus"] = speech_corpus  # dataclasses look their module up there
_spec.loader.exec_module(speech_corpus)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    """A few hundred WAVs in Speech Commands' layout (synthetic words, 40 speaker ids), its
    lists and a _background_noise_ folder, written by the benchmark's generator."""
    root = tmp_path_factory.mktemp("speech_commands")
    speech_corpus.synthetic_corpus(root, files=400, words=4, speakers_count=40, seed=0)
    speech_corpus.write_background(root, np.random.default_rng(0))
    speech_corpus.write_lists(root)
    return root


def folder_cfg(root: Path, cache: Path, *overrides: str):
    return compose_config("data=folder", f"data.root={root}", f"data.cache_dir={cache}", "data.sample_rate=8000",
                          "data.duration=0.5", "data.exclude=[_background_noise_]", *overrides).data


def speakers_of(paths) -> set[str]:
    return {Path(p).name.split("_nohash_")[0] for p in paths}


def test_parallel_features_are_identical_to_one_process(corpus, tmp_path):
    one = load_dataset(folder_cfg(corpus, tmp_path / "c1", "data.workers=1"))
    two = load_dataset(folder_cfg(corpus, tmp_path / "c2", "data.workers=2"))
    again = load_dataset(folder_cfg(corpus, tmp_path / "c2", "data.workers=2"))  # from the cache
    assert one.info["cache_misses"] == two.info["cache_misses"] == 400 and again.info["cache_hits"] == 400
    for name in ("x_train", "y_train", "x_val", "y_val", "x_test", "y_test"):
        np.testing.assert_array_equal(getattr(one, name), getattr(two, name))
        np.testing.assert_array_equal(getattr(one, name), getattr(again, name))
    assert one.classes == ("word0", "word1", "word2", "word3")  # _background_noise_ left out


def test_bad_files_follow_the_same_rules_in_parallel(corpus, tmp_path):
    import shutil

    root = tmp_path / "corpus"
    shutil.copytree(corpus, root)
    # Two bad files in different chunks (of 64): the first in file order is the one named.
    (root / "word1" / "00000000_nohash_0.wav").write_bytes(b"not audio")
    (root / "word3" / "00000001_nohash_0.wav").write_bytes(b"")
    for workers in (1, 2):
        with pytest.raises(ConfigError, match=r"word1/00000000_nohash_0\.wav: cannot decode"):
            load_dataset(folder_cfg(root, tmp_path / f"c{workers}", f"data.workers={workers}"))
    kept = [load_dataset(folder_cfg(root, tmp_path / f"s{w}", f"data.workers={w}", "data.skip_bad=true"))
            for w in (1, 2)]
    assert kept[0].info["skipped"] == kept[1].info["skipped"] == 2
    # The rows after a skipped file close up: the same as a corpus without the two files
    # (to the last bits, which depend on the batch a file is featurised in).
    clean = tmp_path / "clean"
    shutil.copytree(root, clean)
    (clean / "word1" / "00000000_nohash_0.wav").unlink()
    (clean / "word3" / "00000001_nohash_0.wav").unlink()
    reference = load_dataset(folder_cfg(clean, tmp_path / "clean-cache", "data.workers=2"))
    for name in ("x_train", "y_train", "x_val", "y_val", "x_test", "y_test"):
        np.testing.assert_array_equal(getattr(kept[0], name), getattr(kept[1], name))
        np.testing.assert_allclose(getattr(kept[1], name), getattr(reference, name), atol=1e-4)


def test_synthetic_generation_is_identical_on_several_processes(caplog, tmp_path):
    forget_rendered()
    a = make_synthetic(seed=1, examples_per_class=120, workers=1, cache_dir=tmp_path / "a")  # 3 chunks
    forget_rendered()  # rendered again (an empty cache), on 2 processes
    b = make_synthetic(seed=1, examples_per_class=120, workers=2, cache_dir=tmp_path / "b")
    for name in ("x_train", "y_train", "x_val", "x_test"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    with caplog.at_level("INFO", logger="garay.data.synthetic"):  # the same set again: not rendered again
        c = make_synthetic(seed=1, examples_per_class=120, workers=1)
        assert "rendered earlier in this process" in caplog.text
        forget_rendered()  # another process: the waveforms the first call cached on disk
        d = make_synthetic(seed=1, examples_per_class=120, workers=1, cache_dir=tmp_path / "a")
        assert f"from the cache {tmp_path / 'a'}" in caplog.text
    np.testing.assert_array_equal(b.x_train, c.x_train)
    np.testing.assert_array_equal(a.x_train, d.x_train)


def test_progress_bars_show_files_per_second(corpus, tmp_path, capsys):
    load_dataset(folder_cfg(corpus, tmp_path / "c", "data.workers=2"), progress=True)
    forget_rendered()
    make_synthetic(examples_per_class=60, workers=2, progress=True, cache_dir=tmp_path / "s")
    err = capsys.readouterr().err
    assert re.search(r"features: 100%.*400/400.*file/s", err), err[-500:]
    assert re.search(r"synthesizing: 100%.*600/600.*example/s", err), err[-500:]
    load_dataset(folder_cfg(corpus, tmp_path / "c", "data.workers=2"), progress=False)
    assert "features" not in capsys.readouterr().err


def which_set(filename: str, validation_percentage: float, testing_percentage: float) -> str:
    """Speech Commands' README function, verbatim but for Python 3: the reference."""
    max_num_wavs_per_class = 2**27 - 1
    base_name = Path(filename).name
    hash_name = re.sub(r"_nohash_.*$", "", base_name)
    hash_name_hashed = hashlib.sha1(hash_name.encode()).hexdigest()
    percentage_hash = ((int(hash_name_hashed, 16) % (max_num_wavs_per_class + 1))
                       * (100.0 / max_num_wavs_per_class))
    if percentage_hash < validation_percentage:
        return "validation"
    if percentage_hash < (testing_percentage + validation_percentage):
        return "testing"
    return "training"


def _files_of(corpus: Path, speakers) -> int:
    return sum(1 for p in corpus.glob("word*/*.wav") if p.name.split("_nohash_")[0] in set(speakers))


@pytest.mark.parametrize("split", ["speaker", "hash", "official"])
def test_speaker_aware_folder_splits_keep_each_speaker_on_one_side(corpus, tmp_path, split):
    """Expected sides come from the file names alone (the reference which_set, the given
    test speakers, the corpus's lists); the data's sizes must match them."""
    overrides = ["data.speaker_pattern=speech_commands", f"data.split={split}"]
    everyone = speakers_of(corpus.glob("word*/*.wav"))
    if split == "speaker":
        test = sorted(everyone)[:5]
        overrides.append(f"data.test_speakers=[{','.join(test)}]")
    if split == "hash":
        overrides += ["data.val_fraction=0.1", "data.test_fraction=0.1"]  # Speech Commands' own fractions
    data = load_dataset(folder_cfg(corpus, tmp_path / "c", *overrides))
    sizes = data.sizes()
    if split == "official":  # the lists decide, file by file
        listed = {name: (corpus / f"{name}_list.txt").read_text().split() for name in ("validation", "testing")}
        assert (sizes["val"], sizes["test"]) == (len(listed["validation"]), len(listed["testing"]))
        assert sizes["train"] == 400 - sizes["val"] - sizes["test"]
        return
    sides = {k: set(v) for k, v in data.info["split_speakers"].items()} if split == "hash" else {
        "test": set(data.info["test_speakers"]), "val": set(data.info["val_speakers"])}
    if split == "speaker":
        assert sides["test"] == set(test)
        sides["train"] = everyone - sides["test"] - sides["val"]
    else:
        expected = {"train": "training", "val": "validation", "test": "testing"}
        for side, name in expected.items():
            assert sides[side] == {s for s in everyone if which_set(f"{s}_nohash_0.wav", 10, 10) == name}
    assert all(sides.values()) and set().union(*sides.values()) == everyone
    assert not sides["train"] & sides["val"] and not sides["train"] & sides["test"] and not sides["val"] & sides["test"]
    assert all(sizes[side] == _files_of(corpus, names) for side, names in sides.items())


def test_hash_rule_is_speech_commands_which_set():
    from garay.data.splits import hash_side

    rng = np.random.default_rng(0)
    names = [f"{rng.integers(2**32):08x}_nohash_{rng.integers(5)}.wav" for _ in range(2000)]
    sides = ("training", "validation", "testing")
    assert [sides[hash_side(n, 0.1, 0.1)] for n in names] == [which_set(n, 10, 10) for n in names]
    counts = {s: sum(which_set(n, 10, 10) == s for n in names) for s in sides}
    assert 140 < counts["validation"] < 260 and 140 < counts["testing"] < 260


def test_end_to_end_on_a_speaker_folder(corpus, tmp_path, make_cfg):
    from garay.api import evolve

    test = sorted(speakers_of(corpus.glob("word0/*.wav")))[:5]
    result = evolve(make_cfg("data=folder", f"data.root={corpus}", f"data.cache_dir={tmp_path / 'c'}",
                             "data.sample_rate=8000", "data.duration=0.5", "data.exclude=[_background_noise_]",
                             "data.speaker_pattern=speech_commands", "data.split=speaker",
                             f"data.test_speakers=[{','.join(test)}]", "fitness.rounds=1",
                             "cluster.backend=inprocess"), run_dir=tmp_path / "run")
    assert result.summary["evaluations"] == len(result.history) > 0
    assert result.summary["data"]["classes"] == ["word0", "word1", "word2", "word3"]


@pytest.mark.parametrize("overrides, key", [
    (["data.split=hash"], "data.speaker_pattern"),
    (["data.split=speaker", "data.test_speakers=[a]"], "data.speaker_pattern"),
    (["data.speaker_pattern='(unclosed'"], "data.speaker_pattern"),
    (["data.speaker_pattern='^(?P<who>.*)$'"], "data.speaker_pattern"),
    (["data.workers=0"], "data.workers"),
])
def test_speaker_settings_are_checked_naming_the_key(overrides, key, corpus, tmp_path):
    from garay.config import validate

    with pytest.raises(ConfigError) as err:
        cfg = compose_config("data=folder", f"data.root={corpus}", f"data.cache_dir={tmp_path}", *overrides)
        validate(cfg)
        load_dataset(cfg.data)
    assert err.value.key == key


def test_folder_names_that_do_not_match_the_pattern_are_bad_files(corpus, tmp_path):
    import shutil

    root = tmp_path / "corpus"
    shutil.copytree(corpus, root)
    shutil.copy(next((root / "word2").glob("*.wav")), root / "word2" / "take_one.wav")
    with pytest.raises(ConfigError, match="take_one.wav: file name does not match data.speaker_pattern"):
        load_dataset(folder_cfg(root, tmp_path / "c", "data.speaker_pattern=speech_commands"))
    data = load_dataset(folder_cfg(root, tmp_path / "c", "data.speaker_pattern=speech_commands", "data.skip_bad=true"))
    assert data.info["skipped"] == 1


def test_the_speech_commands_preset_reads_the_corpus_layout(corpus, tmp_path):
    cfg = compose_config("data=speech_commands", f"data.root={corpus}", f"data.cache_dir={tmp_path}").data
    assert (cfg.name, cfg.split, cfg.speaker_pattern, list(cfg.exclude)) == \
        ("folder", "hash", "speech_commands", ["_background_noise_"])
    data = load_dataset(cfg)
    assert data.classes == ("word0", "word1", "word2", "word3") and sum(data.sizes().values()) == 400
    assert data.input_shape == (32, 126)  # 16 kHz, one second
    assert data.info["speakers"]["val"] > 0 and data.info["speakers"]["test"] > 0


def test_on_a_cluster_every_node_featurises_and_the_numbers_are_the_same(corpus, tmp_path, cluster, monkeypatch):
    """Joined to a two-node cluster, Ray tasks on both nodes decode and featurise (the
    driver reads the files and keeps the cache): the same arrays as one local process.
    With Ray's threads in this process, a local pool comes from a fork server: the same."""
    import garay.data.prepare

    cluster({"num_cpus": 1}, {"num_cpus": 1})
    monkeypatch.setattr(garay.data.prepare, "CHUNK", 16)  # 25 tasks for SPREAD to place
    local = load_dataset(folder_cfg(corpus, tmp_path / "local", "data.workers=1"))
    remote = load_dataset(folder_cfg(corpus, tmp_path / "remote"), remote=True)
    assert remote.info["prepared_on"] == {"nodes": 2} and local.info["prepared_on"] == {"processes": 1}
    assert remote.info["cache_misses"] == 400
    forked = load_dataset(folder_cfg(corpus, tmp_path / "forked", "data.workers=2"))
    assert forked.info["prepared_on"] == {"processes": 2}
    for name in ("x_train", "y_train", "x_val", "y_val", "x_test", "y_test"):
        np.testing.assert_array_equal(getattr(local, name), getattr(remote, name))
        np.testing.assert_array_equal(getattr(local, name), getattr(forked, name))
    cached = load_dataset(folder_cfg(corpus, tmp_path / "remote"), remote=True)  # the driver's cache; no tasks
    assert cached.info["cache_hits"] == 400 and cached.info["prepared_on"] == {"nodes": 0}
    np.testing.assert_array_equal(cached.x_train, local.x_train)


@pytest.mark.parametrize("split", ["hash", "speaker"])
def test_a_folder_without_speakers_says_which_key_before_featurising(corpus, tmp_path, split):
    # load_dataset straight from Python (no validate()): still the key, before any file is decoded
    cfg = folder_cfg(corpus, tmp_path / "c", f"data.split={split}", "data.test_speakers=[x]")
    with pytest.raises(ConfigError) as err:
        load_dataset(cfg)
    assert err.value.key == "data.speaker_pattern" and not (tmp_path / "c").exists()


def test_official_split_of_a_folder_without_lists_stops_before_featurising(corpus, tmp_path):
    import shutil

    root = tmp_path / "corpus"
    shutil.copytree(corpus, root)
    (root / "testing_list.txt").unlink()
    with pytest.raises(ConfigError, match="testing_list.txt: is missing") as err:
        load_dataset(folder_cfg(root, tmp_path / "c", "data.split=official"))
    assert err.value.key == "data.split" and not (tmp_path / "c").exists()


def test_pool_processes_end_with_a_driver_killed_mid_preparation(tmp_path):
    """SIGKILL a driver while its pool works (two jobs that sleep for ten minutes): no pool
    process outlives it (forked children hold both ends of their task pipe and would
    otherwise wait forever)."""
    import signal
    import subprocess
    import time

    code = "import time; from garay.data.parallel import map_ordered; list(map_ordered(time.sleep, [600, 600], workers=2))"
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=REPO)
    children: list[str] = []
    deadline = time.monotonic() + 300
    while len(children) < 2 and time.monotonic() < deadline:
        children = subprocess.run(["pgrep", "-P", str(proc.pid)], capture_output=True, text=True).stdout.split()
        time.sleep(0.1)
    assert len(children) == 2, f"the pool never started: {children}"
    proc.send_signal(signal.SIGKILL)
    proc.wait()

    def alive(pid: str) -> bool:  # a zombie has ended: whether init reaps it soon is not ours to test
        try:
            return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
        except (FileNotFoundError, ProcessLookupError):
            return False

    deadline = time.monotonic() + 60
    while any(alive(pid) for pid in children) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(alive(pid) for pid in children), "pool processes outlived the driver"

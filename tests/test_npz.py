"""data=npz: pre-computed features with optional split labels and speakers; no pickles."""

from __future__ import annotations

import numpy as np
import pytest

from garay.config import ConfigError
from garay.data import load_dataset
from garay.data.errors import DataError
from tests.conftest import compose_config


def write_npz(path, **arrays):
    np.savez(path, **arrays)
    return path


def features(n: int = 60, channels: int = 4, frames: int = 10, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 3
    return rng.normal(size=(n, channels, frames)) + y[:, None, None], y


def load(path, *overrides: str):
    return load_dataset(compose_config("data=npz", f"data.root={path}", *overrides).data)


def test_random_split_and_class_names(tmp_path):
    x, y = features()
    data = load(write_npz(tmp_path / "f.npz", X=x, y=y, classes=np.array(["cat", "dog", "owl"])))
    assert data.classes == ("cat", "dog", "owl") and data.input_shape == (4, 10)
    assert data.sizes() == {"train": 36, "val": 12, "test": 12}
    assert abs(data.x_train.mean()) < 1e-6


def test_official_split_uses_the_stored_labels(tmp_path):
    x, y = features()
    split = np.array(["train"] * 40 + ["val"] * 10 + ["test"] * 10)
    data = load(write_npz(tmp_path / "f.npz", X=x, y=y, split=split), "data.split=official")
    assert data.sizes() == {"train": 40, "val": 10, "test": 10}
    numeric = load(write_npz(tmp_path / "g.npz", X=x, y=y, split=np.repeat([0, 1, 2], 20)), "data.split=official")
    assert numeric.sizes() == {"train": 20, "val": 20, "test": 20}


def test_speaker_split_and_two_dimensional_x(tmp_path):
    x, y = features(channels=1)
    speakers = np.array(["a", "b", "c", "d", "e"])[np.arange(60) // 12]
    data = load(write_npz(tmp_path / "f.npz", X=x[:, 0, :], y=y.astype(str), speakers=speakers),
                "data.split=speaker", "data.test_speakers=[e]", "data.val_speakers=[d]")
    assert data.input_shape == (1, 10) and data.classes == ("0", "1", "2")
    assert data.sizes() == {"train": 36, "val": 12, "test": 12}


@pytest.mark.parametrize(
    "arrays, overrides, says",
    [
        ({"y": np.zeros(4)}, [], "'X'"),
        ({"X": np.zeros((4, 2, 3))}, [], "'y'"),
        ({"X": np.zeros((4, 2, 3)), "y": np.array([0, 1, 0])}, [], "one label per example"),
        ({"X": np.zeros((4, 2, 3)), "y": np.zeros(4)}, [], "single class"),
        ({"X": np.zeros((4, 2, 3)), "y": np.array([0, 1, 0, 1], dtype=object)}, [], "pickles"),
        ({"X": np.zeros((4, 2, 3)), "y": np.array([0, 1, 0, 1])}, ["data.split=official"], "'split'"),
    ],
)
def test_bad_npz_names_the_file(tmp_path, arrays, overrides, says):
    path = write_npz(tmp_path / "bad.npz", **arrays)
    with pytest.raises(DataError) as err:
        load(path, *overrides)
    assert str(path) in str(err.value) and says in str(err.value)


def test_not_an_npz_and_missing_file(tmp_path):
    (tmp_path / "x.npz").write_text("hello")
    for path in (tmp_path / "x.npz", tmp_path / "missing.npz"):
        with pytest.raises(DataError, match=str(path)):
            load(path)


def test_empty_validation_part_is_refused(tmp_path):
    x, y = features()
    path = write_npz(tmp_path / "f.npz", X=x, y=y, split=np.array(["train"] * 50 + ["test"] * 10))
    with pytest.raises(ConfigError, match="validation set is empty") as err:
        load(path, "data.split=official")
    assert err.value.key == "data.split"

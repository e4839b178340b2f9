"""Pre-computed features in one .npz file (data=npz).

Arrays: `X` (examples, channels, frames) or (examples, frames); `y` labels (integers or
strings); optional `split` (train/val/test per example, or 0/1/2) used by
data.split=official; optional `speakers` used by data.split=speaker; optional `classes`
(names of integer labels 0..k-1). Read with allow_pickle=False: loading never runs code.
"""

from __future__ import annotations

import zipfile
from typing import Any

import numpy as np

from garay.data.dataset import Dataset, split_dataset
from garay.data.errors import DataError
from garay.data.loaders import data_root
from garay.data.splits import choose_split

SPLIT_NAMES = ("train", "val", "test")


def load_npz(cfg: Any, rounds: int = 1) -> Dataset:
    """The data set stored at `data.root` (an .npz file), split and standardised."""
    path = data_root(cfg)
    if not zipfile.is_zipfile(path):  # else numpy would guess "pickle" and say so, misleadingly
        raise DataError(path, "is not an .npz file (a zip archive of .npy arrays)")
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {name: archive[name] for name in archive.files}
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
        raise DataError(path, f"cannot read as .npz without pickles ({exc})") from exc
    return from_arrays(cfg, arrays, path, rounds, name="npz", info={"root": str(path)})


def from_arrays(cfg: Any, arrays: dict[str, Any], path: Any, rounds: int = 1, *, name: str,
                info: dict[str, Any]) -> Dataset:
    """Arrays as an .npz file holds them (X, y; optional split, speakers, classes), checked
    (errors name `path`), split by data.split and standardised."""
    arrays = {k: np.asarray(v) for k, v in arrays.items()}
    for name_ in ("X", "y"):
        if name_ not in arrays:
            raise DataError(path, f"has no array {name_!r} (found {sorted(arrays)}); X and y are needed")
    x, labels = arrays["X"], arrays["y"]
    if x.ndim == 2:
        x = x[:, None, :]  # one channel
    if x.ndim != 3 or not np.issubdtype(x.dtype, np.number):
        raise DataError(path, f"X must be numeric, shaped (examples, channels, frames) or (examples, frames); got {x.dtype} {x.shape}")
    if labels.ndim != 1 or len(labels) != len(x):
        raise DataError(path, f"y must be one label per example of X ({len(x)}); got shape {labels.shape}")
    if not np.all(np.isfinite(x)):
        raise DataError(path, "X holds NaN or infinite values")
    values, y = np.unique(labels, return_inverse=True)
    if len(values) < 2:
        raise DataError(path, f"has a single class {values[0]!r}; classification needs at least 2")
    classes = _class_names(arrays, values, path)
    parts, split_info = _split(cfg, arrays, y.astype(np.int64), path, rounds)
    info = {**info, "split": cfg.split, **split_info}
    return split_dataset(x.astype(np.float32), y.astype(np.int64), parts, classes, name=name, info=info,
                         normalize=cfg.get("normalize", "dataset"))


def _class_names(arrays: dict[str, np.ndarray], values: np.ndarray, path: Any) -> tuple[str, ...]:
    if "classes" not in arrays:
        return tuple(str(v) for v in values)
    names = arrays["classes"]
    if not np.issubdtype(values.dtype, np.integer) or values.min() < 0 or values.max() >= len(names):
        raise DataError(path, f"classes names {len(names)} classes but y holds {values.tolist()}")
    return tuple(str(names[v]) for v in values)


def _split(cfg: Any, arrays: dict[str, np.ndarray], y: np.ndarray, path: Any, rounds: int) -> tuple[list, dict]:
    return choose_split(cfg, y, official=lambda: _official(arrays, y, path), speakers=lambda: _speakers(arrays, y, path, cfg.split),
                        rounds=rounds)


def _official(arrays: dict[str, np.ndarray], y: np.ndarray, path: Any) -> tuple[np.ndarray, ...]:
    """The file's own `split` array as (train, val, test) indices."""
    if "split" not in arrays:
        raise DataError(path, "has no array 'split' for data.split=official (use data.split=random)", key="data.split")
    split = np.asarray(arrays["split"])
    if split.shape != y.shape:
        raise DataError(path, f"split must be one entry per example ({len(y)}); got shape {split.shape}")
    if np.issubdtype(split.dtype, np.integer):
        split = np.array(SPLIT_NAMES + ("?",))[np.where((split >= 0) & (split <= 2), split, 3)]
    split = split.astype(str)
    unknown = sorted(set(split.tolist()) - set(SPLIT_NAMES))
    if unknown:
        raise DataError(path, f"split holds {unknown}; allowed: train, val, test (or 0, 1, 2)")
    return tuple(np.flatnonzero(split == name) for name in SPLIT_NAMES)


def _speakers(arrays: dict[str, np.ndarray], y: np.ndarray, path: Any, split: str = "speaker") -> np.ndarray:
    if "speakers" not in arrays:
        raise DataError(path, f"has no array 'speakers' for data.split={split}", key="data.split")
    speakers = arrays["speakers"].astype(str)
    if speakers.shape != y.shape:
        raise DataError(path, f"speakers must be one entry per example ({len(y)}); got shape {speakers.shape}")
    return speakers

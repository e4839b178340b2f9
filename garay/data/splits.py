"""Splits into training, validation and test indices: stratified, or by speaker."""

from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

from garay.config import ConfigError


def stratified_split(
    y: np.ndarray, fractions: tuple[float, float], seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Indices (train, val, test): each class is shuffled and cut so that `fractions` =
    (val, test) of it go to validation and test. Deterministic for a seed."""
    rng = np.random.default_rng(seed)
    val_frac, test_frac = fractions
    parts: list[list[np.ndarray]] = [[], [], []]
    for label in np.unique(y):
        idx = rng.permutation(np.flatnonzero(y == label))
        n_val = int(round(len(idx) * val_frac))
        n_test = int(round(len(idx) * test_frac))
        parts[1].append(idx[:n_val])
        parts[2].append(idx[n_val:n_val + n_test])
        parts[0].append(idx[n_val + n_test:])
    train, val, test = (np.sort(np.concatenate(p)) for p in parts)
    return train, val, test


def speaker_split(
    speakers: Sequence[str], test: Sequence[str], val: Sequence[str], val_fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[str]]:
    """Indices (train, val, test) with disjoint speakers, and the validation speakers.

    Speakers in `test` are the test set; those in `val` the validation set, or when `val`
    is empty, round(val_fraction x number of speakers) (at least one) of the others, drawn
    with `seed`. Raises ConfigError for an unknown speaker or when no training speaker is left.
    """
    speakers = np.asarray(speakers)
    known = sorted(set(speakers.tolist()))
    for key, names in (("data.test_speakers", test), ("data.val_speakers", val)):
        unknown = sorted(set(names) - set(known))
        if unknown:
            raise ConfigError(key, f"unknown speaker(s) {unknown}; the data has {known}")
    val = list(val)
    if not val:
        remaining = [s for s in known if s not in set(test)]
        n_val = max(1, int(round(val_fraction * len(known))))
        if len(remaining) <= n_val:
            raise ConfigError("data.test_speakers", f"{list(test)} leaves too few of {known} for validation and training")
        rng = np.random.default_rng(seed)
        val = sorted(rng.choice(remaining, size=n_val, replace=False).tolist())
    train_speakers = set(known) - set(test) - set(val)
    if not train_speakers:
        raise ConfigError("data.val_speakers", f"test {list(test)} and validation {val} leave no training speaker of {known}")
    train = np.flatnonzero(np.isin(speakers, list(train_speakers)))
    return train, np.flatnonzero(np.isin(speakers, val)), np.flatnonzero(np.isin(speakers, list(test))), val


def check_split(parts: tuple[np.ndarray, np.ndarray, np.ndarray], split: str) -> None:
    """Raise ConfigError (key data.split) when the training, validation or test set is empty."""
    for name, idx in zip(("training", "validation", "test"), parts):
        if len(idx) == 0:
            raise ConfigError("data.split", f"the {name} set is empty with data.split={split}")


Parts = tuple[np.ndarray, np.ndarray, np.ndarray]


def choose_split(
    cfg: Any, y: np.ndarray, *, official: Callable[[], Parts], speakers: Callable[[], Sequence[str]]
) -> tuple[Parts, dict]:
    """The (train, val, test) indices `data.split` asks for, and what to record about them.
    `official` and `speakers` are asked only when that split is chosen (a loader may raise
    there when its data cannot support it)."""
    if cfg.split == "random":
        return stratified_split(y, (cfg.val_fraction, cfg.test_fraction), cfg.seed), {}
    if cfg.split == "official":
        return official(), {}
    train, val, test, val_speakers = speaker_split(
        speakers(), list(cfg.test_speakers), list(cfg.val_speakers), cfg.val_fraction, cfg.seed
    )
    return (train, val, test), {"test_speakers": list(cfg.test_speakers), "val_speakers": val_speakers}

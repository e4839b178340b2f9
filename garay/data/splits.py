"""Seeded, stratified splits."""

from __future__ import annotations

import numpy as np


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

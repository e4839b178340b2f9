"""Splits into training, validation and test indices: stratified, or by speaker."""

from __future__ import annotations

import hashlib
import re
from typing import Any, Callable, Sequence

import numpy as np

from garay.errors import ConfigError


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


# Speech Commands' which_set(): a file's side depends only on its speaker, through a hash, so
# a corpus that grows keeps every old file on the side it was on.
_HASH_BUCKETS = 2**27 - 1


def hash_side(speaker: str, val_fraction: float, test_fraction: float) -> int:
    """0 (training), 1 (validation) or 2 (test) for a speaker, by Speech Commands' rule:
    sha1 of the speaker's id (the file name up to `_nohash_`) as a percentage."""
    name = re.sub(r"_nohash_.*$", "", speaker)
    percent = (int(hashlib.sha1(name.encode()).hexdigest(), 16) % (_HASH_BUCKETS + 1)) * (100.0 / _HASH_BUCKETS)
    if percent < 100 * val_fraction:
        return 1
    return 2 if percent < 100 * (val_fraction + test_fraction) else 0


def hash_split(speakers: Sequence[str], val_fraction: float, test_fraction: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Indices (train, val, test): every speaker on one side, chosen by `hash_side`. With
    fractions 0.1 and 0.1 this is Speech Commands' own validation and testing lists."""
    sides = {s: hash_side(s, val_fraction, test_fraction) for s in set(speakers)}
    side = np.array([sides[s] for s in speakers], dtype=np.int64)
    return np.flatnonzero(side == 0), np.flatnonzero(side == 1), np.flatnonzero(side == 2)


def check_split(parts: tuple[np.ndarray, np.ndarray, np.ndarray], split: str) -> None:
    """Raise ConfigError (key data.split) when the training, validation or test set is empty."""
    for name, idx in zip(("training", "validation", "test"), parts):
        if len(idx) == 0:
            raise ConfigError("data.split", f"the {name} set is empty with data.split={split}")


Parts = tuple[np.ndarray, np.ndarray, np.ndarray]


def choose_split(
    cfg: Any, y: np.ndarray, *, official: Callable[[], Parts], speakers: Callable[[], Sequence[str]],
    rounds: int = 1,
) -> tuple[list[Parts], dict]:
    """The (train, val, test) indices `data.split` asks for, one per validation round (see
    `validation_rounds`; the first is the split itself), and what to record about them.
    `official` and `speakers` are asked only when that split is chosen (a loader may raise
    there when its data cannot support it)."""
    if cfg.split == "hash":
        who = np.asarray(speakers())
        parts = hash_split(who.tolist(), cfg.val_fraction, cfg.test_fraction)
        check_split(parts, "hash")
        sides = {side: sorted(set(who[p].tolist())) for side, p in zip(("train", "val", "test"), parts)}
        return validation_rounds(parts, rounds, y, who, cfg.seed), {
            "speakers": {side: len(names) for side, names in sides.items()}, "split_speakers": sides}
    if cfg.split in ("random", "official"):
        parts = stratified_split(y, (cfg.val_fraction, cfg.test_fraction), cfg.seed) if cfg.split == "random" \
            else official()
        return validation_rounds(parts, rounds, y, None, cfg.seed), {}
    who = np.asarray(speakers())
    train, val, test, val_speakers = speaker_split(
        who, list(cfg.test_speakers), list(cfg.val_speakers), cfg.val_fraction, cfg.seed
    )
    all_parts = validation_rounds((train, val, test), rounds, y, who, cfg.seed)
    info = {"test_speakers": list(cfg.test_speakers), "val_speakers": val_speakers}
    if rounds > 1:
        info["round_val_speakers"] = [sorted(set(who[p[1]].tolist())) for p in all_parts]
    return all_parts, info


def validation_rounds(parts: Parts, rounds: int, y: np.ndarray, groups: np.ndarray | None, seed: int) -> list[Parts]:
    """`rounds` ways to split the development data (training + validation) into training
    and validation, the test set untouched; the first is `parts` itself.

    With `groups` (speakers), each later round validates on as many other speakers as the
    first, drawn with `seed` without repeats, and trains on the remaining ones, so a
    speaker is never on both sides. Without, each later round is a fresh stratified draw of
    as many validation examples per class as the first holds (rounds may overlap).
    Raises ConfigError (fitness.rounds) when the speakers do not go round."""
    if rounds <= 1:
        return [parts]
    train, val, test = parts
    dev = np.sort(np.concatenate([train, val]))
    out = [parts]
    rng = np.random.default_rng([seed, 1])
    if groups is not None:
        first = sorted(set(groups[val].tolist()))
        others = sorted(set(groups[dev].tolist()) - set(first))
        most = 1 + len(others) // len(first)
        if rounds > most:
            raise ConfigError("fitness.rounds", f"must be at most {most} here: {len(first) + len(others)} "
                                                f"development speakers, {len(first)} per validation round")
        order = rng.permutation(others).tolist()
        for r in range(1, rounds):
            held = order[(r - 1) * len(first): r * len(first)]
            mask = np.isin(groups[dev], held)
            out.append((dev[~mask], dev[mask], test))
        return out
    for _ in range(1, rounds):
        held = []
        for label in np.unique(y[dev]):
            members = dev[y[dev] == label]
            held.append(rng.permutation(members)[: int(np.sum(y[val] == label))])
        held_idx = np.sort(np.concatenate(held))
        out.append((np.setdiff1d(dev, held_idx), held_idx, test))
    return out

"""Free Spoken Digit Dataset layout: one folder of `{label}_{speaker}_{index}.wav` files."""

from __future__ import annotations

import re
from pathlib import Path

from garay.data.errors import DataError
from garay.data.wav import BadFiles, Recording

NAME = re.compile(r"^(?P<label>[^_]+)_(?P<speaker>[^_]+)_(?P<take>\d+)\.wav$", re.IGNORECASE)
# The dataset's own split: takes 0-4 of every speaker and digit are the test set. We hold
# out takes 5-9 for validation the same way, so fitness never sees a test take.
TEST_TAKES = range(0, 5)
VAL_TAKES = range(5, 10)


def list_fsdd(root: Path, bad: BadFiles) -> list[Recording]:
    """Every recording in `root` (not recursive; hidden files ignored), sorted by name.

    A file whose name does not match `{label}_{speaker}_{index}.wav` is a bad file."""
    recordings = []
    for path in sorted(p for p in root.iterdir() if not p.name.startswith(".")):
        if path.is_dir():
            continue
        match = NAME.match(path.name)
        if match is None:
            bad.report(DataError(path, "file name does not match {label}_{speaker}_{index}.wav"))
            continue
        recordings.append(Recording(path, match["label"], match["speaker"], int(match["take"])))
    return recordings


def official_split(takes: list[int]) -> tuple[list[int], list[int], list[int]]:
    """Indices (train, val, test) by take: 0-4 test, 5-9 validation, the rest training."""
    parts: tuple[list[int], list[int], list[int]] = ([], [], [])
    for i, take in enumerate(takes):
        parts[2 if take in TEST_TAKES else 1 if take in VAL_TAKES else 0].append(i)
    return parts

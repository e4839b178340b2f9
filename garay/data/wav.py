"""Audio files as recordings (path, label, speaker), and the bad-file rules."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from garay.data.errors import DataError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Recording:
    """One audio file and what its location or name says about it."""

    path: Path
    label: str
    speaker: str | None = None
    take: int | None = None


SKIP_HINT = "(data.skip_bad=true skips such files with a warning)"


class BadFiles:
    """Bad input files: raise on the first, or (skip_bad) warn about each and count them."""

    def __init__(self, skip: bool):
        self.skip = skip
        self.paths: list[str] = []

    def report(self, error: DataError) -> None:
        """Raise `error`, saying how to skip such files; with skip_bad, warn and count it."""
        if not self.skip:  # the user's next step, where the error is read
            raise DataError(error.path, f"{error.detail} {SKIP_HINT}", key=error.key)
        log.warning("data.skip_bad: skipping %s", error)
        self.paths.append(error.path)

    def summary(self, root: Path) -> None:
        if self.paths:
            log.warning("data.skip_bad: skipped %d bad file(s) under %s", len(self.paths), root)

"""DataError: bad input data, reported like a bad config value (one line, exit status 2)."""

from __future__ import annotations

from pathlib import Path

from garay.errors import ConfigError


class DataError(ConfigError):
    """A data problem found before training: the message names the file or folder.

    A ConfigError, so the CLI prints it as one line and exits with status 2.
    """

    def __init__(self, path: Path | str, message: str, key: str = "data.root"):
        # One line whatever the underlying library said: keep only its first line.
        first_line = str(message).strip().splitlines()[0] if str(message).strip() else "bad input"
        super().__init__(key, f"{path}: {first_line}")
        self.path = str(path)
        self.detail = first_line  # the message without the path (to rebuild it in another process)

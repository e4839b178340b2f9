"""The one error a bad config value or bad input raises: the CLI prints it in one line,
naming the key, and exits with status 2."""

from __future__ import annotations


class ConfigError(ValueError):
    """A config value outside what is allowed; the message names the key."""

    def __init__(self, key: str, message: str):
        super().__init__(f"{key}: {message}")
        self.key = key

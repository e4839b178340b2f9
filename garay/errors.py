"""How a command ends badly: the one error a bad config value or bad input raises (the CLI
prints it in one line, naming the key, and exits with status 2), and a reader that left."""

from __future__ import annotations

import os
import sys
from contextlib import contextmanager
from typing import Iterator


class ConfigError(ValueError):
    """A config value outside what is allowed; the message names the key."""

    def __init__(self, key: str, message: str):
        super().__init__(f"{key}: {message}")
        self.key = key


PIPE_CLOSED = 141  # a shell's status for a command ended by SIGPIPE (128 + 13)


@contextmanager
def reader_may_leave() -> Iterator[None]:
    """Around a command (a context manager, or a decorator of its main): a reader that
    stops early (`garay-predict ... | head`) ends the command quietly with status 141, as
    `cat` would end, instead of a BrokenPipeError traceback. stdout goes to /dev/null
    first, so that the flush at exit does not fail again (Python's documented way, the
    `signal` module's notes)."""
    try:
        try:
            yield
        finally:  # a SystemExit too (--help): what it printed is flushed here, not at exit
            sys.stdout.flush()
    except BrokenPipeError:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        sys.exit(PIPE_CLOSED)

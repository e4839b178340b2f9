"""Progress on stderr: tqdm bars (or nothing when `progress=false`), and a heartbeat log
line for waits that have no bar, so that no step sits silent for more than a few seconds."""

from __future__ import annotations

import logging
import sys
import threading
import time
from contextlib import contextmanager
from typing import Any, Iterator

HEARTBEAT_S = 5.0  # a wait says how long it has waited this often
TICK_S = 1.0  # a ticking bar redraws its clock this often between updates


class NullBar:
    """A bar that shows nothing (progress=false)."""

    def update(self, n: int = 1) -> None: ...

    def set_postfix(self, **kw: Any) -> None: ...

    def close(self) -> None: ...


def progress_bar(total: int | None, desc: str, enabled: bool, unit: str = "eval", *, tick: bool = False) -> Any:
    """A tqdm bar of `total` `unit`s (rate and time left), or a NullBar when not `enabled`.
    With `tick` its elapsed time is redrawn every TICK_S, so a bar waiting for a long
    training still moves (a thread: not for bars shown while data are prepared, since a
    process with threads is not forked)."""
    if not enabled:
        return NullBar()
    from tqdm import tqdm

    # No monitor thread: a process with threads is not forked for data preparation.
    tqdm.monitor_interval = 0
    bar = tqdm(total=total, desc=desc, unit=unit, file=sys.stderr, leave=True, dynamic_ncols=True)
    if not _is_terminal(sys.stderr):
        _no_repeated_end(bar)
    if tick:
        ticker = _Ticker(bar)
        ticker.start()
        close = bar.close

        def close_and_stop() -> None:  # the thread is gone when close returns (a fork may follow)
            close()
            ticker.done.set()
            ticker.join()

        bar.close = close_and_stop
    return bar


def _is_terminal(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


def _no_repeated_end(bar: Any) -> None:
    """Where stderr is no terminal (a log file, a notebook, CI), each frame stays: closing a
    bar whose last frame already showed its end would draw that end again (tqdm redraws it
    with the overall rate, which a terminal overwrites), so it only ends the line then."""
    close, display = bar.close, bar.display
    shown = {"n": None}  # the count the last frame drew

    def display_noting(*args: Any, **kwargs: Any) -> Any:
        shown["n"] = bar.n
        return display(*args, **kwargs)

    def close_once() -> None:
        if not bar.disable and shown["n"] == bar.n:
            bar.display = lambda *args, **kwargs: True  # the end is on the line already
        close()

    bar.display, bar.close = display_noting, close_once


class _Ticker(threading.Thread):
    """Redraws a bar every TICK_S until it is closed."""

    def __init__(self, bar: Any):
        super().__init__(name="garay-progress", daemon=True)
        self.bar, self.done = bar, threading.Event()

    def run(self) -> None:
        while not self.done.wait(TICK_S):
            with self.bar.get_lock():
                if not self.bar.disable:  # tqdm sets it when the bar is closed
                    self.bar.refresh(nolock=True)


@contextmanager
def heartbeat(what: str, logger: logging.Logger, every_s: float = HEARTBEAT_S) -> Iterator[None]:
    """Log `what` now and, until the block ends, every `every_s` seconds how long it has
    taken: for waits with no bar (Ray starting, a cluster placing workers)."""
    logger.info("%s", what)
    done = threading.Event()
    start = time.monotonic()

    def beat() -> None:
        while not done.wait(every_s):
            logger.info("still %s (%.0f s)", what, time.monotonic() - start)

    thread = threading.Thread(target=beat, name="garay-heartbeat", daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join()

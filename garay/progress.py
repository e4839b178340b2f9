"""Progress bars on stderr (tqdm), or nothing when `progress=false`."""

from __future__ import annotations

import sys
from typing import Any


class NullBar:
    """A bar that shows nothing (progress=false)."""

    def update(self, n: int = 1) -> None: ...

    def set_postfix(self, **kw: Any) -> None: ...

    def close(self) -> None: ...


def progress_bar(total: int | None, desc: str, enabled: bool, unit: str = "eval") -> Any:
    """A tqdm bar of `total` `unit`s (rate and time left), or a NullBar when not `enabled`."""
    if not enabled:
        return NullBar()
    from tqdm import tqdm

    # No monitor thread: a process with threads is not forked for data preparation.
    tqdm.monitor_interval = 0
    return tqdm(total=total, desc=desc, unit=unit, file=sys.stderr, leave=True, dynamic_ncols=True)

"""A data loader for tests (data.loader) that waits until `parties` drivers have called it:
a sweep whose jobs ran one after another never gets past it, whatever the machine's load."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import numpy as np


def barrier_loader(cfg: Any, folder: str, parties: int = 2, timeout_s: float = 300.0) -> dict[str, np.ndarray]:
    """Mark this driver in `folder`, wait for `parties` marks, then return a tiny random data set."""
    path = Path(folder)
    path.mkdir(parents=True, exist_ok=True)
    (path / f"{os.getpid()}.here").touch()
    deadline = time.monotonic() + timeout_s
    while len(list(path.glob("*.here"))) < parties:
        if time.monotonic() > deadline:
            raise TimeoutError(f"only {len(list(path.glob('*.here')))} of {parties} drivers ever ran at once")
        time.sleep(0.2)
    rng = np.random.default_rng(0)
    return {"X": rng.normal(size=(120, 8, 16)).astype(np.float32), "y": np.repeat(np.arange(3), 40)}

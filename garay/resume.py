"""A run directory's guards: one driver at a time, and continuing a run only with the
settings it was started with."""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from omegaconf import DictConfig, OmegaConf

from garay.config import ConfigError
from garay.runlog import RUNGS, RunLog


def run_identity(cfg: DictConfig) -> dict[str, Any]:
    """The settings that decide a run's results: a resumed run must match them."""
    keep = ("seed", "blueprint", "ga", "train", "data", "fitness")
    identity = {k: OmegaConf.to_container(cfg[k], resolve=True) if OmegaConf.is_config(cfg[k]) else cfg[k] for k in keep}
    identity["data"].pop("workers", None)  # how many processes prepared the data changes nothing in it
    return identity


def check_resumable(cfg: DictConfig, runlog: RunLog) -> dict[str, Any] | None:
    """The checkpoint to continue from (None: start afresh). Refuses to mix two runs in
    one directory, or to continue a run with different settings (ga.mode among them: the
    identity holds the whole ga group)."""
    # Results of a run: finished genomes, or (killed before any finished) rung results.
    has_history = any(p.exists() and p.stat().st_size > 0 for p in (runlog.history_path, runlog.dir / RUNGS))
    if not cfg.resume:
        if has_history:
            raise ConfigError("resume", f"{runlog.dir} already holds a run; pass resume=true to continue it, "
                                        "or choose another hydra.run.dir")
        return None
    checkpoint = runlog.checkpoint()
    if checkpoint is None:
        if has_history:
            raise ConfigError("resume", f"{runlog.dir} has a history but no checkpoint.json to resume from")
        return None
    before, now = flatten(checkpoint.get("identity", {})), flatten(run_identity(cfg))
    for key in sorted(set(before) | set(now)):
        if key not in before and now[key] in (None, [], {}):
            continue  # a setting added to garay since that run, at its empty default
        if before.get(key) != now.get(key):
            raise ConfigError(key, f"was {before.get(key)!r} in the run being resumed, now {now.get(key)!r}")
    return checkpoint


def flatten(d: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(flatten(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


@contextmanager
def run_lock(run_dir: Path) -> Iterator[None]:
    """One driver per run directory: an exclusive lock on RUN_DIR/.garay.lock (flock: the
    system releases it when the driver ends, even by SIGKILL, so resume is never blocked
    by a dead one). A second driver, e.g. `resume=true` on a live run, refuses."""
    import fcntl
    import os
    import socket

    f = open(run_dir / ".garay.lock", "a+")
    try:
        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        f.seek(0)
        holder = f.read().strip() or "another process"
        f.close()
        raise ConfigError("hydra.run.dir", f"{run_dir} is in use by a live garay driver ({holder}); wait for it to "
                                           "end, or stop it, before resuming") from None
    try:
        f.seek(0)
        f.truncate()
        f.write(f"pid {os.getpid()} on {socket.gethostname()}\n")
        f.flush()
        yield
    finally:
        fcntl.flock(f, fcntl.LOCK_UN)
        f.close()

"""A run directory's guards: one driver at a time, continuing a run only with the
settings it was started with, and a refused command leaving the directory as it found it."""

from __future__ import annotations

import os
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Iterator

from omegaconf import DictConfig, OmegaConf

from garay.config.schema import AugmentConfig, RecipeConfig
from garay.errors import ConfigError
from garay.results.runlog import RUNGS, RunLog


# Settings added to garay since run directories were first written, and the value under
# which a run behaves as it did before they existed: an earlier run resumes at that value.
ADDED = {"ga.crossover": True, "ga.screen": 0, "ga.reevaluate": 0, "data.normalize": "dataset",
         **{f"train.augment.{k}": v for k, v in asdict(AugmentConfig()).items()},
         "train.weight_decay": 0.0, "blueprint.train_genes": False,
         **{f"blueprint.recipe.{k}": v for k, v in asdict(RecipeConfig()).items()}}


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
        if key not in before and (now[key] in (None, [], {}) or (key in ADDED and now[key] == ADDED[key])):
            continue  # a setting added to garay since that run, at a value that changes nothing
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


LOCK = ".garay.lock"


def _in_use(run_dir: Path, holder: str) -> ConfigError:
    return ConfigError("hydra.run.dir", f"{run_dir} is in use by a live garay driver ({holder or 'another process'}); "
                                        "wait for it to end, or stop it, before resuming")


def check_free(run_dir: Path | str) -> None:
    """Refuse (ConfigError), writing nothing, when a live driver holds RUN_DIR's lock."""
    import fcntl

    try:
        f = open(Path(run_dir) / LOCK)  # read only: the probe must not create or change the file
    except OSError:
        return
    with f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise _in_use(Path(run_dir), f.read().strip()) from None
        fcntl.flock(f, fcntl.LOCK_UN)


@contextmanager
def run_lock(run_dir: Path) -> Iterator[None]:
    """One driver per run directory: an exclusive lock on RUN_DIR/.garay.lock (flock: the
    system releases it when the driver ends, even by SIGKILL, so resume is never blocked
    by a dead one). A second driver, e.g. `resume=true` on a live run, refuses."""
    import fcntl
    import socket
    import time

    f = open(run_dir / LOCK, "a+")
    for attempt in range(3):  # check_free's probe holds the lock for an instant: not a live driver
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
            break
        except OSError:
            if attempt == 2:
                f.seek(0)
                holder = f.read().strip()
                f.close()
                raise _in_use(run_dir, holder) from None
            time.sleep(0.05)
    try:
        f.seek(0)
        f.truncate()
        f.write(f"pid {os.getpid()} on {socket.gethostname()}\n")
        f.flush()
        yield
    finally:
        fcntl.flock(f, fcntl.LOCK_UN)
        f.close()


def _is_record(rel: Path) -> bool:
    """A file a command writes before it can refuse: Hydra's record (.hydra/, multirun.yaml),
    the job's log, the driver's lock."""
    return rel.name in (LOCK, "multirun.yaml") or rel.suffix == ".log" or ".hydra" in rel.parts[:-1]


@dataclass
class FoundDir:
    """A directory as a command found it, to put back when the command is refused: the
    record files' bytes and times, the other files' sizes and times (the results), the
    folders, and the topmost folder of the path that did not exist (what the command makes)."""

    path: Path
    made: Path | None
    records: dict[str, tuple[bytes, int, int]]
    results: dict[str, tuple[int, int]]
    dirs: set[str]

    @classmethod
    def of(cls, path: Path | str) -> "FoundDir":
        path = Path(os.path.abspath(path))
        made = None
        for p in (path, *path.parents):
            if p.exists():
                break
            made = p
        records: dict[str, tuple[bytes, int, int]] = {}
        results: dict[str, tuple[int, int]] = {}
        dirs: set[str] = set()
        for root, names, files in os.walk(path):
            here = Path(root).relative_to(path)
            dirs.update(str(here / n) for n in names)
            for name in files:
                rel, full = here / name, Path(root) / name
                try:
                    st = full.stat()
                    if _is_record(rel):
                        records[str(rel)] = (full.read_bytes(), st.st_atime_ns, st.st_mtime_ns)
                    else:
                        results[str(rel)] = (st.st_size, st.st_mtime_ns)
                except OSError:  # gone while we looked (a temporary file)
                    continue
        return cls(path, made, records, results, dirs)

    def put_back(self) -> bool:
        """Make the directory as it was found, when the command wrote nothing but records
        (it was refused before doing anything): records restored byte for byte, new ones and
        new folders removed, the directory itself removed if the command made it. A command
        that wrote results keeps everything (its record tells what ran). Returns whether it
        put the directory back."""
        now = FoundDir.of(self.path)
        if now.results != self.results:
            return False
        for rel in now.records.keys() - self.records.keys():
            (self.path / rel).unlink(missing_ok=True)
        for rel, (data, atime, mtime) in self.records.items():
            if now.records.get(rel, (None, 0, 0))[::2] != (data, mtime):  # (reading changes the atime)
                target = self.path / rel
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(data)
                os.utime(target, ns=(atime, mtime))
        for rel in sorted(now.dirs - self.dirs, key=lambda r: -len(Path(r).parts)):
            _rmdir(self.path / rel)
        if self.made is not None:
            for p in (self.path, *self.path.parents):
                if not _rmdir(p) or p == self.made:
                    break
        return True


def _rmdir(path: Path) -> bool:
    """Remove an empty folder; False when it is not empty (or gone)."""
    try:
        path.rmdir()
        return True
    except OSError:
        return False

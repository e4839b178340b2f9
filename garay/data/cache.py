"""On-disk cache of per-file features, keyed by file contents and feature settings.

An entry is `{cache_dir}/features/{settings key}/{hh}/{sha256 of the file's bytes}.npy`:
a changed file has another hash and a changed setting another folder, so neither can
hit a stale entry. Entries are plain .npy arrays read with allow_pickle=False (loading
one never executes code) and are written atomically (a temporary file in the same folder,
then os.replace), so a crash or a concurrent writer never leaves half an entry behind.
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

# Entry folders this process has made or found (one mkdir each, not one an entry). One
# deleted meanwhile is made again when writing into it fails.
_FOLDERS: set[Path] = set()


def default_cache_dir() -> Path:
    """$XDG_CACHE_HOME/garay, or ~/.cache/garay."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "garay"


def content_hash(data: bytes) -> str:
    """The hex sha256 of a file's bytes: the cache key of its features."""
    return hashlib.sha256(data).hexdigest()


class FeatureCache:
    """Features of files with the same settings (`settings_key`) under `root`."""

    def __init__(self, root: Path | str | None, settings_key: str, *, warn: bool = True):
        self.root = Path(root).expanduser() if root is not None else default_cache_dir()
        self.settings_key = settings_key
        self.folder = self.root / "features" / settings_key
        self.hits = 0
        self.misses = 0
        self.warn = warn  # False in worker processes: they report `unwritable` and the driver warns once
        self.unwritable: str | None = None  # why the cache could not be written, once it could not
        self._token = os.urandom(6).hex()  # names this process's temporary files

    def path(self, digest: str) -> Path:
        # Two-character sub-folders keep any one folder small for large corpora.
        return self.folder / digest[:2] / f"{digest}.npy"

    def get(self, digest: str) -> np.ndarray | None:
        """The cached features of the file with this content hash, or None."""
        try:
            # One read of the whole entry, parsed in memory: np.load on the path costs
            # a dozen system calls an entry (seeks, stats), which add up over 100k files.
            with open(self.path(digest), "rb", buffering=0) as f:
                data = f.read()
            array = np.lib.format.read_array(io.BytesIO(data), allow_pickle=False)
        except FileNotFoundError:
            self.misses += 1
            return None
        except (OSError, ValueError) as exc:  # unreadable or damaged entry: recompute it
            log.warning("ignoring damaged cache entry %s: %s", self.path(digest), exc)
            self.misses += 1
            return None
        self.hits += 1
        return array

    def put(self, digest: str, features: np.ndarray) -> None:
        """Store features atomically. A cache that cannot be written is only a warning."""
        if self.unwritable is not None:
            return
        target = self.path(digest)
        try:
            if target.parent not in _FOLDERS:
                target.parent.mkdir(parents=True, exist_ok=True)
                _FOLDERS.add(target.parent)
            entry = io.BytesIO()
            np.lib.format.write_array(entry, np.ascontiguousarray(features), allow_pickle=False)
            # A name no other process uses (its pid and a random token, on any host): no
            # need for mkstemp's search for a free name.
            tmp = target.with_name(f".tmp-{os.getpid()}-{self._token}-{digest}.npy")
            try:
                fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            except FileNotFoundError:  # the folder went away (a cache cleared meanwhile)
                target.parent.mkdir(parents=True, exist_ok=True)
                fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            try:
                try:
                    view = entry.getbuffer()
                    while view:
                        view = view[os.write(fd, view):]
                finally:
                    os.close(fd)
                os.replace(tmp, target)
            except BaseException:
                tmp.unlink(missing_ok=True)
                raise
        except OSError as exc:
            # Caching is an optimisation: carry on without it rather than fail the run.
            self.unwritable = str(exc)
            if self.warn:
                self.warn_unwritable()

    def warn_unwritable(self) -> None:
        log.warning("feature cache %s is not writable (%s); continuing without caching", self.root, self.unwritable)

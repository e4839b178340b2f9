"""The audio-file data sets (data=fsdd, data=folder): list, featurise (cached), split,
standardise with training statistics."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np

from garay.errors import ConfigError
from garay.data.cache import FeatureCache
from garay.data.dataset import Dataset, split_dataset
from garay.data.errors import DataError
from garay.data.features import FeatureSettings
from garay.data.folder import list_folder, official_lists, read_lists
from garay.data.fsdd import list_fsdd, official_split
from garay.data.prepare import featurise
from garay.data.splits import choose_split
from garay.data.wav import BadFiles, Recording

log = logging.getLogger(__name__)


def data_root(cfg: Any) -> Path:
    """`data.root` as a path that exists, or DataError naming it."""
    root = Path(str(cfg.root)).expanduser()
    if not root.exists():
        raise DataError(root, "does not exist")
    return root


def load_audio(cfg: Any, rounds: int = 1, *, progress: bool = False, remote: bool = False) -> Dataset:
    """The data set of `data=fsdd` or `data=folder` under `data.root`, with `rounds`
    validation rounds; files are decoded and featurised on `data.workers` processes, or
    with `remote` by Ray tasks on the nodes of the cluster this process has joined."""
    root = data_root(cfg)
    if not root.is_dir():
        raise DataError(root, f"is not a folder (data={cfg.name} reads a folder of audio files)")
    bad = BadFiles(skip=bool(cfg.skip_bad))
    log.info("data %s: listing %s", cfg.name, root)
    recordings = list_fsdd(root, bad) if cfg.name == "fsdd" else \
        list_folder(root, bad, speaker_pattern=cfg.get("speaker_pattern"), exclude=list(cfg.get("exclude") or ()))
    if not recordings and not bad.paths:
        raise DataError(root, _empty(root, cfg.name))
    if cfg.split in ("speaker", "hash") and any(r.speaker is None for r in recordings):
        raise ConfigError("data.speaker_pattern", f"is needed for data.split={cfg.split} with data={cfg.name} "
                                                  "(a regex with (?P<speaker>...), or speech_commands)")
    # Read the corpus's own lists now: a missing one stops the run before minutes of featurising.
    lists = read_lists(root) if cfg.name == "folder" and cfg.split == "official" else None
    settings = FeatureSettings.from_config(cfg)
    cache = FeatureCache(cfg.cache_dir, settings.key())
    where: dict[str, Any] = {}
    x, kept = featurise(recordings, settings, cache, bad, workers=cfg.get("workers"), remote=remote,
                        progress=progress, where=where)
    bad.summary(root)
    if not kept:
        raise DataError(root, "has no usable audio files")
    classes = tuple(sorted({r.label for r in kept}))
    if len(classes) < 2:
        raise DataError(root, f"has a single class {classes[0]!r}; classification needs at least 2")
    y = np.array([classes.index(r.label) for r in kept], dtype=np.int64)
    parts, split_info = _split(cfg, root, kept, y, rounds, lists)
    log.info("data %s: %d files from %s (%d features cached, %d computed, %d skipped)", cfg.name, len(kept),
             root, cache.hits, cache.misses, len(bad.paths))
    info = {"root": str(root), "features": settings.kind, "sample_rate": settings.sample_rate,
            "duration": settings.duration, "split": cfg.split, "skipped": len(bad.paths),
            "cache_dir": str(cache.root), "cache_hits": cache.hits, "cache_misses": cache.misses,
            "prepared_on": where, **split_info}
    return split_dataset(x, y, parts, classes, name=cfg.name, info=info, normalize=cfg.get("normalize", "dataset"))


def _empty(root: Path, name: str) -> str:
    """Why a folder gave no recordings, saying what it does hold: data=fsdd reads files
    directly in the folder, so class sub-folders there mean data=folder was meant."""
    folders = sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if name == "fsdd" and folders:
        shown = ", ".join(folders[:5]) + (", ..." if len(folders) > 5 else "")
        return (f"holds no {{label}}_{{speaker}}_{{take}}.wav files but {len(folders)} sub-folder(s) ({shown}): "
                "for one sub-folder per class use data=folder")
    return "is empty: no audio files found"


def _split(cfg: Any, root: Path, recordings: list[Recording], y: np.ndarray, rounds: int,
           lists: tuple[set[str], set[str]] | None) -> tuple[list, dict]:
    official = (lambda: official_split([r.take for r in recordings])) if cfg.name == "fsdd" else \
        (lambda: official_lists(root, recordings, lists))  # type: ignore[arg-type]  # read when split=official
    parts, info = choose_split(
        cfg, y,
        official=lambda: tuple(np.asarray(p, dtype=np.int64) for p in official()),
        speakers=lambda: [r.speaker for r in recordings],
        rounds=rounds,
    )
    if cfg.split == "hash":
        log.info("hash split by speaker: %s speakers (train, val, test)", info["speakers"])
    if cfg.split == "speaker":
        log.info("speaker split: test %s, validation %s%s", info["test_speakers"], info["val_speakers"],
                 f" (validation rounds: {info['round_val_speakers']})" if rounds > 1 else "")
    return parts, info

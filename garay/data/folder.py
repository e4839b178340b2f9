"""Folder-per-class layout: `root/{class}/**/{any audio file}`, optionally with speakers
named in the file names (`data.speaker_pattern`)."""

from __future__ import annotations

import fnmatch
import logging
import os
import re
from pathlib import Path
from typing import Optional, Sequence

from garay.errors import ConfigError
from garay.data.errors import DataError
from garay.data.wav import BadFiles, Recording

log = logging.getLogger(__name__)

# data.speaker_pattern presets. Google Speech Commands: {word}/{speaker}_nohash_{n}.wav,
# the speaker an 8-hex-digit id.
SPEAKER_PATTERNS = {
    "speech_commands": r"^(?P<speaker>[0-9a-fA-F]+)_nohash_(?P<take>\d+)\.wav$",
}


def speaker_regex(pattern: Optional[str]) -> Optional[re.Pattern[str]]:
    """`data.speaker_pattern` compiled (a preset's name or a regex over the file name with
    a named group `speaker`, optionally `take`), or None. ConfigError names the key."""
    if pattern is None:
        return None
    text = SPEAKER_PATTERNS.get(pattern, pattern)
    try:
        regex = re.compile(text)
    except re.error as exc:
        raise ConfigError("data.speaker_pattern", f"is not a regular expression ({exc}): {pattern!r}") from None
    if "speaker" not in regex.groupindex:
        raise ConfigError("data.speaker_pattern", f"needs a named group (?P<speaker>...); got {pattern!r} "
                                                  f"(presets: {', '.join(SPEAKER_PATTERNS)})")
    return regex


def _visible(path: Path, root: Path) -> bool:
    # Hidden files and folders (.DS_Store, .git, ...) are never data.
    return not any(part.startswith(".") for part in path.relative_to(root).parts)


def visible_files(folder: Path) -> list[Path]:
    """Every visible file under `folder`, recursively (not into linked folders, as
    Path.rglob), in the order sorted paths have. os.scandir: one call a folder, where
    rglob and is_file cost a stat a file (seconds for a 100k-file corpus)."""
    found: list[tuple[str, ...]] = []

    def walk(path: str, parts: tuple[str, ...]) -> None:
        with os.scandir(path) as entries:
            for entry in entries:
                if entry.name.startswith("."):
                    continue
                if entry.is_file():
                    found.append((*parts, entry.name))
                elif entry.is_dir(follow_symlinks=False):
                    walk(entry.path, (*parts, entry.name))

    walk(str(folder), ())
    found.sort()  # as paths sort: part by part
    return [Path(folder, *parts) for parts in found]


def list_folder(root: Path, bad: BadFiles, *, speaker_pattern: Optional[str] = None,
                exclude: Sequence[str] = ()) -> list[Recording]:
    """Every file under each class sub-folder of `root` (recursively), labelled with the
    sub-folder's name; sub-folders matching a glob in `exclude` are left out. Every
    visible file is taken for audio: one that does not decode is a bad file later. An
    empty class folder is an error (skipped with data.skip_bad). With `speaker_pattern`,
    each file's speaker (and take) come from its name; a name that does not match is a
    bad file."""
    regex = speaker_regex(speaker_pattern)
    folders = sorted(p for p in root.iterdir() if p.is_dir() and _visible(p, root))
    class_dirs = [p for p in folders if not any(fnmatch.fnmatchcase(p.name, g) for g in exclude)]
    if len(class_dirs) < len(folders):
        log.info("data.exclude: leaving out %s", ", ".join(p.name for p in folders if p not in class_dirs))
    if not class_dirs:
        raise DataError(root, "has no class sub-folders (data=folder expects one sub-folder per class)")
    loose = [p.name for p in root.iterdir() if p.is_file() and _visible(p, root)]
    if loose:
        log.warning("data.root %s: ignoring %d file(s) outside the class sub-folders", root, len(loose))
    recordings = []
    for class_dir in class_dirs:
        files = visible_files(class_dir)
        if not files:
            bad.report(DataError(class_dir, "class folder is empty"))
        for path in files:
            if regex is None:
                recordings.append(Recording(path, class_dir.name))
                continue
            match = regex.match(path.name)
            if match is None:
                bad.report(DataError(path, f"file name does not match data.speaker_pattern {regex.pattern!r}"))
                continue
            take = match.groupdict().get("take")
            recordings.append(Recording(path, class_dir.name, match["speaker"],
                                        int(take) if take and take.isdigit() else None))
    return recordings


def read_lists(root: Path) -> tuple[set[str], set[str]]:
    """Speech Commands' own lists in `root`, `validation_list.txt` and `testing_list.txt`
    (paths relative to it, one per line). DataError names a missing one."""
    held = []
    for name in ("validation_list.txt", "testing_list.txt"):
        path = root / name
        if not path.is_file():
            raise DataError(path, "is missing: data=folder with data.split=official reads the corpus's "
                                  "validation_list.txt and testing_list.txt (else use data.split=hash)",
                            key="data.split")
        held.append({line.strip() for line in path.read_text().splitlines() if line.strip()})
    return held[0], held[1]


def official_lists(root: Path, recordings: Sequence[Recording],
                   lists: tuple[set[str], set[str]]) -> tuple[list[int], list[int], list[int]]:
    """Indices (train, val, test) by the (validation, testing) `lists` of read_lists; every
    other file is training."""
    val, test = lists
    parts: tuple[list[int], list[int], list[int]] = ([], [], [])
    for i, rec in enumerate(recordings):
        rel = rec.path.relative_to(root).as_posix()
        parts[1 if rel in val else 2 if rel in test else 0].append(i)
    return parts

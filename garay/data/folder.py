"""Folder-per-class layout: `root/{class}/**/{any audio file}`."""

from __future__ import annotations

import logging
from pathlib import Path

from garay.data.errors import DataError
from garay.data.wav import BadFiles, Recording

log = logging.getLogger(__name__)


def _visible(path: Path, root: Path) -> bool:
    # Hidden files and folders (.DS_Store, .git, ...) are never data.
    return not any(part.startswith(".") for part in path.relative_to(root).parts)


def list_folder(root: Path, bad: BadFiles) -> list[Recording]:
    """Every file under each class sub-folder of `root` (recursively), labelled with the
    sub-folder's name. Every visible file is taken for audio: one that does not decode is a
    bad file later. An empty class folder is an error (skipped with data.skip_bad)."""
    class_dirs = sorted(p for p in root.iterdir() if p.is_dir() and _visible(p, root))
    if not class_dirs:
        raise DataError(root, "has no class sub-folders (data=folder expects one sub-folder per class)")
    loose = [p.name for p in root.iterdir() if p.is_file() and _visible(p, root)]
    if loose:
        log.warning("data.root %s: ignoring %d file(s) outside the class sub-folders", root, len(loose))
    recordings = []
    for class_dir in class_dirs:
        files = sorted(p for p in class_dir.rglob("*") if p.is_file() and _visible(p, root))
        if not files:
            bad.report(DataError(class_dir, "class folder is empty"))
        recordings.extend(Recording(path, class_dir.name) for path in files)
    return recordings

"""A driver killed mid-run, in one process: the run goes on to its end (the uninterrupted
run), and its directory is copied as it stood at the moment a given file got its N-th
line (or was first written): every write before that moment is on disk, nothing after it,
which is what a SIGKILL leaves there (tests/golden.py records its killed runs this way).
Each test module that resumes killed runs also kills one real driver process, for what
only a real kill leaves behind (a dead driver's lock file)."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Callable

# What a real driver's death leaves that a copy taken in a live process would get wrong:
# the lock of a process that is still alive (the test's own), and Hydra's files.
NOT_COPIED = shutil.ignore_patterns(".garay.lock", ".hydra", "*.log")


def run_and_copy_when(run: Callable[[], object], run_dir: Path, into: Path, file: str, count: int) -> None:
    """Call `run` (which writes `run_dir`), copying `run_dir` to `into` right after `file`
    (history.jsonl, rungs.jsonl: an appended line; checkpoint.json: a write) holds
    `count` lines, or is written for the `count`-th time."""
    from garay.results.runlog import RunLog

    append, write = RunLog.append, RunLog.write
    seen = {"writes": 0}

    def copy(log: RunLog) -> None:
        if not into.exists():
            shutil.copytree(log.dir, into, ignore=NOT_COPIED)

    def spy_append(self: RunLog, record: dict, name: str = "history.jsonl") -> None:
        append(self, record, name)
        if name == file and len((self.dir / name).read_text().splitlines()) == count:
            copy(self)

    def spy_write(self: RunLog, name: str, obj: object) -> None:
        write(self, name, obj)
        if name == file:
            seen["writes"] += 1
            if seen["writes"] == count:
                copy(self)

    RunLog.append, RunLog.write = spy_append, spy_write
    try:
        run()
    finally:
        RunLog.append, RunLog.write = append, write
    assert into.exists(), f"{file} never reached {count}"


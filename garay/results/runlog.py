"""The run directory: history.jsonl, best.json, summary.json, checkpoint.json, and
rungs.jsonl (results at early-stopping rungs, for resume).

Everything is JSON (never pickle). History lines are flushed and fsynced as they are
written; the other files are replaced atomically (write a temporary file, then rename).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Iterator

HISTORY = "history.jsonl"
BEST = "best.json"
SUMMARY = "summary.json"
CHECKPOINT = "checkpoint.json"
RUNGS = "rungs.jsonl"  # a genome's result at each early-stopping rung it passed
PARETO = "pareto.json"  # multi-objective runs (ga.objectives): the non-dominated evaluations


def write_json_atomic(path: Path, obj: Any) -> None:
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "w") as f:
        json.dump(obj, f, indent=2, sort_keys=True)
        f.write("\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def read_json(path: Path) -> Any:
    with open(path) as f:
        return json.load(f)


class RunLog:
    """Writes one run's files into `run_dir`."""

    def __init__(self, run_dir: Path | str):
        self.dir = Path(run_dir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.history_path = self.dir / HISTORY

    def append(self, record: dict[str, Any], name: str = HISTORY) -> None:
        """One finished evaluation (or, to rungs.jsonl, one rung result), on disk before
        this returns."""
        line = json.dumps(record, sort_keys=True, separators=(",", ":"))
        with open(self.dir / name, "a") as f:
            f.write(line + "\n")
            f.flush()
            os.fsync(f.fileno())

    def repair(self) -> None:
        """Drop a torn last line (the driver killed mid-write) so appends start clean."""
        for path in (self.history_path, self.dir / RUNGS):
            if not path.exists():
                continue
            data = path.read_bytes()
            if data and not data.endswith(b"\n"):
                keep = data[: data.rfind(b"\n") + 1]
                with open(path, "wb") as f:
                    f.write(keep)
                    f.flush()
                    os.fsync(f.fileno())

    def checkpoint(self) -> dict[str, Any] | None:
        path = self.dir / CHECKPOINT
        return read_json(path) if path.exists() else None

    def history(self) -> list[dict[str, Any]]:
        return list(read_history(self.history_path))

    def rung_history(self) -> list[dict[str, Any]]:
        return list(read_history(self.dir / RUNGS))

    def write(self, name: str, obj: Any) -> None:
        write_json_atomic(self.dir / name, obj)


def read_history(path: Path | str) -> Iterator[dict[str, Any]]:
    """History records; a torn last line (a crash mid-write) is ignored."""
    path = Path(path)
    if not path.exists():
        return
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            try:
                yield json.loads(line)
            except json.JSONDecodeError:
                continue

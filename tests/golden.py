"""Golden runs: every mode, every early-stopping policy, several objectives, the fitting
and budget options, recorded once (`python -m tests.golden record`) and held against the
code by tests/test_golden.py: the same history.jsonl, checkpoint.json, best.json and
pareto.json, field for field, and run directories written by the recording code still
resume to the same end.

What varies between runs of the same code is left out: the run id (random), clocks
(seconds, finished_at, latency), and where a genome trained (worker, node, GPU ids).
"""

from __future__ import annotations

import json
import math
import shutil
import sys
from pathlib import Path
from typing import Any

DATA = Path(__file__).resolve().parent / "data" / "golden"
BASE = ["ga.population_size=4", "ga.generations=2", "ga.num_parents=2", "train.epochs=1",
        "data.examples_per_class=40", "progress=false", "cluster.backend=inprocess", "seed=7"]
HALVING = ["train.epochs=3", "train.grace_epochs=1"]
MEDIAN = ["train.epochs=4", "train.rungs=[2]"]  # two epochs before the rung: accuracies above chance, to tell apart
TINY_SPACE = ["blueprint.max_layers=1", "blueprint.layer_sizes=[8,16]", "blueprint.activations=[relu]",
              "blueprint.dropouts=[0.1]", "blueprint.filters=[8]", "blueprint.kernel_sizes=[3]",
              "blueprint.strides=[1]", "blueprint.paddings=[1]", "blueprint.pool_sizes=[2]"]
CONFIGS: dict[str, list[str]] = {
    "generational": [],
    "generational_halving": ["train.early_stop=halving", *HALVING],
    "generational_median": ["train.early_stop=median", *MEDIAN, "ga.population_size=6", "ga.generations=3",
                            "data.examples_per_class=60"],
    "async": ["ga.mode=async"],
    "async_halving": ["ga.mode=async", "train.early_stop=halving", *HALVING],
    "async_median": ["ga.mode=async", "train.early_stop=median", *MEDIAN, "ga.population_size=6",
                     "data.examples_per_class=60"],
    "random": ["ga.mode=random", "ga.generations=3"],
    "random_halving": ["ga.mode=random", "train.early_stop=halving", *HALVING],
    "pareto": ["ga.objectives=[fitness,params]", "ga.generations=3"],
    "async_pareto": ["ga.mode=async", "ga.objectives=[fitness,params]"],
    "redraw_unique_maxparams": ["ga.fit=redraw", "ga.unique_children=true", "ga.max_params=60000",
                                "ga.generations=3"],
    # A search space of a few genomes: repeats, rebreeding, random search running dry.
    "tiny_space": [*TINY_SPACE, "ga.generations=4"],
    "tiny_space_unique": [*TINY_SPACE, "ga.generations=4", "ga.unique_children=true"],
    "tiny_space_random": [*TINY_SPACE, "ga.mode=random", "ga.generations=4"],
    "tiny_space_async": [*TINY_SPACE, "ga.mode=async", "ga.generations=4"],
    "budget_epochs": ["train.early_stop=halving", *HALVING, "ga.generations=20", "ga.budget_epochs=30"],
    "async_budget_epochs": ["ga.mode=async", "train.early_stop=halving", *HALVING, "ga.budget_epochs=30"],
}
# Run directories as a driver killed mid-run left them (written by the recording code):
# config -> after how many finished evaluations the snapshot was taken.
RESUMES = {"generational_halving": 5, "async_halving": 3, "pareto": 6}
FILES = ("history.jsonl", "checkpoint.json", "best.json", "pareto.json", "rungs.jsonl")
VOLATILE = {"run_id", "seconds", "finished_at", "latency_ms", "worker", "node_id", "gpu_ids",
            "cuda_visible_devices"}


def overrides(name: str) -> list[str]:
    return [*BASE, *CONFIGS[name]]


def run(name: str, run_dir: Path, *extra: str) -> None:
    from garay.cli import run as garay_run
    from tests.conftest import compose_config

    garay_run(compose_config(*overrides(name), *extra), run_dir=run_dir)


def _scrub(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: _scrub(v) for k, v in obj.items() if k not in VOLATILE}
    if isinstance(obj, list):
        return [_scrub(v) for v in obj]
    return obj


def snapshot(run_dir: Path) -> dict[str, Any]:
    """What a run directory holds that the same code always writes alike."""
    out: dict[str, Any] = {}
    for name in FILES:
        path = run_dir / name
        if not path.exists():
            continue
        if name.endswith(".jsonl"):
            out[name] = [_scrub(json.loads(line)) for line in path.read_text().splitlines() if line.strip()]
        else:
            out[name] = _scrub(json.loads(path.read_text()))
    return out


def without_added(expected: dict[str, Any], now: dict[str, Any]) -> dict[str, Any]:
    """`now` without the settings added to garay since the golden files were written
    (garay.results.resume.ADDED), where they hold the value that changes nothing: a
    checkpoint's identity records every ga key."""
    from garay.results.resume import ADDED

    now = json.loads(json.dumps(now))
    before = expected.get("checkpoint.json", {}).get("identity", {})
    identity = now.get("checkpoint.json", {}).get("identity", {})
    for key, neutral in ADDED.items():
        *path, name = key.split(".")
        was, node = before, identity
        for part in path:
            was, node = was.get(part, {}), node.get(part, {})
        if name not in was and node.get(name) == neutral:
            node.pop(name)
    for group, settings in identity.items():  # a group of added settings (train.augment), now empty
        for name in [n for n, v in settings.items() if v == {} and n not in before.get(group, {})] \
                if isinstance(settings, dict) else ():
            settings.pop(name)
    return now


def differences(expected: Any, actual: Any, where: str = "", tol: float = 0.0) -> list[str]:
    """Where `actual` differs from `expected` (floats within `tol`: 0 is bit for bit)."""
    if isinstance(expected, dict) and isinstance(actual, dict):
        out = [f"{where}: keys {sorted(set(expected) ^ set(actual))}"] if set(expected) != set(actual) else []
        for k in sorted(set(expected) & set(actual)):
            out += differences(expected[k], actual[k], f"{where}.{k}", tol)
        return out
    if isinstance(expected, list) and isinstance(actual, list):
        if len(expected) != len(actual):
            return [f"{where}: {len(expected)} items, now {len(actual)}"]
        return [d for i, (a, b) in enumerate(zip(expected, actual)) for d in differences(a, b, f"{where}[{i}]", tol)]
    if isinstance(expected, float) and isinstance(actual, (int, float)) and not isinstance(actual, bool):
        ok = expected == actual or (tol > 0 and math.isclose(expected, actual, abs_tol=tol))
        return [] if ok else [f"{where}: {expected!r}, now {actual!r}"]
    return [] if expected == actual and type(expected) is type(actual) else [f"{where}: {expected!r}, now {actual!r}"]


def _kill_snapshot(name: str, after: int, run_dir: Path, into: Path) -> None:
    """Run `name` and copy its directory as it stood when the `after`-th evaluation was
    on disk (before anything else was written): what a SIGKILL then leaves."""
    from tests.killed import run_and_copy_when

    run_and_copy_when(lambda: run(name, run_dir), run_dir, into, "history.jsonl", after)


def record(root: Path) -> None:
    """Write the golden files (tests/data/golden) from the code as it is now."""
    DATA.mkdir(parents=True, exist_ok=True)
    for name in CONFIGS:
        run(name, root / name)
        (DATA / f"{name}.json").write_text(json.dumps(snapshot(root / name), indent=1, sort_keys=True) + "\n")
        print(name, "recorded", flush=True)
    for name, after in RESUMES.items():
        into = DATA / f"killed_{name}"
        shutil.rmtree(into, ignore_errors=True)
        _kill_snapshot(name, after, root / f"kill_{name}", into)
        print(name, "killed after", after, flush=True)


def check(root: Path) -> int:
    """Every golden run again, compared with no tolerance (bit for bit); the number of runs
    that differ."""
    bad = 0
    for name in CONFIGS:
        run(name, root / name)
        expected = json.loads((DATA / f"{name}.json").read_text())
        diffs = differences(expected, without_added(expected, snapshot(root / name)), name)
        bad += bool(diffs)
        print(name, "identical" if not diffs else "DIFFERS:\n  " + "\n  ".join(diffs[:10]), flush=True)
    return bad


if __name__ == "__main__":
    import tempfile

    if sys.argv[1:] not in (["record"], ["check"]):
        sys.exit("usage: python -m tests.golden record|check")
    with tempfile.TemporaryDirectory() as tmp:
        if sys.argv[1] == "record":
            record(Path(tmp))
        else:
            sys.exit(1 if check(Path(tmp)) else 0)

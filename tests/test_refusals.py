"""A refused command leaves an existing run directory exactly as it was (byte for byte,
its Hydra record and log too) and makes no new one: `garay`, `garay -m`, garay.evolve."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import garay
from garay.config import ConfigError
from tests.conftest import TINY

ARGS = [*TINY, "cluster.backend=inprocess"]
# Convs only, kernel 31, stride 2, pool 3: no conv layer fits 32 frames. Refused only once
# the data is loaded, after Hydra made the run directory.
UNFIT = ["ga.conv_chance=1.0", "blueprint.kernel_sizes=[31]", "blueprint.paddings=[0]", "blueprint.pool_sizes=[3]",
         "blueprint.strides=[2]", "ga.max_redraws=5"]


def _garay(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "garay.cli", *args], capture_output=True, text=True, timeout=600,
                          cwd=cwd)


def _tree(path: Path) -> dict[str, bytes]:
    """Every file under `path` with its bytes."""
    return {str(p.relative_to(path)): p.read_bytes() for p in sorted(path.rglob("*")) if p.is_file()}


def _refused(proc: subprocess.CompletedProcess, key: str) -> None:
    assert proc.returncode == 2, proc.stderr[-2000:]
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"garay: error: {key}:"), proc.stderr[-2000:]


@pytest.fixture(scope="module")
def existing_run(tmp_path_factory):
    """A finished run made by the CLI: history, results, .hydra/, garay.log, .garay.lock."""
    run_dir = tmp_path_factory.mktemp("existing") / "run"
    proc = _garay(*ARGS, f"hydra.run.dir={run_dir}", cwd=run_dir.parent)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert {".hydra/config.yaml", "garay.log", ".garay.lock", "history.jsonl"} <= set(_tree(run_dir))
    return run_dir


@pytest.mark.parametrize("extra, key", [
    (["ga.mutation_rate=2"], "ga.mutation_rate"),  # a bad value
    ([], "resume"),  # a new run into a directory that holds one
    (["resume=true", "ga.mutation_rate=0.5"], "ga.mutation_rate"),  # resume with other settings
])
def test_a_refused_command_leaves_an_existing_run_as_it_was(existing_run, tmp_path, extra, key):
    before = _tree(existing_run)
    _refused(_garay(*ARGS, *extra, f"hydra.run.dir={existing_run}", cwd=tmp_path), key)
    assert _tree(existing_run) == before
    assert not any(tmp_path.iterdir())


def test_a_refused_command_makes_no_run_directory(tmp_path):
    _refused(_garay(*ARGS, "ga.mutation_rate=2", f"hydra.run.dir={tmp_path / 'a' / 'run'}", cwd=tmp_path),
             "ga.mutation_rate")
    _refused(_garay(*ARGS, "ga.mutation_rate=2", cwd=tmp_path), "ga.mutation_rate")  # outputs/DATE/TIME
    # Refused after the data is loaded, when Hydra has made the directory: it goes again.
    _refused(_garay(*ARGS, *UNFIT, f"hydra.run.dir={tmp_path / 'b' / 'run'}", cwd=tmp_path), "blueprint")
    assert not any(tmp_path.iterdir())


def test_a_late_refusal_puts_an_existing_directory_back(tmp_path):
    run_dir = tmp_path / "mine"
    (run_dir / ".hydra").mkdir(parents=True)
    (run_dir / "notes.txt").write_text("my notes\n")
    (run_dir / ".hydra" / "config.yaml").write_text("seed: 7\n")
    (run_dir / "garay.log").write_text("an earlier log\n")
    before = _tree(run_dir)
    _refused(_garay(*ARGS, *UNFIT, f"hydra.run.dir={run_dir}", cwd=tmp_path), "blueprint")
    assert _tree(run_dir) == before and sorted(p.name for p in tmp_path.iterdir()) == ["mine"]


def test_a_refused_multirun_makes_no_sweep_directory(existing_run, tmp_path):
    sweep = tmp_path / "sweep"
    # The second job's value is bad: refused before the first job runs.
    _refused(_garay("-m", *ARGS, "ga.mutation_rate=0.1,2", f"hydra.sweep.dir={sweep}", cwd=tmp_path),
             "ga.mutation_rate")
    assert not sweep.exists()
    # A job whose directory holds a run (job 1 is sweep/1): refused before job 0 runs, job 1's run untouched.
    shutil.copytree(existing_run, sweep / "1")
    before = _tree(sweep)
    _refused(_garay("-m", *ARGS, "seed=0,1", f"hydra.sweep.dir={sweep}", cwd=tmp_path), "resume")
    assert _tree(sweep) == before and sorted(p.name for p in sweep.iterdir()) == ["1"]


def test_evolve_refused_after_loading_the_data_leaves_no_directory(tmp_path):
    with pytest.raises(ConfigError) as err:
        garay.evolve(overrides=[*ARGS, *UNFIT], run_dir=tmp_path / "new")
    assert err.value.key == "blueprint" and not (tmp_path / "new").exists()

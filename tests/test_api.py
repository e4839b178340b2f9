"""The Python API: `garay.evolve` runs what the CLI runs and returns a result object."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import garay
from garay.cli import run
from garay.config import ConfigError
from garay.search.genome import Genome
from garay.results.runlog import read_history
from tests.conftest import TINY, compose_config

REPO = Path(__file__).resolve().parents[1]
SMALL = dict(ga={"population_size": 4, "generations": 2, "num_parents": 2}, train={"epochs": 1},
             data={"examples_per_class": 40}, cluster={"backend": "inprocess"}, progress=False)


def test_evolve_returns_the_run_and_matches_the_cli(tmp_path):
    result = garay.evolve(run_dir=tmp_path / "api", seed=3, **SMALL)
    assert isinstance(result, garay.RunResult) and result.run_dir == tmp_path / "api"
    assert len(result.history) == result.summary["evaluations"] == 6  # 4 + (2 - 1) x (4 - 2)
    assert isinstance(result.best_genome, Genome) and result.best["hash"] == result.best_genome.hash
    assert 0 < result.val_accuracy <= 1 and 0 <= result.test_accuracy <= 1
    for name in ("history.jsonl", "best.json", "summary.json", "checkpoint.json", "fitness.png"):
        assert (result.run_dir / name).is_file(), name
    # The CLI's path (a composed config through garay.cli.run) gives the same run.
    cli = run(compose_config(*TINY, "cluster.backend=inprocess", "seed=3"), run_dir=tmp_path / "cli")
    assert cli["best"] == result.summary["best"]
    assert [(h["hash"], h["fitness"]) for h in result.history] == [
        (h["hash"], h["fitness"]) for h in read_history(tmp_path / "cli" / "history.jsonl")]


def test_group_options_overrides_and_a_config_mapping(tmp_path):
    cfg = garay.compose(["train.lr=0.01"], data="fsdd", ga={"mode": "async"}, seed=5)
    assert cfg.data.name == "fsdd" and cfg.data.split == "official" and cfg.train.lr == 0.01
    assert cfg.ga.mode == "async" and cfg.seed == 5 and cfg.ga.population_size == 10
    result = garay.evolve({"seed": 1, **SMALL}, run_dir=tmp_path)  # a plain mapping works like keywords
    assert result.summary["seed"] == 1


@pytest.mark.parametrize("settings, key", [
    (dict(ga={"popsize": 3}), "ga.popsize"),
    (dict(ga={"population_size": "many"}), "ga.population_size"),
    (dict(data="nope"), "data"),
    (dict(ga={"population_size": 4, "num_parents": 4}), "ga.num_parents"),  # typed right, validate() refuses
])
def test_bad_settings_are_one_config_error_naming_the_key(tmp_path, settings, key):
    with pytest.raises(ConfigError) as err:
        garay.evolve(run_dir=tmp_path, **{**SMALL, **settings})
    assert err.value.key == key
    assert not (tmp_path / "history.jsonl").exists()


def test_the_example_runs(tmp_path):
    proc = subprocess.run([sys.executable, str(REPO / "examples" / "evolve_api.py"), str(tmp_path)],
                          capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "evaluations; best validation accuracy" in proc.stdout and (tmp_path / "best.json").is_file()

"""The public ask/tell API (garay.AskTell): your own scores drive the same strategies as
the driver loop does, with no Ray and no Hydra; the README's example runs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from garay import AskTell
from garay.config.schema import GAConfig
from garay.execution.evaluation import TrainSettings
from garay.execution.inprocess import InProcessEvaluator
from garay.execution.standin import SleepTrainer
from garay.results.runlog import RunLog, read_history
from garay.search import Blueprint, GenomeSpace
from garay.strategies.search import Search

REPO = Path(__file__).resolve().parents[1]
SPACE = dict(input_shape=(32, 32), num_classes=10)


def _hash_score(task) -> float:
    """What the stand-in trainer scores a genome (garay.execution.standin)."""
    return int(task.genome.hash[:8], 16) / 16**8


@pytest.mark.parametrize("mode", ["generational", "async", "random"])
def test_ask_tell_evolves_what_the_driver_loop_evolves(mode, tmp_path):
    ga = dict(population_size=6, generations=3, num_parents=2)
    search = AskTell(GenomeSpace(Blueprint(), **SPACE), mode=mode, seed=4, **ga)
    told = []
    while not search.done():
        asked = search.ask(1)  # one worker, as the in-process evaluator below
        assert asked, "not done, yet nothing to score"
        for task in asked:
            search.tell(task, _hash_score(task))
            told.append(task.genome.hash)
    config = GAConfig(mode=mode, **ga)
    evaluator = InProcessEvaluator(None, TrainSettings(), trainer=SleepTrainer(0.0))  # type: ignore[arg-type]
    Search(GenomeSpace(Blueprint(), **SPACE), config, evaluator, RunLog(tmp_path), seed=4).run()
    assert told == [h["hash"] for h in read_history(tmp_path / "history.jsonl")]
    assert len(told) == config.budget and search.best["fitness"] == max(_hash_score_of(h) for h in told)


def _hash_score_of(h: str) -> float:
    return int(h[:8], 16) / 16**8


def test_a_generation_is_asked_whole_and_a_stranger_is_refused(tmp_path):
    search = AskTell(GenomeSpace(Blueprint(), **SPACE), population_size=4, generations=2, num_parents=2,
                     run_dir=tmp_path)
    first = search.ask()
    assert len(first) == 4 and search.ask() == []  # a barrier: nothing more until all four are told
    search.tell(first[0], 0.5)
    with pytest.raises(ValueError):
        search.tell(first[0], 0.6)  # told already
    for task in first[1:]:
        search.tell(task, 0.1, failed=task is first[1])
    assert len(search.ask()) == 2 and not search.done()
    assert [h["status"] for h in read_history(tmp_path / "history.jsonl")] == ["ok", "failed", "ok", "ok"]
    assert (tmp_path / "best.json").exists() and search.best["fitness"] == 0.5


def test_the_readme_example_runs():
    proc = subprocess.run([sys.executable, str(REPO / "examples" / "ask_tell.py")], capture_output=True, text=True,
                          timeout=600, cwd=REPO)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.startswith("best validation accuracy 0.")

"""Kill the driver with SIGKILL mid-run, resume, and compare with an uninterrupted run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from garay.cli import run
from garay.config import ConfigError
from garay.runlog import read_history

ARGS = ["cluster.backend=inprocess", "ga.population_size=4", "ga.generations=4", "ga.num_parents=2",
        "train.epochs=2", "data.examples_per_class=40", "progress=false", "seed=3"]


def _key(h):
    return (h["generation"], h["hash"], h["fitness"], h["test_accuracy"], h["seed"])


def _garay(run_dir, *extra, mode="generational"):
    return [sys.executable, "-m", "garay.cli", *ARGS, f"ga.mode={mode}", f"hydra.run.dir={run_dir}", *extra]


# Inside generation 0 (no checkpoint yet), later, and random search (resumed the same way).
@pytest.mark.parametrize("kill_after,mode", [(1, "generational"), (6, "generational"), (5, "random")])
def test_sigkill_then_resume_matches_an_uninterrupted_run(tmp_path, kill_after, mode):
    whole, broken = tmp_path / "whole", tmp_path / "broken"

    def garay(run_dir, *extra):
        return _garay(run_dir, *extra, mode=mode)

    subprocess.run(garay(whole), check=True, capture_output=True, timeout=600)
    expected = sorted(_key(h) for h in read_history(whole / "history.jsonl"))
    assert len(expected) > kill_after

    proc = subprocess.Popen(garay(broken), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    history = broken / "history.jsonl"
    deadline = time.time() + 300
    while time.time() < deadline and proc.poll() is None:
        if history.exists() and len(history.read_text().splitlines()) >= kill_after:
            break
        time.sleep(0.05)
    assert proc.poll() is None, "the run finished before it could be killed"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    finished_before = [_key(h) for h in read_history(history)]
    assert 0 < len(finished_before) < len(expected)

    changed = subprocess.run(garay(broken, "resume=true", "train.epochs=1"), capture_output=True, text=True,
                             timeout=600)
    assert changed.returncode == 2 and "train.epochs" in changed.stderr  # even when killed in generation 0

    resumed = subprocess.run(garay(broken, "resume=true"), capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    got = [_key(h) for h in read_history(history)]
    assert sorted(got) == expected  # nothing lost, nothing trained twice, same results
    assert got[: len(finished_before)] == finished_before
    assert len({h["run_id"] for h in read_history(history)}) == 1


def test_existing_run_needs_resume_and_same_settings(make_cfg, tmp_path):
    run(make_cfg("cluster.backend=inprocess"), run_dir=tmp_path)
    with pytest.raises(ConfigError) as err:
        run(make_cfg("cluster.backend=inprocess"), run_dir=tmp_path)
    assert err.value.key == "resume"
    with pytest.raises(ConfigError) as err:
        run(make_cfg("cluster.backend=inprocess", "resume=true", "ga.mutation_rate=0.5"), run_dir=tmp_path)
    assert err.value.key == "ga.mutation_rate"
    before = len(list(read_history(tmp_path / "history.jsonl")))
    summary = run(make_cfg("cluster.backend=inprocess", "resume=true"), run_dir=tmp_path)  # already complete
    assert summary["evaluations"] == before == summary["resumed_evaluations"]
    assert len(list(read_history(tmp_path / "history.jsonl"))) == before


def test_torn_last_line_is_repaired(make_cfg, tmp_path):
    run(make_cfg("cluster.backend=inprocess", "ga.generations=1"), run_dir=tmp_path)
    history = tmp_path / "history.jsonl"
    lines = history.read_text().splitlines()
    # A crash mid-write of generation 0's last result: a torn line, no checkpoint yet.
    history.write_text("\n".join(lines[:-1]) + "\n" + lines[-1][: len(lines[-1]) // 2])
    checkpoint = json.loads((tmp_path / "checkpoint.json").read_text())
    checkpoint.update(next_generation=0, population=[], redraws=0, generation_stats=[],
                      rng_state=np.random.default_rng(checkpoint["seed"]).bit_generator.state)
    (tmp_path / "checkpoint.json").write_text(json.dumps(checkpoint))  # as written before generation 0
    run(make_cfg("cluster.backend=inprocess", "ga.generations=1", "resume=true"), run_dir=tmp_path)
    again = history.read_text().splitlines()
    assert len(again) == len(lines) and again[:-1] == lines[:-1]
    redone, lost = json.loads(again[-1]), json.loads(lines[-1])
    assert (redone["hash"], redone["fitness"]) == (lost["hash"], lost["fitness"])


def test_a_second_driver_on_a_live_run_refuses_in_one_line(tmp_path):
    run_dir = tmp_path / "run"
    # Long enough never to end by itself: it is killed below. (The SIGKILL tests above show
    # that a killed driver's lock does not block resume.)
    first = subprocess.Popen(_garay(run_dir, "ga.generations=100000"), stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 300
        while time.time() < deadline and not (run_dir / "history.jsonl").exists():
            assert first.poll() is None, "the first run ended before the second could try"
            time.sleep(0.05)
        second = subprocess.run(_garay(run_dir, "ga.generations=100000", "resume=true"), capture_output=True,
                                text=True, timeout=300)
        assert first.poll() is None, "the first run ended before the second could try"
        assert second.returncode == 2
        assert second.stderr.strip().startswith("garay: error: hydra.run.dir:")
        assert "in use by a live garay driver (pid" in second.stderr and len(second.stderr.strip().splitlines()) == 1
    finally:
        first.kill()
        first.wait()

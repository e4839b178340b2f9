"""Early stopping in whole runs: honest records, determinism across worker counts, resume
between rungs (SIGKILL), asynchronous halving, and a lost paused training."""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
from collections import Counter

import pytest

from garay.cli import run
from garay.data.synthetic import make_synthetic
from garay.execution.evaluation import TrainSettings
from garay.best import genome_path
from garay.search.genome import Genome
from garay.results.report import main as report_main
from garay.results.runlog import read_history
from garay.execution.scheduler import RayEvaluator
from garay.execution.protocol import Task
from tests.conftest import RAY_PATIENCE_S, compose_config

# 9 new genomes in generation 0 and 6 in each later one; rungs at 1 and 2 epochs, then 6.
HALVING = ["ga.population_size=9", "ga.num_parents=3", "ga.generations=3", "train.epochs=6",
           "train.early_stop=halving", "train.grace_epochs=1"]


def _history(path):
    return list(read_history(path / "history.jsonl"))


def _rungs(path):
    return list(read_history(path / "rungs.jsonl"))


def test_halving_records_stopped_genomes_with_their_partial_accuracy(make_cfg, tmp_path, capsys):
    summary = run(make_cfg(*HALVING, "cluster.backend=inprocess"), run_dir=tmp_path)
    history, rungs = _history(tmp_path), _rungs(tmp_path)
    assert summary["early_stop"] == {"policy": "halving", "rungs": [1, 2, 6], "eta": 3}
    # Children equal to a known genome (stopped or not) are not trained again.
    assert len({h["hash"] for h in history}) == len(history) == summary["evaluations"] == 21 - summary["duplicates"]
    for h in history:
        assert len(h["curve"]) == len(h["losses"]) == h["epochs"]  # a learning curve with every evaluation
        if h["status"] == "stopped":
            assert h["fitness"] == 0.0 and h["epochs"] in (1, 2) and h["val_accuracy"] == h["curve"][-1]
            assert h["reason"].startswith("halving at epoch")
            assert (h["hash"], h["epochs"]) in {(r["hash"], r["epochs"]) for r in rungs}
        else:
            assert h["status"] == "ok" and h["epochs"] == 6 and h["fitness"] == h["val_accuracy"] == h["curve"][-1]
    # Per generation: all reach rung 1, ceil(n/3) reach rung 2, ceil of that / 3 finish.
    for g in range(3):
        gen = [h for h in history if h["generation"] == g]
        n = len(gen)
        second, full = math.ceil(n / 3), math.ceil(math.ceil(n / 3) / 3)
        assert Counter(h["epochs"] for h in gen) == Counter({1: n - second, 2: second - full, 6: full})
        at_one = sorted((r["val_accuracy"], r["hash"]) for r in rungs if r["generation"] == g and r["epochs"] == 1)
        promoted = {r["hash"] for r in rungs if r["generation"] == g and r["epochs"] == 2}
        assert promoted == {h for _, h in sorted(at_one, key=lambda t: (-t[0], t[1]))[:second]}
    best = json.loads((tmp_path / "best.json").read_text())
    oks = [h for h in history if h["status"] == "ok"]
    assert best["fitness"] == max(h["fitness"] for h in oks) == summary["best"]["fitness"]
    # The next generation's parents: full trainings first, then the best stopped at rung 2.
    parents = json.loads((tmp_path / "checkpoint.json").read_text())["population"][:3]
    assert [p["fidelity"] for p in parents][:1] == [1.0]
    assert summary["worker_seconds"] == pytest.approx(sum(h["seconds"] for h in history), abs=0.01)
    # The report ranks full trainings only, says how many stopped where, draws the curves.
    assert report_main([str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert f"best: validation {best['val_accuracy']:.4f}" in out and "stopped early:" in out
    assert "learning curves of the best" in out and (tmp_path / "curves.png").exists()


def test_early_stopping_is_deterministic_whatever_the_workers(make_cfg, tmp_path, ray_local):
    runs = {"inprocess": ["cluster.backend=inprocess"], "ray1": ["cluster.num_workers=1"],
            "ray2": ["cluster.num_workers=2"]}
    seen = {}
    for name, overrides in runs.items():
        run(make_cfg(*HALVING, "seed=4", "ga.generations=2", *overrides), run_dir=tmp_path / name)
        seen[name] = (sorted((h["generation"], h["hash"], h["status"], h["epochs"], h["val_accuracy"], h["test_accuracy"],
                              tuple(h["curve"])) for h in _history(tmp_path / name)),
                      sorted((r["hash"], r["epochs"], r["val_accuracy"]) for r in _rungs(tmp_path / name)))
    assert Counter(s for _, _, s, *_ in seen["inprocess"][0])["stopped"] > 0
    assert seen["inprocess"] == seen["ray1"] == seen["ray2"]
    assert {h["worker"] for h in _history(tmp_path / "ray2")} == {"w0", "w1"}


def test_median_rule_runs_and_keeps_at_least_one_per_rung(make_cfg, tmp_path):
    summary = run(make_cfg(*HALVING, "train.early_stop=median", "cluster.backend=inprocess"), run_dir=tmp_path)
    history = _history(tmp_path)
    assert summary["statuses"].get("stopped", 0) > 0
    assert all(any(h["status"] == "ok" and h["generation"] == g for h in history) for g in range(3))


ARGS = ["cluster.backend=inprocess", *HALVING, "ga.generations=2", "train.epochs=4", "data.examples_per_class=60",
        "progress=false", "seed=2"]


def _garay(run_dir, *extra):
    return [sys.executable, "-m", "garay.cli", *ARGS, f"hydra.run.dir={run_dir}", *extra]


def _lines(path):
    return len(path.read_text().splitlines()) if path.exists() else 0


def _run_key(path):
    """What an uninterrupted run and a resumed one must share: every genome's decisions and
    scores, and every rung result."""
    return (sorted((h["generation"], h["hash"], h["status"], h["epochs"], h["val_accuracy"], h["test_accuracy"])
                   for h in _history(path)),
            sorted((r["hash"], r["epochs"], r["val_accuracy"]) for r in _rungs(path)))


def test_sigkill_between_rungs_then_resume_matches_an_uninterrupted_run(tmp_path):
    """A real driver process, killed after its first rung's decisions (stopped genomes
    written, the survivors paused between rungs), resumes to the uninterrupted run's end."""
    whole, broken = tmp_path / "whole", tmp_path / "broken"
    subprocess.run(_garay(whole), check=True, capture_output=True, timeout=600)
    expected = _run_key(whole)
    proc = subprocess.Popen(_garay(broken), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    while time.time() < deadline and proc.poll() is None and _lines(broken / "history.jsonl") < 6:
        time.sleep(0.02)
    assert proc.poll() is None, "the run finished before it could be killed"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    before = _history(broken)
    assert len(before) < len(expected[0])
    resumed = subprocess.run(_garay(broken, "resume=true"), capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert _run_key(broken) == expected  # same decisions, nothing recorded twice
    assert _history(broken)[: len(before)] == before


# Killed in the first rung of generation 0; in generation 1; and in the generation that
# spends an epoch budget (its partial results must not end the resumed run early). What a
# kill leaves at each point, taken in process (tests/killed.py), then resumed.
@pytest.mark.parametrize("file,count,extra", [
    ("rungs.jsonl", 3, []), ("history.jsonl", 10, []), ("history.jsonl", 11, ["ga.generations=6", "ga.budget_epochs=19"]),
])
def test_a_run_killed_between_rungs_resumes_to_the_uninterrupted_end(tmp_path, file, count, extra):
    from tests.killed import run_and_copy_when

    whole, killed = tmp_path / "whole", tmp_path / "killed"
    run_and_copy_when(lambda: run(compose_config(*ARGS, *extra), run_dir=whole), whole, killed, file, count)
    before = _history(killed)
    assert len(before) < len(_history(whole))
    run(compose_config(*ARGS, *extra, "resume=true"), run_dir=killed)
    assert _run_key(killed) == _run_key(whole)  # same decisions, nothing recorded twice
    assert _history(killed)[: len(before)] == before


def test_async_halving_continues_promising_genomes_without_a_barrier(make_cfg, tmp_path, ray_local):
    summary = run(make_cfg(*HALVING, "ga.mode=async", "cluster.num_workers=2"), run_dir=tmp_path)
    history, rungs = _history(tmp_path), _rungs(tmp_path)
    budget = 9 + 2 * 6
    assert summary["births"] == budget == len(history) == len({h["hash"] for h in history})
    statuses = Counter(h["status"] for h in history)
    assert statuses["stopped"] > 0 and statuses["ok"] > 0
    passed = {(r["hash"], r["epochs"]) for r in rungs}
    for h in history:
        # A full training passed every rung; a stopped one its own.
        need = [1, 2] if h["status"] == "ok" else [e for e in (1, 2) if e <= h["epochs"]]
        assert all((h["hash"], e) in passed for e in need)
    assert summary["best"]["hash"] in {h["hash"] for h in history if h["status"] == "ok"}


def test_a_lost_paused_training_is_trained_again_to_the_same_numbers(ray_local):
    ray = ray_local
    data = make_synthetic(examples_per_class=20)
    genome = Genome.from_json(genome_path("small_cnn").read_text())
    ev = RayEvaluator(data, TrainSettings(epochs=3), num_workers=1)
    try:
        straight = (ev.submit(Task("s", genome, 11)), ev.next_result())[1]
        paused = (ev.submit(Task("p", genome, 11, epochs=1)), ev.next_result())[1]
        assert paused.state is not None and paused.evaluation.epochs == 1
        resumed = (ev.submit(Task("p", genome, 11, epochs=3, state=paused.state)), ev.next_result())[1]

        @ray.remote
        def lost():
            raise RuntimeError("this object cannot be fetched")

        again = (ev.submit(Task("p", genome, 11, epochs=3, state=lost.remote())), ev.next_result())[1]
    finally:
        ev.close()
    for r in (resumed, again):
        assert r.evaluation.status == "ok" and r.state is None
        assert (r.evaluation.val_accuracy, r.evaluation.test_accuracy, r.evaluation.curve) == (
            straight.evaluation.val_accuracy, straight.evaluation.test_accuracy, straight.evaluation.curve)


def test_an_epoch_budget_gives_every_arm_the_same_compute(make_cfg, tmp_path):
    base = ["cluster.backend=inprocess", "ga.population_size=6", "ga.num_parents=2", "train.epochs=4",
            "train.grace_epochs=1"]
    # 6 x 4 + 3 x (4 x 4) = 72 epochs: the 4-generation run, whatever ga.generations says.
    four = run(make_cfg(*base, "ga.generations=4"), run_dir=tmp_path / "four")
    capped = run(make_cfg(*base, "ga.generations=50", "ga.budget_epochs=72"), run_dir=tmp_path / "capped")
    assert capped["generations"] == 4 and capped["epochs_spent"] == four["epochs_spent"] <= 72
    assert sorted(h["hash"] for h in _history(tmp_path / "capped")) == sorted(h["hash"] for h in _history(tmp_path / "four"))
    # Early stopping spends the same epochs on more genomes.
    es = run(make_cfg(*base, "ga.generations=50", "ga.budget_epochs=72", "train.early_stop=halving"),
             run_dir=tmp_path / "es")
    history = _history(tmp_path / "es")
    assert es["epochs_spent"] == sum(h["epochs"] for h in history) >= 72
    last = max(h["generation"] for h in history)
    assert sum(h["epochs"] for h in history if h["generation"] < last) < 72  # ended at the first generation past it
    assert es["evaluations"] > capped["evaluations"]
    # Async: births stop once the epochs spent and in flight reach the budget.
    a = run(make_cfg(*base, "ga.mode=async", "ga.budget_epochs=72", "train.early_stop=halving"),
            run_dir=tmp_path / "async")
    spent = sum(h["epochs"] for h in _history(tmp_path / "async"))
    assert 72 <= spent < 72 + 4 and a["evaluations"] > a["budget"]


def test_a_worker_lost_while_continuing_a_genome_is_retried_to_the_same_numbers(ray_local):
    data = make_synthetic(examples_per_class=40)
    genome = Genome.from_json(genome_path("small_cnn").read_text())
    settings = TrainSettings(epochs=4)
    ev = RayEvaluator(data, settings, num_workers=1, max_retries=1)
    try:
        pid = ev.wait_ready(RAY_PATIENCE_S)[0]["pid"]
        straight = (ev.submit(Task("s", genome, 11)), ev.next_result())[1]
        paused = (ev.submit(Task("p", genome, 11, epochs=1)), ev.next_result())[1]
        # The worker dies before the continuation reaches it (waited for, so no race with
        # the training): the task meets a dead actor, is retried on the restarted one,
        # which fetches the paused state from the object store.
        os.kill(pid, signal.SIGKILL)
        while os.path.exists(f"/proc/{pid}"):
            time.sleep(0.05)
        ev.submit(Task("p", genome, 11, epochs=4, state=paused.state))
        resumed = ev.next_result()
    finally:
        ev.close()
    assert resumed.attempts == 2 and ev.pool.restarts >= 1
    assert resumed.evaluation.status == "ok"
    assert (resumed.evaluation.val_accuracy, resumed.evaluation.test_accuracy, resumed.evaluation.curve) == (
        straight.evaluation.val_accuracy, straight.evaluation.test_accuracy, straight.evaluation.curve)

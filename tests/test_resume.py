"""Kill the driver with SIGKILL mid-run and resume: a generational (or random) run ends as
the uninterrupted one does; an async run keeps every result, trains none twice and spends
its budget."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from garay.search.blueprint import Blueprint, sample_genome
from garay.cli import run
from garay.config import ConfigError
from garay.execution.evaluation import Evaluation
from garay.config.schema import GAConfig
from garay.fidelity.schedulers import Final, Submit
from garay.fidelity.rules import Rungs, continues
from garay.results.callbacks import Callback
from garay.results.runlog import RUNGS, RunLog, read_history
from garay.search.space import GenomeSpace
from garay.strategies.search import Search
from garay.execution.protocol import Result, Task
from tests.conftest import compose_config

ARGS = ["cluster.backend=inprocess", "ga.population_size=4", "ga.generations=4", "ga.num_parents=2",
        "train.epochs=2", "data.examples_per_class=40", "progress=false", "seed=3"]


def _key(h):
    return (h["generation"], h["hash"], h["fitness"], h["test_accuracy"], h["seed"])


def _garay(run_dir, *extra, mode="generational"):
    return [sys.executable, "-m", "garay.cli", *ARGS, f"ga.mode={mode}", f"hydra.run.dir={run_dir}", *extra]


def _lines(path):
    return len(path.read_text().splitlines()) if path.exists() else 0


def _kill_when(cmd, ready):
    """Start a driver and SIGKILL it as soon as `ready()` holds."""
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    while time.time() < deadline and proc.poll() is None and not ready():
        time.sleep(0.02)
    assert proc.poll() is None, "the run finished before it could be killed"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()


def test_sigkill_then_resume_matches_an_uninterrupted_run(tmp_path):
    """A real driver process killed inside generation 0 (no checkpoint yet): other settings
    are refused, and the same ones resume to the uninterrupted run's end."""
    whole, broken = tmp_path / "whole", tmp_path / "broken"
    subprocess.run(_garay(whole), check=True, capture_output=True, timeout=600)
    expected = sorted(_key(h) for h in read_history(whole / "history.jsonl"))

    history = broken / "history.jsonl"
    _kill_when(_garay(broken), lambda: _lines(history) >= 1)
    finished_before = [_key(h) for h in read_history(history)]
    assert 0 < len(finished_before) < len(expected)

    changed = subprocess.run(_garay(broken, "resume=true", "train.epochs=1"), capture_output=True, text=True,
                             timeout=600)
    assert changed.returncode == 2 and "train.epochs" in changed.stderr

    resumed = subprocess.run(_garay(broken, "resume=true"), capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    got = [_key(h) for h in read_history(history)]
    assert sorted(got) == expected  # nothing lost, nothing trained twice, same results
    assert got[: len(finished_before)] == finished_before
    assert len({h["run_id"] for h in read_history(history)}) == 1


def _in_process(*extra, mode="generational"):
    return compose_config(*ARGS, f"ga.mode={mode}", *extra)


# Later (generation 1, a checkpoint written), and random search (resumed the same way):
# what a kill leaves there, taken in process (tests/killed.py), then resumed.
@pytest.mark.parametrize("kill_after,mode", [(6, "generational"), (5, "random")])
def test_a_killed_run_resumes_to_the_uninterrupted_end(tmp_path, kill_after, mode):
    from tests.killed import run_and_copy_when

    whole, killed = tmp_path / "whole", tmp_path / "killed"
    run_and_copy_when(lambda: run(_in_process(mode=mode), run_dir=whole), whole, killed, "history.jsonl", kill_after)
    expected = sorted(_key(h) for h in read_history(whole / "history.jsonl"))
    finished_before = [_key(h) for h in read_history(killed / "history.jsonl")]
    assert len(finished_before) == kill_after < len(expected)
    run(_in_process("resume=true", mode=mode), run_dir=killed)
    got = [_key(h) for h in read_history(killed / "history.jsonl")]
    assert sorted(got) == expected  # nothing lost, nothing trained twice, same results
    assert got[: len(finished_before)] == finished_before
    assert len({h["run_id"] for h in read_history(killed / "history.jsonl")}) == 1


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


# --- async mode -------------------------------------------------------------------------

ASYNC_BUDGET = GAConfig(population_size=4, generations=4, num_parents=2).budget  # as ARGS: 4 + 3 x 2


def _check_async_resume(run_dir, before, budget):
    """The contract of an async resume: what had finished is kept as it was, nothing is
    trained again, and exactly the budget's genomes finished."""
    history = list(read_history(run_dir / "history.jsonl"))
    assert history[: len(before)] == before
    assert len({h["hash"] for h in history}) == len(history) == budget
    assert len({h["key"] for h in history}) == len(history)
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["evaluations"] == budget and summary["resumed_evaluations"] == len(before)
    assert len({h["run_id"] for h in history}) == 1
    return history, summary


def test_async_sigkill_then_resume_keeps_every_result_and_the_budget(tmp_path):
    """A real async driver process killed early (one genome lost in flight)."""
    history = tmp_path / "history.jsonl"
    _kill_when(_garay(tmp_path, mode="async"), lambda: _lines(history) >= 3)
    before = list(read_history(history))
    assert len(before) >= 3 and len(before) < ASYNC_BUDGET
    resumed = subprocess.run(_garay(tmp_path, "resume=true", mode="async"), capture_output=True, text=True,
                             timeout=600)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    _check_async_resume(tmp_path, before, ASYNC_BUDGET)


# Killed before its first result (only the checkpoint written at the start), and near the
# end of the budget: what a kill leaves there, taken in process (tests/killed.py).
@pytest.mark.parametrize("file,count", [("checkpoint.json", 1), ("history.jsonl", 8)])
def test_a_killed_async_run_keeps_every_result_and_the_budget(tmp_path, file, count):
    from tests.killed import run_and_copy_when

    whole, killed = tmp_path / "whole", tmp_path / "killed"
    run_and_copy_when(lambda: run(_in_process(mode="async"), run_dir=whole), whole, killed, file, count)
    before = list(read_history(killed / "history.jsonl"))
    assert len(before) == (0 if file == "checkpoint.json" else count) < ASYNC_BUDGET
    run(_in_process("resume=true", mode="async"), run_dir=killed)
    _check_async_resume(killed, before, ASYNC_BUDGET)


def _replay(rungs, keep_fraction):
    """(hash, rung) -> whether the asynchronous rule let it continue, replayed over
    rungs.jsonl in file order."""
    recorded, go = {}, {}
    for r in rungs:
        at = recorded.setdefault(r["rung"], [])
        go[(r["hash"], r["rung"])] = continues(r["val_accuracy"], at, keep_fraction)
        at.append(r["val_accuracy"])
    return go


# Killed while the first genome continues past its first rung (it is sent on again), and
# mid-run after some genomes were stopped: what a kill leaves there, taken in process
# (tests/killed.py; the real kills above and in test_early_stop.py cover a dead driver).
@pytest.mark.parametrize("file,count", [("rungs.jsonl", 1), ("history.jsonl", 4)])
def test_async_early_stopping_sigkill_then_resume_decides_alike(tmp_path, file, count):
    from tests.killed import run_and_copy_when

    # Rungs at 1 and 3 epochs (eta 3); a budget of 4 + 2 x 2 genomes.
    extra = ["ga.generations=3", "train.epochs=3", "train.early_stop=halving", "train.grace_epochs=1"]
    budget = GAConfig(population_size=4, generations=3, num_parents=2).budget
    whole, killed = tmp_path / "whole", tmp_path / "killed"
    run_and_copy_when(lambda: run(_in_process(*extra, mode="async"), run_dir=whole), whole, killed, file, count)
    before = list(read_history(killed / "history.jsonl"))
    rungs_before = list(read_history(killed / "rungs.jsonl"))
    run(_in_process(*extra, "resume=true", mode="async"), run_dir=killed)
    history, _ = _check_async_resume(killed, before, budget)
    rungs = list(read_history(killed / "rungs.jsonl"))
    assert rungs[: len(rungs_before)] == rungs_before
    assert len({(r["hash"], r["rung"]) for r in rungs}) == len(rungs)  # no rung trained twice
    go = _replay(rungs, 1 / 3)
    for h in history:
        passed = sorted(rung for (g, rung) in go if g == h["hash"])
        if h["status"] == "ok":  # every rung passed, and let through
            assert h["epochs"] == 3 and passed == [1] and go[(h["hash"], 1)]
        else:  # stopped where the rule stopped it
            assert h["status"] == "stopped" and passed == [h["epochs"]] == [1] and not go[(h["hash"], 1)]
            assert h["reason"].startswith("halving at epoch 1:")
    assert {r["hash"] for r in rungs} <= {h["hash"] for h in history}  # none left unfinished


def test_async_resume_refuses_another_mode(make_cfg, tmp_path):
    run(make_cfg("cluster.backend=inprocess", "ga.mode=async"), run_dir=tmp_path)
    with pytest.raises(ConfigError) as err:
        run(make_cfg("cluster.backend=inprocess", "ga.mode=generational", "resume=true"), run_dir=tmp_path)
    assert err.value.key == "ga.mode"
    before = list(read_history(tmp_path / "history.jsonl"))
    summary = run(make_cfg("cluster.backend=inprocess", "ga.mode=async", "resume=true"), run_dir=tmp_path)
    assert summary["evaluations"] == len(before) == summary["resumed_evaluations"] == summary["budget"]
    assert list(read_history(tmp_path / "history.jsonl")) == before  # complete: nothing more trained


class _Workers:
    """`num_workers` stand-in workers. Results come back newest first (so a resumed run
    may find late births finished and earlier ones lost in flight), with an accuracy that
    depends only on the genome and the epochs trained (as a training continued, or trained
    again from its seed, reaches the same numbers). `waiting` is called whenever the driver
    waits for a result: where a kill lands."""

    def __init__(self, num_workers=1, full=1, waiting=None):
        self.num_workers = self.most_workers = num_workers
        self.full, self.waiting, self.queue = full, waiting, []

    def worker_seconds(self):
        return 1.0

    def peak_memory(self):
        return []

    def submit(self, task):
        self.queue.append(task)

    def next_result(self, **_: object):
        if self.waiting is not None:
            self.waiting()
        task = self.queue.pop()
        epochs = task.epochs or self.full
        acc = int(task.genome.hash[:6], 16) / 16**6 * (0.5 + epochs / (2 * self.full))
        return Result(task, Evaluation(acc, acc, acc, "ok", None, 0.01, 10, epochs), worker="w")


def _async_driver(run_dir, population_size, rungs=None, evaluator=None, **ga):
    ga = GAConfig(population_size=population_size, mode="async", **ga)
    return Search(GenomeSpace.for_ga(Blueprint(), ga, (40, 20), 4), ga, evaluator or _Workers(), RunLog(run_dir),
                  seed=1, rungs=rungs)


def test_async_restore_rebuilds_the_population_rungs_and_genomes_in_flight(tmp_path):
    rng = np.random.default_rng(0)
    a, b, c, d = (sample_genome(Blueprint(), 0.0, rng) for _ in range(4))

    def rec(genome, birth, acc, epochs, status="ok", rung=None):
        return {"run_id": "r", "birth": birth, "key": f"b{birth}", "genome": genome.to_dict(), "hash": genome.hash,
                "fitness": acc if status == "ok" else 0.0, "val_accuracy": acc, "test_accuracy": acc,
                "status": status, "epochs": epochs, "seed": 100 + birth, "seconds": 0.5, "params": 10,
                **({"rung": rung} if rung else {})}

    # Rungs at 1 and 2 epochs, then 6 (keep the top third). In rungs.jsonl order: a
    # continues (first at rung 1), b is stopped, c continues, a continues at rung 2, and d
    # is stopped: the run was killed before d's stop record and while c trained on to
    # rung 2; birth 3 was lost in flight before any result.
    rung_history = [rec(a, 0, 0.5, 1, rung=1), rec(b, 1, 0.2, 1, rung=1), rec(c, 2, 0.9, 1, rung=1),
                    rec(a, 0, 0.6, 2, rung=2), rec(d, 4, 0.1, 1, rung=1)]
    history = [{**rung_history[1], "status": "stopped", "fitness": 0.0, "reason": "halving"},
               rec(a, 0, 0.7, 6, rung=6)]
    before_kill = _async_driver(tmp_path / "earlier", 3)
    earlier = before_kill.strategy
    earlier.rng.random(5)
    earlier.duplicates = 2
    checkpoint = {**before_kill.ledger.checkpoint(), **earlier.state()}

    runlog = RunLog(tmp_path)
    for r in history:
        runlog.append(r)
    for r in rung_history:
        runlog.append(r, RUNGS)
    search = _async_driver(tmp_path, 3, Rungs((1, 2, 6), "halving", 3))
    search.restore(checkpoint)
    strategy, ledger = search.strategy, search.ledger

    assert strategy.rng.bit_generator.state == earlier.rng.bit_generator.state and strategy.duplicates == 2
    assert strategy.births == 5 and ledger.resumed == 2
    assert search.scheduler.recorded == {1: [0.5, 0.2, 0.9, 0.1], 2: [0.6]}
    assert [m.genome.hash for m in strategy.members] == [b.hash, a.hash]
    # d is stopped, as the killed run would have, and c goes on to rung 2 under its own key and seed.
    [stop] = [a for a in search.restarted if isinstance(a, Final)]
    [send_on] = [a for a in search.restarted if isinstance(a, Submit)]
    assert isinstance(stop, Final) and stop.record["hash"] == d.hash and stop.record["status"] == "stopped"
    assert stop.record["reason"] == "halving at epoch 1: 0.1000 below the top 0.33 of 4 recorded"
    assert isinstance(send_on, Submit) and send_on.task == Task("b2", c, 102, birth=2, epochs=2)
    # Running on: d's stop is the first record written, d joins after b and a, and c counts
    # against the budget (births go on from 5).
    seen = []

    class Spy(Callback):
        def on_record(self, record, resumed):
            seen.append(([(m.genome.hash, m.fidelity) for m in strategy.members], dict(ledger.in_flight)))

    search.callbacks.callbacks.append(Spy())
    search.run()
    written = list(read_history(tmp_path / "history.jsonl"))
    assert written[:2] == history
    assert written[2]["hash"] == d.hash and written[2]["status"] == "stopped"
    assert seen[0] == ([(b.hash, pytest.approx(1 / 6)), (a.hash, 1.0), (d.hash, pytest.approx(1 / 6))], {c.hash: 2})
    finished_c = next(h for h in written if h["hash"] == c.hash)
    assert (finished_c["key"], finished_c["seed"], finished_c["birth"]) == ("b2", 102, 2)


def test_async_restore_fills_the_population_again_after_genomes_lost_in_flight(tmp_path):
    # Births 0-2 were lost in flight, birth 3 finished: births go on from 4, yet with one
    # member the population still fills with initial genomes instead of waiting for none.
    genome = sample_genome(Blueprint(), 0.0, np.random.default_rng(0))
    record = {"run_id": "r", "birth": 3, "key": "b3", "genome": genome.to_dict(), "hash": genome.hash,
              "fitness": 0.5, "val_accuracy": 0.5, "test_accuracy": 0.5, "status": "ok", "epochs": 1,
              "seed": 1, "seconds": 0.1, "params": 10}
    search = _async_driver(tmp_path, 4)
    search.runlog.append(record)
    search.restore(None)
    strategy = search.strategy
    assert strategy.births == 4 and strategy.started() == 1 and len(strategy.members) == 1
    assert strategy.may_breed() and strategy.next_genome() is not None


# Without early stopping, more workers than the population (a resume may hold fewer than
# two members and nothing in flight); and halving with genomes paused between rungs.
@pytest.mark.parametrize("workers,rungs", [(5, None), (3, Rungs((1, 3, 9), "halving", 3))])
def test_async_resume_from_a_kill_at_any_wait_keeps_every_result_and_the_budget(tmp_path, workers, rungs):
    files = ("history.jsonl", "rungs.jsonl", "checkpoint.json")
    whole, snapshots = tmp_path / "whole", []
    full = rungs.full if rungs else 1

    def snapshot():
        snapshots.append({f: (whole / f).read_text() for f in files if (whole / f).exists()})

    budget = _async_driver(whole, 4, rungs, _Workers(workers, full, snapshot), generations=4,
                           num_parents=2).run()["budget"]
    assert budget == 10 and len(snapshots) >= budget  # one wait per result
    sent_on = 0
    for n, state in enumerate(snapshots):
        run_dir = tmp_path / f"killed{n}"
        run_dir.mkdir()
        for f, text in state.items():
            (run_dir / f).write_text(text)
        runlog = RunLog(run_dir)
        before, rungs_before = runlog.history(), runlog.rung_history()
        search = _async_driver(run_dir, 4, rungs, _Workers(workers, full), generations=4, num_parents=2)
        search.restore(runlog.checkpoint())
        pending = {a.task.genome.hash: a.task for a in search.restarted if isinstance(a, Submit)}
        sent_on += len(pending)
        summary = search.run()
        history, rung_records = runlog.history(), runlog.rung_history()
        assert history[: len(before)] == before and rung_records[: len(rungs_before)] == rungs_before
        assert len({h["hash"] for h in history}) == len(history) == budget == summary["evaluations"]
        assert len({h["key"] for h in history}) == len(history)
        assert len({(r["hash"], r["rung"]) for r in rung_records}) == len(rung_records)
        assert {r["hash"] for r in rung_records} <= {h["hash"] for h in history}
        go = _replay(rung_records, 1 / 3)
        for h in history:
            passed = sorted(rung for (g, rung) in go if g == h["hash"])
            assert all(go[(h["hash"], r)] for r in passed[:-1])
            assert go.get((h["hash"], h["epochs"]), True) == (h["epochs"] == full)  # stopped where it was stopped
            if h["hash"] in pending:  # sent on with its own key and seed, past the rung it had passed
                task = pending.pop(h["hash"])
                assert (h["key"], h["seed"], h["birth"]) == (task.key, task.seed, task.birth)
                assert h["epochs"] >= task.epochs
        assert not pending
    assert (sent_on > 0) == (rungs is not None)

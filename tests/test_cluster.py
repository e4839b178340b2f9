"""The Ray layer at cluster scale, on simulated multi-node clusters with logical GPUs:
pinning, faults, node loss. A stand-in trainer that sleeps keeps these fast."""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from collections import Counter, deque

import numpy as np
import pytest
import ray

from garay.search.blueprint import Blueprint, sample_genome
from garay.data.synthetic import make_synthetic
from garay.execution.evaluation import TrainSettings
from garay.config.schema import GAConfig
from garay.search.space import GenomeSpace
from garay.strategies.search import Search
from garay.results.runlog import RunLog, read_history
from garay.execution.standin import SleepTrainer
from garay.execution.scheduler import RayEvaluator
from garay.execution.startup import wait_started
from garay.execution.protocol import Task
from tests.conftest import RAY_PATIENCE_S

DATA = make_synthetic(seed=0, examples_per_class=4)
SETTINGS = TrainSettings(epochs=1)
def tasks(n: int, seed: int = 0) -> list[Task]:
    rng = np.random.default_rng(seed)
    genomes: dict[str, object] = {}
    while len(genomes) < n:
        g = sample_genome(Blueprint(), 0.8, rng)
        genomes[g.hash] = g
    return [Task(f"t{i}", g, i, 0) for i, g in enumerate(genomes.values())]


def drain(evaluator: RayEvaluator, todo: list[Task]):
    for t in todo:
        evaluator.submit(t)
    return [evaluator.next_result() for _ in todo]


def test_gpu_pinning_two_nodes_two_gpus(cluster):
    cluster({"num_cpus": 8, "num_gpus": 2}, {"num_cpus": 8, "num_gpus": 2})
    # A whole GPU a worker, then half of one (two workers a GPU), on the same cluster.
    for gpus_per_worker, expected, per_gpu in ((1.0, 4, 1), (0.5, 8, 2)):
        ev = RayEvaluator(DATA, SETTINGS, gpus_per_worker=gpus_per_worker, trainer=SleepTrainer(0.05))
        assert len(ev.pool.slots) == expected  # the default: what the cluster's GPUs allow
        placements = ev.wait_ready(RAY_PATIENCE_S)
        pairs = Counter((p["node_id"], tuple(p["gpu_ids"])) for p in placements)
        assert len({node for node, _ in pairs}) == 2
        assert len(pairs) == 4 and set(pairs.values()) == {per_gpu}
        for p in placements:
            assert len(p["gpu_ids"]) == 1 and p["cuda_visible_devices"] == p["gpu_ids"][0]
        results = drain(ev, tasks(2 * expected))
        assert all(r.evaluation.status == "ok" and r.gpu_ids and r.node_id for r in results)
        ev.close()


def _kill_when_busy(ev: RayEvaluator, kill) -> threading.Thread:
    def go():
        # Every worker has a task (however long Ray took to start them), then a moment for
        # it to begin: the tasks sleep 3 s, so the kill lands mid-evaluation.
        deadline = time.monotonic() + RAY_PATIENCE_S
        while len(ev._in_flight) < ev.num_workers and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.5)
        kill(ev)

    th = threading.Thread(target=go)
    th.start()
    return th


@pytest.mark.parametrize("how", ["sigkill", "ray.kill"])
def test_killed_actor_has_its_genome_requeued(ray_local, how):
    ev = RayEvaluator(DATA, SETTINGS, num_workers=2, trainer=SleepTrainer(3.0))
    pid = {p["name"]: p["pid"] for p in ev.wait_ready(RAY_PATIENCE_S)}["w0"]
    if how == "sigkill":
        th = _kill_when_busy(ev, lambda e: os.kill(pid, signal.SIGKILL))
    else:
        th = _kill_when_busy(ev, lambda e: ray.kill(e.pool.slots[0].actor, no_restart=True))
    todo = tasks(4)
    results = drain(ev, todo)
    th.join()
    assert sorted(r.task.key for r in results) == sorted(t.key for t in todo)  # each exactly once
    assert all(r.evaluation.status == "ok" for r in results)
    assert max(r.attempts for r in results) == 2 and ev.pool.restarts >= 1
    ev.close()


def test_retries_exhausted_records_failed_with_the_reason(ray_local):
    ev = RayEvaluator(DATA, SETTINGS, num_workers=1, max_retries=0, trainer=SleepTrainer(3.0))
    pid = ev.wait_ready(RAY_PATIENCE_S)[0]["pid"]
    th = _kill_when_busy(ev, lambda e: os.kill(pid, signal.SIGKILL))
    results = drain(ev, tasks(2))
    th.join()
    failed = [r for r in results if r.evaluation.status == "failed"]
    assert len(failed) == 1 and "max_retries=0" in failed[0].evaluation.error
    assert "Actor" in failed[0].evaluation.error or "actor" in failed[0].evaluation.error
    assert [r.evaluation.status for r in results].count("ok") == 1  # the run goes on
    ev.close()


def test_a_run_begins_with_the_workers_that_start_and_the_rest_join_later(ray_local):
    ev = RayEvaluator(DATA, SETTINGS, num_workers=3, trainer=SleepTrainer(0.2))  # 2 CPUs: one cannot start
    started, deadline = 0, time.monotonic() + RAY_PATIENCE_S
    while started < 2 and time.monotonic() < deadline:  # short waits return, never raise, however slow the start
        started = wait_started(ev.pool, 0.5)
    assert started == 2 and len(ev.pool.placements) == 2
    results = drain(ev, tasks(4))
    assert all(r.evaluation.status == "ok" for r in results)
    assert len({r.worker for r in results}) == 2  # both started workers took one at once
    ev.close()


def test_hard_timeout_restarts_the_worker(ray_local):
    ev = RayEvaluator(DATA, SETTINGS, num_workers=1, trainer=SleepTrainer(30.0), hard_timeout_s=2.0)
    ev.wait_ready(RAY_PATIENCE_S)
    [result] = drain(ev, tasks(1))
    # The trainer sleeps 30 s and would end `ok`: `timeout` is the hard limit at work
    # (how soon it fires on a loaded machine is not the contract).
    assert result.evaluation.status == "timeout" and "no result within 2 s" in result.evaluation.error
    assert ev.pool.restarts >= 1  # its worker was replaced
    ev.close()


def test_lost_node_mid_generation(cluster, tmp_path):
    c, [node] = cluster({"num_cpus": 1}, {"num_cpus": 1})
    ev = RayEvaluator(DATA, SETTINGS, trainer=SleepTrainer(2.0))
    assert len(ev.pool.slots) == 2
    placements = ev.wait_ready(RAY_PATIENCE_S)
    assert len({p["node_id"] for p in placements}) == 2  # spread over both nodes
    th = _kill_when_busy(ev, lambda e: c.remove_node(node, allow_graceful=False))
    todo = tasks(6)
    results = drain(ev, todo)
    th.join()
    assert sorted(r.task.key for r in results) == sorted(t.key for t in todo)
    assert all(r.evaluation.status == "ok" for r in results)
    assert len({r.node_id for r in results if r.attempts > 1}) == 1  # re-run on the surviving node
    ev.close()


def test_every_genome_of_a_generation_lands_in_history_once_despite_a_kill(ray_local, tmp_path):
    ev = RayEvaluator(DATA, SETTINGS, num_workers=2, trainer=SleepTrainer(1.5))
    pids = [p["pid"] for p in ev.wait_ready(RAY_PATIENCE_S)]
    th = _kill_when_busy(ev, lambda e: os.kill(pids[1], signal.SIGKILL))
    space = GenomeSpace(Blueprint(), input_shape=DATA.input_shape, num_classes=10)
    summary = Search(space, GAConfig(population_size=6, generations=2, num_parents=2), ev, RunLog(tmp_path),
                     seed=1).run()
    th.join()
    history = list(read_history(tmp_path / "history.jsonl"))
    assert len(history) == summary["evaluations"] and len({h["hash"] for h in history}) == len(history)
    gen0 = [h for h in history if h["generation"] == 0]
    assert len(gen0) == 6 and all(h["status"] == "ok" for h in history)
    assert any(h["attempts"] == 2 for h in history)
    ev.close()


def test_idle_workers_on_a_lost_node_do_not_spend_retries(cluster):
    c, [node] = cluster({"num_cpus": 1}, {"num_cpus": 3})
    ev = RayEvaluator(DATA, SETTINGS, max_retries=1, trainer=SleepTrainer(0.5))
    placements = {p["name"]: p for p in ev.wait_ready(RAY_PATIENCE_S)}
    assert len(ev.pool.slots) == 4 and len({p["node_id"] for p in placements.values()}) == 2
    # Make the worst case certain: the one worker on the surviving head is the last idle one.
    head = ray.get_runtime_context().get_node_id()
    ev.pool.idle = deque(sorted(ev.pool.idle, key=lambda slot: placements[f"w{slot}"]["node_id"] == head))
    c.remove_node(node, allow_graceful=False)  # between generations: every worker idle
    for p in placements.values():  # a lost node's processes are gone: none may still answer
        if p["node_id"] != head:
            with contextlib.suppress(ProcessLookupError):
                os.kill(p["pid"], signal.SIGKILL)
    # Tried on one dead worker at most (none when Ray has already noticed the lost node),
    # then straight on the live one: with max_retries=1, an `ok` result proves that no
    # retry was spent on a second dead idle worker.
    [result] = drain(ev, tasks(1))
    assert result.evaluation.status == "ok", result.evaluation.error
    assert result.attempts in (1, 2) and result.node_id == head
    ev.close()


def test_a_trainer_exception_is_a_failed_evaluation_and_the_worker_goes_on(ray_local):
    ev = RayEvaluator(DATA, SETTINGS, num_workers=1, trainer=SleepTrainer(0.01, raise_below=0.5))
    todo = tasks(8)
    results = drain(ev, todo)
    ev.close()
    assert sorted(r.task.key for r in results) == sorted(t.key for t in todo)
    failed = [r for r in results if r.evaluation.status == "failed"]
    assert failed and len(failed) < len(results)  # some genomes raise, the others are scored
    for r in failed:
        assert r.evaluation.error.startswith("ValueError in the trainer: trainer bug on")
        assert r.evaluation.fitness == 0.0 and r.attempts == 1  # not a lost worker: no retry
    assert ev.pool.restarts == 0


def test_a_trainer_exception_does_not_end_a_run(tmp_path):
    from garay.execution.inprocess import InProcessEvaluator

    evaluator = InProcessEvaluator(DATA, SETTINGS, trainer=SleepTrainer(0.0, raise_below=0.5))
    space = GenomeSpace(Blueprint(), input_shape=DATA.input_shape, num_classes=DATA.num_classes)
    summary = Search(space, GAConfig(population_size=6, generations=2, num_parents=2), evaluator,
                     RunLog(tmp_path)).run()
    history = list(read_history(tmp_path / "history.jsonl"))
    assert summary["generations"] == 2 and summary["statuses"].get("failed", 0) > 0
    assert all("trainer bug" in h["error"] for h in history if h["status"] == "failed")


class _WrongShape:
    """A custom trainer whose run_to returns the evaluation without its state: the error
    surfaces in the actor outside the trainer call, as a RayTaskError."""

    def __call__(self, *args):
        return self

    def run_to(self, task):
        return SleepTrainer(0.0)(DATA, SETTINGS, 1, None).run(task)


def test_an_error_in_the_actor_outside_the_trainer_is_a_failed_evaluation(ray_local):
    ev = RayEvaluator(DATA, SETTINGS, num_workers=1, trainer=_WrongShape())
    results = drain(ev, tasks(2))
    ev.close()
    for r in results:
        assert r.evaluation.status == "failed" and r.attempts == 1
        assert r.evaluation.error.startswith("TypeError in the worker: cannot unpack")  # the message, not a list
    assert ev.pool.restarts == 0  # the actor lives on


def test_a_failed_ray_start_is_tried_again_then_raised(monkeypatch):
    """The fixtures' ray.init (tests.conftest.init_ray): a start that fails under load is
    tried again; one that keeps failing raises its error."""
    import ray

    from tests import conftest

    calls, downs = [], []
    monkeypatch.setattr(time, "sleep", lambda s: None)
    monkeypatch.setattr(ray, "shutdown", lambda: downs.append(1))

    def flaky(**kwargs):
        calls.append(kwargs)
        if len(calls) == 1:
            raise TimeoutError("raylet did not start")

    monkeypatch.setattr(ray, "init", flaky)
    with pytest.warns(UserWarning, match="attempt 1 of 3"):
        conftest.init_ray(address="local", num_cpus=2)
    assert len(calls) == 2 and downs == [1] and calls[1] == {"address": "local", "num_cpus": 2}

    calls.clear()

    def down(**kwargs):
        calls.append(kwargs)
        raise TimeoutError("down")

    monkeypatch.setattr(ray, "init", down)
    with pytest.raises(TimeoutError, match="down"), pytest.warns(UserWarning):
        conftest.init_ray(address="local")
    assert len(calls) == conftest.RAY_INIT_ATTEMPTS

"""The worker pool follows the cluster: nodes join and leave mid-run (real Ray nodes from
ray.cluster_utils), slots that fail to start are tried again with backoff, and a run can
require a number of workers, or GPUs, before it begins. A stand-in trainer keeps it fast."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from pathlib import Path

import pytest
import ray

from garay.cli import run
from garay.config import ConfigError
from garay.results.runlog import read_history
from garay.execution.scheduler import RayEvaluator
from garay.execution.startup import wait_started
from garay.execution.standin import SleepTrainer
from garay.execution.protocol import Result
from tests.test_cluster import DATA, SETTINGS, tasks

STEP = 0.3  # seconds a stand-in training takes


class Stream:
    """Keeps an evaluator fed (more tasks queued than workers) and collects results."""

    def __init__(self, ev: RayEvaluator, n: int = 600):
        self.ev, self.todo, self.results, self.out = ev, deque(tasks(n)), [], 0

    def until(self, done, limit: int = 400) -> Result:
        """Results until `done(result)`; at most `limit` of them (a bound, not a timing)."""
        for _ in range(limit):
            while self.out < len(self.ev.pool.slots) + 2:
                self.ev.submit(self.todo.popleft())
                self.out += 1
            result = self.ev.next_result()
            self.out -= 1
            self.results.append(result)
            if done(result):
                return result
        raise AssertionError(f"not reached in {limit} results: {[(r.worker, r.node_id) for r in self.results[-5:]]}")


def test_nodes_join_leave_and_rejoin_mid_run(cluster):
    c, _ = cluster({"num_cpus": 1})
    head = ray.get_runtime_context().get_node_id()
    ev = RayEvaluator(DATA, SETTINGS, trainer=SleepTrainer(STEP))  # num_workers=None: follow the cluster
    assert len(ev.pool.slots) == 1 and wait_started(ev.pool, 120) == 1
    s = Stream(ev)
    s.until(lambda r: True)

    joined = c.add_node(num_cpus=1)  # a node joins mid-run: a new worker lands there and gets work
    first = s.until(lambda r: r.node_id == joined.node_id)
    assert first.worker == "w1" and len(ev.pool.slots) == 2 and ev.num_workers == 2

    c.remove_node(joined, allow_graceful=False)  # it leaves: the run goes on, on the head
    mark = len(s.results)
    s.until(lambda r: len(s.results) - mark >= 6 and r.node_id == head)
    assert len(ev.pool.slots) == 2  # its slot is kept, waiting to be placed again

    back = c.add_node(num_cpus=1)  # a node comes back: the waiting worker lands there
    again = s.until(lambda r: r.node_id == back.node_id)
    assert again.worker == "w1" and ev.num_workers == 2 and ev.most_workers == 2
    assert all(r.evaluation.status == "ok" for r in s.results)
    assert len({r.task.key for r in s.results}) == len(s.results)  # none lost, none twice
    assert ev.worker_seconds() > 0
    ev.close()


@dataclass(frozen=True)
class FailsToStart:
    """A trainer factory whose first `failures` workers fail to start (a node that is not
    ready yet); the count is kept in a file, since every attempt is a new actor."""

    counter: Path
    failures: int

    def __call__(self, *args):
        n = int(self.counter.read_text() or 0) + 1 if self.counter.exists() else 1
        self.counter.write_text(str(n))
        if n <= self.failures:
            raise RuntimeError(f"start {n} fails")
        return SleepTrainer(0.01)(*args)


def test_a_slot_that_fails_to_start_is_tried_again_with_backoff_not_dropped(ray_local, tmp_path):
    failures = 5  # more than MAX_START_FAILURES, which used to drop the slot for good
    ev = RayEvaluator(DATA, SETTINGS, num_workers=1, trainer=FailsToStart(tmp_path / "n", failures))
    ev.pool.BACKOFF_S = (0.2, 1.0)  # the test's patience, not the contract
    [result] = [ev.next_result() for _ in [ev.submit(t) for t in tasks(1)]]
    assert result.evaluation.status == "ok" and ev.pool.restarts == failures
    assert int((tmp_path / "n").read_text()) == failures + 1
    ev.close()


# How long the tests below let a wait run that cannot succeed: not a bound on how fast Ray
# starts anything (no number of started workers passes those waits), only the tests' patience.
UNMEETABLE_WAIT_S = 1


def test_min_workers_not_reached_is_one_line_naming_the_key(make_cfg, tmp_path, ray_local, caplog):
    # 2 CPUs never hold 3 workers: the wait cannot succeed, so every assertion holds whatever
    # the timeout and however loaded the machine (how many start in it does not matter).
    cfg = make_cfg("cluster.num_workers=3", "cluster.min_workers=3", f"cluster.start_timeout_s={UNMEETABLE_WAIT_S}")
    with caplog.at_level("INFO", logger="garay.execution.pool"), pytest.raises(ConfigError) as err:
        run(cfg, run_dir=tmp_path)
    # The wait says what it waits for (every few seconds, and when it ends): workers and resources.
    waits = [r.getMessage() for r in caplog.records if r.getMessage().startswith("waiting for Ray workers ended")]
    assert waits and "of 3 started" in waits[0] and "each needs 1 CPU on one node" in waits[0], waits
    assert "cluster.min_workers=3" in waits[0]
    assert err.value.key == "cluster.min_workers" and "of the 3 workers asked for" in str(err.value)
    assert not (tmp_path / "history.jsonl").exists() or not read_history(tmp_path / "history.jsonl")


def test_min_workers_reached_starts_and_summary_counts_live_workers(make_cfg, tmp_path, ray_local):
    # cluster.start_timeout_s at its default (minutes): how fast Ray starts an actor is not the contract.
    summary = run(make_cfg("cluster.num_workers=3", "cluster.min_workers=1"), run_dir=tmp_path)
    assert summary["evaluations"] > 0
    # Live ones (the run began with one; the other may have joined), never the 3 asked for.
    assert 1 <= summary["workers"] <= summary["workers_max"] <= 2
    assert 0 < summary["utilisation"] <= 1.0


def test_require_gpus_never_trains_on_the_head_cpus(make_cfg, tmp_path, ray_local):
    # No GPU is in the cluster and none joins: the wait cannot succeed, whatever its timeout.
    with pytest.raises(ConfigError) as err:
        run(make_cfg("cluster.require_gpus=true", f"cluster.start_timeout_s={UNMEETABLE_WAIT_S}"), run_dir=tmp_path)
    assert err.value.key == "cluster.require_gpus" and "no GPU" in str(err.value)
    assert not (tmp_path / "history.jsonl").exists() or not read_history(tmp_path / "history.jsonl")


def test_require_gpus_waits_for_a_gpu_node_to_join(cluster):
    c, _ = cluster({"num_cpus": 2})
    ev = RayEvaluator(DATA, SETTINGS, require_gpus=True, trainer=SleepTrainer(0.01))
    assert wait_started(ev.pool, 2) == 0  # pending (it cannot start without a GPU node, however long it waits)
    gpu_node = c.add_node(num_cpus=1, num_gpus=1)
    assert wait_started(ev.pool, 120) == 1
    [placement] = ev.pool.placements
    assert placement["node_id"] == gpu_node.node_id and placement["gpu_ids"]
    ev.close()


def test_require_gpus_refuses_a_worker_whose_torch_sees_no_cuda(cluster):
    cluster({"num_cpus": 2, "num_gpus": 1})  # a logical GPU; torch here is a CPU build
    ev = RayEvaluator(DATA, SETTINGS, require_gpus=True)  # the real trainer
    with pytest.raises(ConfigError) as err:
        wait_started(ev.pool, 120)
    assert err.value.key == "cluster.require_gpus" and "no CUDA device" in str(err.value)
    ev.close()


def test_min_workers_waits_for_nodes_to_join_an_elastic_pool(cluster):
    c, _ = cluster({"num_cpus": 1})
    ev = RayEvaluator(DATA, SETTINGS, trainer=SleepTrainer(0.01))  # one slot: what the head holds
    c.add_node(num_cpus=1)  # a node joins before the pool has looked again
    live = wait_started(ev.pool, 300, min_workers=2)  # waits for the pool to grow onto it (a bound, not a timing)
    assert live == 2 and len(ev.pool.slots) == 2
    ev.close()


def test_a_fresh_run_refuses_a_directory_with_rung_results_only(make_cfg, tmp_path):
    (tmp_path / "rungs.jsonl").write_text('{"hash": "x", "epochs": 1}\n')  # killed before any genome finished
    with pytest.raises(ConfigError) as err:
        run(make_cfg("cluster.backend=inprocess"), run_dir=tmp_path)
    assert err.value.key == "resume"


def test_a_run_begins_at_once_with_the_workers_that_fit(tmp_path, monkeypatch):
    """Two nodes of 1 CPU and 2 GPUs: garay asks for 4 workers (one per GPU) and 2 can be
    placed. With cluster.start_timeout_s at its default (10 minutes) the run does not wait
    for the other 2: it begins with those that fit, says so, and finishes on them."""
    import subprocess
    import sys

    from ray.cluster_utils import Cluster

    monkeypatch.setenv("RAY_AUTH_MODE", "disabled")
    ray.shutdown()
    c = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "num_gpus": 2})
    try:
        c.add_node(num_cpus=1, num_gpus=2)
        c.wait_for_nodes()
        run_dir = tmp_path / "run"
        proc = subprocess.run([sys.executable, "-m", "garay.cli", f"cluster.address={c.address}",
                               "cluster.gpus_per_worker=1", "ga.population_size=4", "ga.num_parents=2",
                               "ga.generations=1", "train.epochs=1", "data.examples_per_class=20", "progress=false",
                               f"hydra.run.dir={run_dir}"], capture_output=True, text=True, timeout=900, cwd=tmp_path)
        out = proc.stdout + proc.stderr
        assert proc.returncode == 0, out[-3000:]
        assert "starting 4 Ray workers" in out and "the run began with 2 of 4 Ray workers" in out, out[-3000:]
        history = list(read_history(run_dir / "history.jsonl"))
        assert len(history) == 4 and all(h["status"] == "ok" for h in history)
        assert len({h["worker"] for h in history}) <= 2 and len({h["node_id"] for h in history}) == 2
    finally:
        c.shutdown()

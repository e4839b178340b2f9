"""garay joins a running multi-node Ray cluster (`ray start`) with cluster.address=auto."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from garay.results.runlog import read_history
from tests.ray_nodes import LocalCluster
from tests.conftest import RAY_PATIENCE_S

REPO = Path(__file__).resolve().parents[1]

BIN = Path(sys.executable).parent


@pytest.fixture(scope="module")
def two_node_cluster(tmp_path_factory):
    """A head and a second node started with `ray start`, one CPU each, that no other Ray
    instance on the machine sees or is touched by (tests/ray_nodes.py); the module's runs
    join it one after another. Returns the environment of a client that knows only the
    token (RAY_AUTH_TOKEN): garay must switch its client to token mode itself."""
    import ray

    ray.shutdown()
    cluster = LocalCluster(tmp_path_factory.mktemp("cluster"), dashboard=False)
    try:
        cluster.start()
        client_env = {k: v for k, v in cluster.env.items() if not k.startswith("RAY_AUTH")}
        yield {**client_env, "RAY_AUTH_TOKEN": cluster.token}
    finally:
        cluster.stop()
    assert not cluster.running(), "processes left behind"


def test_garay_joins_with_auto_and_uses_both_nodes(two_node_cluster, tmp_path):
    run_dir = tmp_path / "run"
    proc = subprocess.run(
        [BIN / "garay", "cluster.address=auto", "ga.population_size=4", "ga.generations=1", "ga.num_parents=2",
         "train.epochs=1", "data.examples_per_class=40", "progress=false", f"hydra.run.dir={run_dir}"],
        capture_output=True, text=True, timeout=600, cwd=tmp_path, env=two_node_cluster,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    history = list(read_history(run_dir / "history.jsonl"))
    assert len(history) == 4 and all(h["status"] == "ok" for h in history)
    assert len({h["node_id"] for h in history}) == 2  # actors ran on both nodes


def test_joblib_launcher_runs_multirun_jobs_concurrently_on_the_cluster(two_node_cluster, tmp_path):
    """The documented way to run a sweep's jobs at the same time: hydra/launcher=joblib,
    each job joining the running cluster with its own worker. Each job's data loader
    (tests/barrier.py) waits until both drivers are running, so jobs run one after the
    other would never finish: concurrency is checked without timing anything."""
    barrier = tmp_path / "barrier"
    proc = subprocess.run(
        [BIN / "garay", "-m", "hydra/launcher=joblib", "hydra.launcher.n_jobs=2", "cluster.address=auto",
         "cluster.num_workers=1", "ga.population_size=3", "ga.generations=2", "ga.num_parents=2", "train.epochs=1",
         f"data.loader={{_target_:tests.barrier.barrier_loader,folder:'{barrier}'}}", "progress=false", "seed=1,2",
         f"hydra.sweep.dir={tmp_path / 'sweep'}"],
        capture_output=True, text=True, timeout=900, cwd=tmp_path,
        env={**two_node_cluster, "PYTHONPATH": str(REPO)},
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert len(list(barrier.glob("*.here"))) == 2  # two driver processes, alive at the same time
    for job in ("0", "1"):
        history = list(read_history(tmp_path / "sweep" / job / "history.jsonl"))
        assert len(history) >= 3 and all(h["status"] == "ok" for h in history)
    assert (tmp_path / "sweep" / "sweep_summary.csv").exists()  # the callback ran in the driver


def test_a_test_cluster_leaves_other_ray_instances_alone(ray_local, tmp_path):
    """Running the suite must not end a Ray instance someone else is using (an earlier
    `ray stop --force` here killed a running experiment's workers)."""

    @ray_local.remote
    def one() -> int:
        return 1

    assert ray_local.get(one.remote(), timeout=RAY_PATIENCE_S) == 1
    cluster = LocalCluster(tmp_path, dashboard=False)
    try:
        cluster.start()
    finally:
        cluster.stop()
    assert not cluster.running()
    assert ray_local.get(one.remote(), timeout=RAY_PATIENCE_S) == 1  # the other instance still answers

"""garay joins a running multi-node Ray cluster (`ray start`) with cluster.address=auto."""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from garay.runlog import read_history

BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def two_node_cluster():
    """A head and a second node started with `ray start`, one CPU each."""
    import ray

    ray.shutdown()
    port = free_port()
    # The cluster uses token authentication with a token of its own; garay, given only the
    # token (RAY_AUTH_TOKEN), must switch its client to token mode itself.
    token = secrets.token_hex(32)
    client_env = {k: v for k, v in os.environ.items() if k not in ("RAY_ADDRESS", "RAY_AUTH_MODE")}
    client_env["RAY_AUTH_TOKEN"] = token
    env = {**client_env, "RAY_AUTH_MODE": "token"}
    common = ["--num-cpus=1", "--num-gpus=0", "--disable-usage-stats"]
    subprocess.run([BIN / "ray", "start", "--head", f"--port={port}", "--include-dashboard=false", *common],
                   check=True, env=env, capture_output=True, timeout=120)
    try:
        subprocess.run([BIN / "ray", "start", f"--address=127.0.0.1:{port}", *common],
                       check=True, env=env, capture_output=True, timeout=120)
        yield client_env
    finally:
        subprocess.run([BIN / "ray", "stop", "--force"], env=env, capture_output=True, timeout=120)


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
    each job joining the running cluster with its own worker."""
    proc = subprocess.run(
        [BIN / "garay", "-m", "hydra/launcher=joblib", "hydra.launcher.n_jobs=2", "cluster.address=auto",
         "cluster.num_workers=1", "ga.population_size=3", "ga.generations=2", "ga.num_parents=2", "train.epochs=1",
         "data.examples_per_class=40", "progress=false", "seed=1,2", f"hydra.sweep.dir={tmp_path}"],
        capture_output=True, text=True, timeout=600, cwd=tmp_path, env=two_node_cluster,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    spans = []
    for job in ("0", "1"):
        history = list(read_history(tmp_path / job / "history.jsonl"))
        assert len(history) >= 3 and all(h["status"] == "ok" for h in history)
        spans.append((min(h["finished_at"] - h["seconds"] for h in history), max(h["finished_at"] for h in history)))
    (a0, a1), (b0, b1) = spans
    assert a0 < b1 and b0 < a1  # the two jobs' evaluations overlapped in time
    assert (tmp_path / "sweep_summary.csv").exists()  # the callback ran in the driver

"""garay joins a running multi-node Ray cluster (`ray start`) with cluster.address=auto."""

from __future__ import annotations

import os
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
    env = {**os.environ}
    env.pop("RAY_ADDRESS", None)
    common = ["--num-cpus=1", "--num-gpus=0", "--disable-usage-stats"]
    subprocess.run([BIN / "ray", "start", "--head", f"--port={port}", "--include-dashboard=false", *common],
                   check=True, env=env, capture_output=True, timeout=120)
    try:
        subprocess.run([BIN / "ray", "start", f"--address=127.0.0.1:{port}", *common],
                       check=True, env=env, capture_output=True, timeout=120)
        yield port
    finally:
        subprocess.run([BIN / "ray", "stop", "--force"], env=env, capture_output=True, timeout=120)


def test_garay_joins_with_auto_and_uses_both_nodes(two_node_cluster, tmp_path):
    run_dir = tmp_path / "run"
    proc = subprocess.run(
        [BIN / "garay", "cluster.address=auto", "ga.population_size=4", "ga.generations=1", "ga.num_parents=2",
         "train.epochs=1", "data.examples_per_class=40", "progress=false", f"hydra.run.dir={run_dir}"],
        capture_output=True, text=True, timeout=600, cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    history = list(read_history(run_dir / "history.jsonl"))
    assert len(history) == 4 and all(h["status"] == "ok" for h in history)
    assert len({h["node_id"] for h in history}) == 2  # actors ran on both nodes

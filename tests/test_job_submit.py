"""`ray job submit` of garay to a real two-node Ray cluster on this machine.

Two `ray start` processes (a head and a worker node, one CPU each) with token
authentication on, then the same submission `make submit` sends to a compose, `ray up`
or KubeRay cluster: `garay cluster.address=auto ...` through the dashboard's job API.

The cluster (`tests/ray_nodes.py`) touches no other Ray instance on the machine.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.ray_nodes import RAY, LocalCluster, http_status

pytestmark = pytest.mark.slow

TINY = ["ga.population_size=4", "ga.generations=2", "ga.num_parents=2", "train.epochs=1",
        "data.examples_per_class=40", "progress=false"]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    started = time.monotonic()
    cluster = LocalCluster(tmp_path_factory.mktemp("cluster"))
    try:
        cluster.start()
        print(f"\ntwo-node cluster up in {time.monotonic() - started:.1f} s")
        yield cluster
    finally:
        cluster.stop()
        left = cluster.running()
        print(f"cluster stopped; {time.monotonic() - started:.1f} s in all")
    assert not left, f"processes left behind: {left}"


def _check_run_dir(run_dir: Path) -> None:
    history = [json.loads(line) for line in (run_dir / "history.jsonl").read_text().splitlines() if line.strip()]
    assert len(history) >= 4
    assert not [rec for rec in history if rec["status"] in ("failed", "timeout")], history
    assert len({rec["node_id"] for rec in history}) == 2  # both nodes trained genomes
    best = json.loads((run_dir / "best.json").read_text())
    assert {"genome", "val_accuracy", "test_accuracy"} <= set(best)
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["workers"] == 2 and summary["config"]["cluster"]["address"] == "auto"


def test_job_api_needs_the_token(cluster):
    assert http_status(f"{cluster.dashboard}/api/jobs/") == 401
    assert http_status(f"{cluster.dashboard}/api/jobs/", {"Authorization": "Bearer not-the-token"}) == 403
    assert http_status(f"{cluster.dashboard}/api/jobs/", {"Authorization": f"Bearer {cluster.token}"}) == 200


def test_ray_job_submit(cluster, tmp_path):
    started = time.monotonic()
    working_dir = tmp_path / "job"  # what --working-dir uploads: small, no source
    working_dir.mkdir()
    (working_dir / "README").write_text("garay job submitted by tests/test_job_submit.py\n")
    run_dir = tmp_path / "run"
    proc = subprocess.run(
        [RAY, "job", "submit", "--address", cluster.dashboard, "--working-dir", str(working_dir), "--",
         "garay", "cluster.address=auto", *TINY, f"hydra.run.dir={run_dir}"],
        env=cluster.env, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 0, f"{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}\n{cluster.logs()}"
    assert "Best architecture" in proc.stdout and "succeeded" in proc.stdout  # the driver's output, tailed
    _check_run_dir(run_dir)
    print(f"ray job submit: {time.monotonic() - started:.1f} s")


def test_make_submit(cluster, tmp_path):
    """`make submit` as a user runs it: the repository as working dir, the token file."""
    repo = Path(__file__).resolve().parents[1]
    venv = Path(sys.prefix)
    run_dir = tmp_path / "run"
    proc = subprocess.run(
        ["make", "--no-print-directory", "-o", str(venv / ".garay-installed"), "submit", f"VENV={venv}",
         f"RAY_DASHBOARD={cluster.dashboard}", f"RAY_TOKEN_FILE={cluster.env['RAY_AUTH_TOKEN_PATH']}",
         f"RUN_DIR={run_dir}", f"ARGS={' '.join(TINY)}"],
        cwd=repo, env={k: v for k, v in cluster.env.items() if not k.startswith("RAY_AUTH")},
        stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 0, f"{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"
    assert "Best architecture" in proc.stdout
    _check_run_dir(run_dir)

"""Ray's token authentication as a new user meets it: a token left in ~/.ray by an earlier
local run, then a cluster that does not use tokens; and the token file's permissions."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys

import pytest
from ray.cluster_utils import Cluster

TINY = ["ga.population_size=3", "ga.num_parents=2", "ga.generations=1", "train.epochs=1",
        "data.examples_per_class=20", "progress=false", "cluster.num_workers=1", "cluster.start_timeout_s=60"]


def _env(home, **extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RAY_AUTH", "RAY_ADDRESS"))}
    env.update(HOME=str(home), RAY_USAGE_STATS_ENABLED="0", **extra)
    return env


def test_a_stale_token_stops_a_join_in_one_line_that_names_cause_and_fix(tmp_path, monkeypatch):
    home = tmp_path / "home"
    (home / ".ray").mkdir(parents=True)
    token = home / ".ray" / "auth_token"
    token.write_text(secrets.token_hex(32))  # left by an earlier local run
    token.chmod(0o600)
    monkeypatch.setenv("RAY_AUTH_MODE", "disabled")  # the cluster runs without token authentication
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 2})
    try:
        def garay(**extra):
            return subprocess.run([sys.executable, "-m", "garay.cli", f"cluster.address={cluster.address}", *TINY,
                                   f"hydra.run.dir={tmp_path / ('run' + str(len(extra)))}"],
                                  env=_env(home, **extra), capture_output=True, text=True, timeout=600, cwd=tmp_path)

        stale = garay()
        assert stale.returncode == 2, stale.stderr[-2000:]
        line = [ln for ln in stale.stderr.splitlines() if ln.startswith("garay: error:")]
        assert len(line) == 1 and line[0].startswith("garay: error: cluster.address:")
        assert str(token) in line[0] and "RAY_AUTH_MODE=disabled" in line[0]
        fixed = garay(RAY_AUTH_MODE="disabled")  # the fix the message names
        assert fixed.returncode == 0, fixed.stderr[-2000:]
    finally:
        cluster.shutdown()


def test_a_local_run_leaves_the_token_readable_by_its_owner_only(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    code = "from garay.cluster import ray_session\nwith ray_session(None):\n    pass\n"
    proc = subprocess.run([sys.executable, "-c", code], env=_env(home), capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    token = home / ".ray" / "auth_token"
    if not token.exists():
        pytest.fail(f"Ray did not write {token}: this Ray release starts local instances without a token")
    assert token.stat().st_mode & 0o777 == 0o600

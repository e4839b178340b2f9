"""Ray's token authentication as a new user meets it: garay joins a cluster in the
cluster's own mode (garay.execution.auth asks its GCS), so a token left in ~/.ray by an earlier
local run does not stop a join to a cluster without tokens, and a token cluster is joined
with its token from ~/.ray/auth_token; a missing or wrong token is one line. And the
token file's permissions. Real Ray processes: `ray start` clusters."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

from garay.results.runlog import read_history
from tests.ray_nodes import LocalCluster

TINY = ["ga.population_size=3", "ga.num_parents=2", "ga.generations=1", "train.epochs=1",
        "data.examples_per_class=20", "progress=false", "cluster.num_workers=1"]


def _env(home, **extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RAY_AUTH", "RAY_ADDRESS"))}
    env.update(HOME=str(home), RAY_USAGE_STATS_ENABLED="0", **extra)
    return env


def _home(tmp_path: Path, token: str | None) -> Path:
    """A home whose ~/.ray/auth_token holds `token` (None: no token file)."""
    home = tmp_path / f"home-{secrets.token_hex(4)}"
    (home / ".ray").mkdir(parents=True)
    if token is not None:
        (home / ".ray" / "auth_token").write_text(token)
        (home / ".ray" / "auth_token").chmod(0o600)
    return home


def _garay(address: str, home: Path, run_dir: Path, env: dict | None = None, **extra) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "garay.cli", f"cluster.address={address}", *TINY,
                           f"hydra.run.dir={run_dir}"], env={**(env or _env(home)), "HOME": str(home), **extra},
                          capture_output=True, text=True, timeout=600, cwd=run_dir.parent)


def _output(proc: subprocess.CompletedProcess) -> str:
    return proc.stdout + proc.stderr  # garay's log is on stdout (Hydra's console handler)


def _error_lines(proc: subprocess.CompletedProcess) -> list[str]:
    return [ln for ln in proc.stderr.splitlines() if ln.startswith("garay: error:")]


@pytest.fixture(scope="module")
def ray_start_clusters(tmp_path_factory):
    """Two `ray start` clusters (head and worker each): one with token authentication, one
    without; each touches no other Ray instance (tests/ray_nodes.py)."""
    import ray

    ray.shutdown()
    token, open_ = (LocalCluster(tmp_path_factory.mktemp(name), dashboard=False, auth=auth)
                    for name, auth in (("token", "token"), ("open", "disabled")))
    try:
        token.start()
        open_.start()
        yield token, open_
    finally:
        for c in (token, open_):
            c.stop()
    assert not token.running() and not open_.running(), "processes left behind"


def test_a_stale_token_does_not_stop_a_join_to_a_cluster_without_tokens(ray_start_clusters, tmp_path):
    """`make run` leaves ~/.ray/auth_token; joining a cluster without token authentication
    afterwards, by its address, just works (it used to switch to token mode and fail)."""
    _, open_cluster = ray_start_clusters
    address = f"127.0.0.1:{open_cluster.gcs_port}"
    client = {k: v for k, v in open_cluster.env.items() if not k.startswith("RAY_AUTH")}
    home = _home(tmp_path, secrets.token_hex(32))  # left by an earlier local run
    run_dir = tmp_path / "run"
    proc = _garay(address, home, run_dir, client)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "does not use token authentication: joining without a token" in _output(proc)
    assert str(home / ".ray" / "auth_token") in _output(proc)  # named as not used
    history = list(read_history(run_dir / "history.jsonl"))
    assert len(history) == 3 and all(h["status"] == "ok" for h in history)
    # RAY_AUTH_MODE=token set by hand (the old workaround's opposite) is overridden, with a warning.
    forced = _garay(address, home, tmp_path / "forced", client, RAY_AUTH_MODE="token")
    assert forced.returncode == 0, forced.stderr[-3000:]
    assert "RAY_AUTH_MODE=token is set, but the cluster" in _output(forced)


def test_a_token_cluster_is_joined_with_its_token_and_a_wrong_or_missing_one_is_one_line(ray_start_clusters, tmp_path):
    token_cluster, open_cluster = ray_start_clusters
    address = f"127.0.0.1:{token_cluster.gcs_port}"
    client = {k: v for k, v in token_cluster.env.items() if not k.startswith("RAY_AUTH")}

    none = _garay(address, _home(tmp_path, None), tmp_path / "none", client)
    [line] = _error_lines(none)
    assert none.returncode == 2 and line.startswith("garay: error: cluster.address:")
    assert "uses token authentication and no token is at hand" in line

    wrong_home = _home(tmp_path, secrets.token_hex(32))
    wrong = _garay(address, wrong_home, tmp_path / "wrong", client)
    [line] = _error_lines(wrong)
    assert wrong.returncode == 2 and "refuses the token from" in line and str(wrong_home / ".ray" / "auth_token") in line

    right = _garay(address, _home(tmp_path, token_cluster.token), tmp_path / "right", client)
    assert right.returncode == 0, right.stderr[-3000:]
    assert "uses token authentication: joining with the token from" in _output(right)
    assert [h["status"] for h in read_history(tmp_path / "right" / "history.jsonl")] == ["ok"] * 3

    # The `ray start` cluster without tokens, a stale token in place, address=auto.
    stale = _garay("auto", _home(tmp_path, secrets.token_hex(32)), tmp_path / "stale",
                   {k: v for k, v in open_cluster.env.items() if not k.startswith("RAY_AUTH")})
    assert stale.returncode == 0, stale.stderr[-3000:]
    assert "does not use token authentication" in _output(stale)


def test_a_local_run_leaves_the_token_readable_by_its_owner_only(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    code = "from garay.execution.cluster import ray_session\nwith ray_session(None):\n    pass\n"
    proc = subprocess.run([sys.executable, "-c", code], env=_env(home), capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    token = home / ".ray" / "auth_token"
    if not token.exists():
        pytest.fail(f"Ray did not write {token}: this Ray release starts local instances without a token")
    assert token.stat().st_mode & 0o777 == 0o600

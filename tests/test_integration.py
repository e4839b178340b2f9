"""The real config, shrunk, through run(cfg) on both backends, and the CLI once."""

import json
import subprocess
import sys

from garay.cli import run
from garay.search.genome import Genome
from garay.results.runlog import read_history


def _check_run_dir(path, summary):
    history = list(read_history(path / "history.jsonl"))
    assert len(history) == summary["evaluations"] >= 4
    for rec in history:
        assert {"run_id", "generation", "genome", "hash", "fitness", "status", "error", "seconds",
                "worker", "gpu_ids", "params"} <= set(rec)
        assert Genome.from_dict(rec["genome"]).hash == rec["hash"]
    assert len({r["hash"] for r in history}) == len(history)  # nothing trained twice
    best = json.loads((path / "best.json").read_text())
    assert best["fitness"] == max(r["fitness"] for r in history)
    assert {"genome", "val_accuracy", "test_accuracy"} <= set(best)
    for name in ("summary.json", "checkpoint.json", "fitness.png"):
        assert (path / name).stat().st_size > 0
    return history


def test_inprocess_backend(make_cfg, tmp_path, capsys):
    summary = run(make_cfg("cluster.backend=inprocess", "ga.generations=3"), run_dir=tmp_path)
    history = _check_run_dir(tmp_path, summary)
    assert {r["generation"] for r in history} <= {0, 1, 2} and 0 in {r["generation"] for r in history}
    assert all(r["worker"].startswith("inprocess") for r in history)
    assert summary["best"]["fitness"] > 0.1
    out = capsys.readouterr().out
    assert "Best architecture" in out and "layer" in out


def test_ray_backend_uses_two_workers(make_cfg, tmp_path, ray_local):
    summary = run(make_cfg("cluster.num_workers=2"), run_dir=tmp_path)
    history = _check_run_dir(tmp_path, summary)
    assert {r["worker"] for r in history} == {"w0", "w1"}
    assert all(r["node_id"] for r in history)
    assert summary["workers"] == 2


def test_cli_runs_from_any_directory(tmp_path):
    run_dir = tmp_path / "run"
    proc = subprocess.run(
        [sys.executable, "-m", "garay.cli", "ga.population_size=4", "ga.generations=2", "ga.num_parents=2",
         "train.epochs=1", "data.examples_per_class=40", "progress=false", f"hydra.run.dir={run_dir}"],
        capture_output=True, text=True, timeout=300, cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "Best architecture" in proc.stdout
    assert len(list(read_history(run_dir / "history.jsonl"))) >= 4
    assert (run_dir / "garay.log").exists()

"""The FSDD strategy comparison's report (benchmarks/fsdd_strategies.py): the figures that
say why a strategy does or does not pay, and the comparison at equal worker-hours."""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("fsdd_strategies", REPO / "benchmarks" / "fsdd_strategies.py")
fsdd = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(fsdd)


def test_spearman_ranks_with_ties_and_refuses_too_few_points():
    assert fsdd.spearman([1, 2, 3, 4], [10, 20, 30, 40]) == 1.0
    assert fsdd.spearman([1, 2, 3, 4], [4, 3, 2, 1]) == -1.0
    # ties share their mean rank: x ranks 0, 1.5, 1.5, 3
    expected = np.corrcoef([0, 1.5, 1.5, 3], [0, 1, 2, 3])[0, 1]
    assert math.isclose(fsdd.spearman([1, 2, 2, 5], [1, 2, 3, 4]), expected)
    assert math.isnan(fsdd.spearman([1, 2], [1, 2]))
    assert math.isnan(fsdd.spearman([1, 1, 1], [1, 2, 3]))


def _record(key: str, fitness: float, test: float, status: str = "ok", voices=(0.5, 0.6, 0.7)) -> dict:
    return {"hash": key, "fitness": fitness, "test_accuracy": test, "status": status, "val_scores": list(voices)}


def test_diagnostics_count_only_networks_trained_in_full():
    history = [_record("a", 0.9, 0.70), _record("b", 0.8, 0.90), _record("c", 0.7, 0.60),
               _record("d", 0.0, 0.99, status="stopped"),  # a stopped genome's test is never "left on the table"
               _record("a", 0.9, 0.70, voices=(0.1, 0.9))]  # the same genome again counts once
    d = fsdd.run_diagnostics(history, best_test=0.70)
    assert d["trained_in_full"] == 3
    assert math.isclose(d["left_on_table"], 0.20)
    assert math.isclose(d["voice_spread"], 0.2)
    assert math.isclose(d["rank_corr_all"], 0.5)  # fitness ranks a, b, c; test ranks b, a, c


def _run(seed: int, seconds: list[float], best: list[float], test: list[float]) -> dict:
    curve = {"evaluations": np.arange(1, len(best) + 1, dtype=float), "worker_seconds": np.array(seconds),
             "best": np.array(best), "test": np.array(test)}
    return {"seed": seed, "curve": curve, "worker_seconds": seconds[-1], "best_val": best[-1], "best_test": test[-1]}


def test_equal_cost_reads_each_arm_at_the_baselines_worker_seconds():
    by = {"random": {s: _run(s, [10, 20], [0.5, 0.6], [0.7, 0.8]) for s in (0, 1)},
          # dearer: at 20 s it held (0.55, 0.75); its final (0.9, 0.95) came later
          "dear": {s: _run(s, [15, 30, 40], [0.55, 0.7, 0.9], [0.75, 0.85, 0.95]) for s in (0, 1)}}
    text = fsdd.equal_cost_text(by)
    row = next(line for line in text.splitlines() if line.startswith("| dear |"))
    assert row == "| dear | 2 | -0.050 [-0.050, -0.050] | -0.050 [-0.050, -0.050] |"
    assert "no comparison" in fsdd.equal_cost_text({"random": by["random"], "dear": {0: by["dear"][0]}})


def test_by_budget_reads_every_arm_after_as_many_evaluations_and_keeps_a_short_runs_last():
    by = {"random": {s: _run(s, [1, 2, 3, 4], [0.1, 0.2, 0.3, 0.4], [0.5, 0.5, 0.6, 0.6]) for s in (0, 1)},
          # a run that ended after 2 evaluations keeps its incumbent to the end
          "short": {s: _run(s, [1, 2], [0.3, 0.5], [0.7, 0.8]) for s in (0, 1)}}
    rows = [line for line in fsdd.by_budget_text(by).splitlines() if line.startswith("| 4 |")]
    assert rows == ["| 4 | short | 2 | +0.100 [+0.100, +0.100] | +0.200 [+0.200, +0.200] |"]
    assert fsdd.by_budget_text({"random": by["random"]}) == ""


def test_a_refused_campaign_writes_nothing(tmp_path):
    import subprocess
    import sys

    out = tmp_path / "campaign"
    for bad in ("train.early_stp=halving", "ga.num_parents=1"):  # a mistyped key; a bad value
        proc = subprocess.run([sys.executable, str(REPO / "benchmarks" / "fsdd_strategies.py"), str(out),
                               "--seeds", "0", bad], capture_output=True, text=True, timeout=300)
        assert proc.returncode != 0 and bad.split("=")[0] in proc.stderr
        assert not out.exists()  # no OUT, no campaign.json a corrected command would be refused by

"""Multi-objective search: NSGA-II's pieces (pure), selection, the hard size limit, and
runs that write the front (pareto.json, pareto.png, garay-report), in-process and on Ray."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from garay.search.blueprint import Blueprint, sample_genome
from garay.cli import run
from garay.config import ConfigError
from garay.strategies.selection import Individual, select_pareto
from garay.results.pareto import crowding_distance, dominates, non_dominated_sort, nsga2_order
from garay.results.report import run_report
from garay.results.runlog import read_history


def test_non_dominated_sort_and_crowding():
    points = [(0.9, -100), (0.8, -10), (0.9, -50), (0.7, -10), (0.5, -5), (0.6, -200)]
    assert dominates(points[2], points[0]) and not dominates(points[1], points[2])
    assert non_dominated_sort(points) == [[1, 2, 4], [0, 3], [5]]
    crowd = crowding_distance(points, [1, 2, 4])
    assert crowd[2] == crowd[4] == math.inf and 0 < crowd[1] < math.inf
    # Feasible fronts first (crowding, then the tie key), then the infeasible ones by their key.
    order = nsga2_order(points, [True, True, True, True, False, True], list("abcdef"), [(0,)] * 6)
    assert order == [1, 2, 0, 3, 5, 4]


def test_select_pareto_keeps_small_accurate_networks_and_never_a_partial_one():
    rng = np.random.default_rng(0)
    g = [sample_genome(Blueprint(), 0.8, rng) for _ in range(5)]
    pop = [Individual(g[0], 0.90, 1.0, (50_000.0,)), Individual(g[1], 0.85, 1.0, (2_000.0,)),
           Individual(g[2], 0.80, 1.0, (40_000.0,)),  # dominated by g[1]
           Individual(g[3], 0.95, 0.3, (1_000.0,)),  # early-stopped: a partial accuracy
           Individual(g[4], 0.60, 1.0, (500.0,))]
    chosen = select_pareto(pop, 3)
    assert {ind.genome for ind in chosen} == {g[0], g[1], g[4]}
    assert select_pareto(pop, 5)[3].genome == g[2] and select_pareto(pop, 5)[4].genome == g[3]


def _check_front(run_dir, objectives=("fitness", "params")):
    front = json.loads((run_dir / "pareto.json").read_text())
    assert front["objectives"] == list(objectives)
    done = [h for h in read_history(run_dir / "history.jsonl") if h["status"] == "ok"]

    def point(r):
        return (r["fitness"], -r["params"], *([-r["latency_ms"]] if "latency" in objectives else []))

    hashes = {r["hash"] for r in front["front"]}
    assert hashes and hashes <= {h["hash"] for h in done}
    for r in front["front"]:  # nothing beats a front member
        assert not any(dominates(point(h), point(r)) for h in done)
    for h in done:  # everything else is beaten by a front member
        assert h["hash"] in hashes or any(dominates(point(r), point(h)) for r in front["front"])
    assert (run_dir / "pareto.png").is_file()
    return front["front"], done


def test_a_run_writes_the_front_and_keeps_the_size_limit(make_cfg, tmp_path):
    summary = run(make_cfg("cluster.backend=inprocess", "ga.objectives=[fitness,params]", "ga.max_params=30000",
                           "ga.population_size=6", "ga.generations=3"), run_dir=tmp_path)
    front, done = _check_front(tmp_path)
    assert summary["front"] == front and summary["objectives"] == ["fitness", "params"]
    assert all(h["params"] <= 30000 for h in read_history(tmp_path / "history.jsonl"))
    assert [r["params"] for r in front] == sorted(r["params"] for r in front)
    assert "Pareto front" in run_report(tmp_path)


def test_latency_is_measured_on_the_worker_and_is_an_objective(make_cfg, tmp_path):
    run(make_cfg("cluster.backend=inprocess", "ga.objectives=[fitness,params,latency]"), run_dir=tmp_path)
    front, done = _check_front(tmp_path, ("fitness", "params", "latency"))
    assert all(h["latency_ms"] > 0 for h in done) and all("latency_ms" in r for r in front)


def test_an_impossible_size_limit_is_one_config_error(make_cfg, tmp_path):
    with pytest.raises(ConfigError) as err:
        run(make_cfg("cluster.backend=inprocess", "ga.max_params=10"), run_dir=tmp_path)
    assert err.value.key == "ga.max_params"


def test_async_multi_objective_on_ray(make_cfg, tmp_path, ray_local):
    summary = run(make_cfg("ga.mode=async", "ga.objectives=[fitness,params]", "cluster.num_workers=2"),
                  run_dir=tmp_path)
    front, done = _check_front(tmp_path)
    assert summary["evaluations"] == 6 and {h["worker"] for h in done} <= {"w0", "w1"}


@pytest.mark.parametrize("objectives", ["[params,fitness]", "[fitness,fitness]", "[fitness,flops]"])
def test_objectives_are_validated(make_cfg, tmp_path, objectives):
    with pytest.raises(ConfigError) as err:
        run(make_cfg(f"ga.objectives={objectives}"), run_dir=tmp_path)
    assert err.value.key == "ga.objectives"

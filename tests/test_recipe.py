"""Training genes (blueprint.train_genes): off by default with the genome unchanged; on,
drawn, crossed and mutated like layer genes, applied to the training, shown and kept in
every mode, through resume and early stopping."""

from __future__ import annotations

import json
import subprocess
from dataclasses import replace

import numpy as np
import pytest

from garay.cli import run
from garay.config.validate import validate
from garay.errors import ConfigError
from garay.execution.evaluation import TrainSettings
from garay.execution.train import train_model
from garay.data.synthetic import make_synthetic
from garay.results.runlog import read_history
from garay.results.tables import genome_tables
from garay.search.blueprint import Blueprint
from garay.search.genome import ConvGene, DenseGene, Genome
from garay.search.operators import crossover, mutate
from garay.search.recipe import GENES, Recipe, RecipeSpace, crossover_recipe, mutate_recipe, sample_recipe
from garay.search.space import GenomeSpace
from tests.test_resume import _garay, _key, _kill_when, _lines

CNN = Genome((ConvGene(16, 5, 1, 1, 2, "relu"), DenseGene(32, "relu", 0.1)))
RECIPE = Recipe(lr=3e-3, weight_decay=1e-4, batch_size=16, noise_level=0.05, time_masks=1, freq_masks=2,
                shift=0.1, warp=0.1, mixup=0.2)
ON = ["blueprint.train_genes=true", "cluster.backend=inprocess"]


def space(train_genes: bool, rate: float = 0.2) -> GenomeSpace:
    return GenomeSpace(Blueprint(train_genes=train_genes), input_shape=(32, 32), num_classes=10, mutation_rate=rate)


def test_off_by_default_the_genome_and_its_breeding_are_unchanged(make_cfg):
    cfg = make_cfg()
    assert cfg.blueprint.train_genes is False and Blueprint.from_config(cfg.blueprint).train_genes is False
    off = space(False)
    a, b = off.sample(np.random.default_rng(0)), off.sample(np.random.default_rng(1))
    assert a.recipe is None and "recipe" not in a.to_dict()
    assert off.vary(a, b, np.random.default_rng(2)).recipe is None
    # The same draws as breeding before training genes existed (crossover, then mutation,
    # nothing after): the same child, and the generator left where it would be
    r1, r2 = np.random.default_rng(5), np.random.default_rng(5)
    kid = off.vary(a, b, r1)
    before = mutate(crossover(a, b, r2), off.blueprint, off.mutation_rate, r2, conv_chance=off.conv_chance)
    assert kid == before and r1.random() == r2.random()
    assert TrainSettings().for_recipe(None) == TrainSettings()


def test_a_recipe_round_trips_changes_the_hash_and_shows():
    genome = replace(CNN, recipe=RECIPE)
    assert Genome.from_json(genome.to_json()) == genome and genome.hash != CNN.hash
    assert Genome.from_dict(CNN.to_dict()).hash == CNN.hash
    assert "lr 0.003" in genome.describe() and "mixup 0.2" in genome.describe()
    tables = genome_tables(genome)
    assert "Training genes" in tables and "0.003" in tables and "Training genes" not in genome_tables(CNN)
    with pytest.raises(ValueError, match="recipe needs exactly the keys"):
        Genome.from_dict({**CNN.to_dict(), "recipe": {"lr": 0.1}})


def test_training_genes_are_drawn_crossed_and_mutated_from_their_lists():
    values = RecipeSpace()
    rng = np.random.default_rng(0)
    drawn = [sample_recipe(values, rng) for _ in range(200)]
    for g in GENES:
        seen = {getattr(r, g) for r in drawn}
        assert seen == set(getattr(values, g)), g  # every value, and only those
    a, b = drawn[0], drawn[1]
    kids = [crossover_recipe(a, b, rng) for _ in range(100)]
    for g in GENES:
        assert {getattr(k, g) for k in kids} <= {getattr(a, g), getattr(b, g)}
    assert mutate_recipe(a, values, 0.0, rng) == a
    mutants = [mutate_recipe(a, values, 1.0, rng) for _ in range(100)]
    assert any(m != a for m in mutants) and all(values.contains(m) for m in mutants)
    on = space(True)
    parent = on.sample(np.random.default_rng(3))
    assert parent.recipe is not None and on.blueprint.recipe.contains(parent.recipe)
    child = on.vary(parent, on.sample(np.random.default_rng(4)), np.random.default_rng(5))
    assert child.recipe is not None and on.mutate(parent, np.random.default_rng(6)).recipe is not None
    # a surrogate and TPE see the genes too
    assert len(on.encoding(parent)) == len(space(False).encoding(parent)) + len(GENES)
    names = [d[0] for d in on.decisions(parent)]
    assert [n for n in names if n.startswith("recipe.")] == [f"recipe.{g}" for g in GENES]
    answers = {d[0]: d[3] for d in on.decisions(parent)}
    assert on.define(lambda name, choices, ordered: answers[name]) == parent


def test_a_genomes_recipe_is_what_it_trains_with():
    data = make_synthetic(seed=0, examples_per_class=20)
    settings = TrainSettings(epochs=1)
    assert settings.for_recipe(RECIPE).lr == 3e-3 and settings.for_recipe(RECIPE).augment.mixup == 0.2
    assert settings.for_recipe(RECIPE).augment.time_width == settings.augment.time_width  # widths stay train's
    exploding = replace(RECIPE, lr=float("inf"), noise_level=0.0)
    assert train_model(CNN, data, settings, "cpu", 0)[0].status == "ok"
    assert train_model(replace(CNN, recipe=exploding), data, settings, "cpu", 0)[0].status == "diverged"
    plain = replace(RECIPE, time_masks=0, freq_masks=0, shift=0.0, warp=0.0, mixup=0.0, weight_decay=0.0)
    a = train_model(replace(CNN, recipe=plain), data, settings, "cpu", 0)[0]
    b = train_model(replace(CNN, recipe=replace(plain, weight_decay=1e-1)), data, settings, "cpu", 0)[0]
    assert a.losses != b.losses  # weight decay reaches Adam


@pytest.mark.parametrize("mode", ["generational", "async", "random", "regularized", "local", "tpe"])
def test_every_mode_searches_and_reports_the_training_genes(make_cfg, tmp_path, mode, capsys):
    summary = run(make_cfg(*ON, f"ga.mode={mode}"), run_dir=tmp_path)
    history = read_history(tmp_path / "history.jsonl")
    assert history and all(h["genome"].get("recipe") is not None for h in history)
    best = json.loads((tmp_path / "best.json").read_text())
    assert Genome.from_dict(best["genome"]).recipe is not None and summary["best"]["hash"] == best["hash"]
    assert "Training genes" in capsys.readouterr().out


def test_screened_and_reevaluated_search_with_training_genes(make_cfg, tmp_path):
    run(make_cfg(*ON, "ga.screen=4", "ga.reevaluate=1"), run_dir=tmp_path)
    assert all(h["genome"].get("recipe") for h in read_history(tmp_path / "history.jsonl"))


def test_early_stopping_with_training_genes(make_cfg, tmp_path):
    run(make_cfg(*ON, "train.epochs=4", "train.early_stop=halving", "train.grace_epochs=1",
                 "ga.population_size=6", "ga.num_parents=2"), run_dir=tmp_path)
    history = read_history(tmp_path / "history.jsonl")
    assert {h["status"] for h in history} >= {"ok", "stopped"}
    assert all(h["genome"].get("recipe") for h in history)


def test_sigkill_then_resume_with_training_genes_matches_an_uninterrupted_run(tmp_path):
    whole, broken = tmp_path / "whole", tmp_path / "broken"
    subprocess.run(_garay(whole, "blueprint.train_genes=true"), check=True, capture_output=True, timeout=600)
    expected = sorted(_key(h) for h in read_history(whole / "history.jsonl"))
    history = broken / "history.jsonl"
    _kill_when(_garay(broken, "blueprint.train_genes=true"), lambda: _lines(history) >= 6)
    off = subprocess.run(_garay(broken, "resume=true"), capture_output=True, text=True, timeout=600)
    assert off.returncode == 2 and "blueprint.train_genes" in off.stderr  # the genes are part of the run
    resumed = subprocess.run(_garay(broken, "blueprint.train_genes=true", "resume=true"), capture_output=True,
                             text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert sorted(_key(h) for h in read_history(history)) == expected


@pytest.mark.parametrize("overrides, key", [
    (["blueprint.recipe.lr=[]"], "blueprint.recipe.lr"),
    (["blueprint.recipe.batch_size=[0,16]"], "blueprint.recipe.batch_size"),
    (["blueprint.recipe.shift=[0,1.5]"], "blueprint.recipe.shift"),
    (["data.features=mfcc"], "blueprint.recipe.warp"),
    (["data.features=waveform", "blueprint.recipe.warp=[0]"], "blueprint.recipe.freq_masks"),
])
def test_bad_training_gene_values_are_refused_naming_the_key(make_cfg, overrides, key):
    with pytest.raises(ConfigError) as err:
        validate(make_cfg("blueprint.train_genes=true", *overrides))
    assert err.value.key == key

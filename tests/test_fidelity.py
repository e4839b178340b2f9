"""Early stopping's decisions (pure functions, no Ray, no torch) and the exact
continuation of a paused training that makes them safe to resume."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from garay.best import genome_path
from garay.data.synthetic import make_synthetic
from garay.execution.evaluation import TrainSettings
from garay.fidelity.rules import Rungs, continues, halving_survivors, median_survivors, standing
from garay.search.genome import Genome
from garay.strategies.selection import Individual, select
from garay.execution.train import evaluate_genome, train_model

GENOME = Genome.from_json(genome_path("small_cnn").read_text())


def test_default_rungs_suit_twenty_epochs():
    assert Rungs.schedule(epochs=20, policy="halving").epochs == (2, 7, 20)
    assert Rungs.schedule(epochs=20, policy="halving", eta=2, grace_epochs=3).epochs == (5, 10, 20)  # 20/8 < 3
    assert Rungs.schedule(epochs=10, policy="halving", grace_epochs=1).epochs == (1, 3, 10)
    assert Rungs.schedule(epochs=20, policy="median", rungs=[5, 1, 5, 30]).epochs == (1, 5, 20)
    none = Rungs.schedule(epochs=20, policy="none")
    assert none.epochs == (20,) and not none.active
    assert not Rungs.schedule(epochs=2, policy="halving", grace_epochs=2).active  # no rung below the full training
    r = Rungs.schedule(epochs=20, policy="halving")
    assert (r.after(2), r.after(7), r.after(20)) == (7, 20, None)


def test_halving_keeps_the_best_third_whatever_the_arrival_order():
    scores = {"a": 0.5, "b": 0.9, "c": 0.1, "d": 0.7, "e": 0.3, "f": 0.6, "g": 0.2}
    expected = {"b", "d", "f"}  # ceil(7 / 3)
    for order in itertools.islice(itertools.permutations(scores), 50):
        assert halving_survivors({k: scores[k] for k in order}, eta=3) == expected
    assert halving_survivors({"x": 0.1}, eta=3) == {"x"}  # never an empty rung
    assert halving_survivors({"b": 0.5, "a": 0.5, "c": 0.5}, eta=3) == {"a"}  # ties: lower hash


def test_median_rule_compares_with_every_result_at_the_rung():
    assert median_survivors({"a": 0.4, "b": 0.6}, recorded=[]) == {"b"}
    # Earlier generations set the bar: 0.4 is below their median, 0.6 above.
    assert median_survivors({"a": 0.4, "b": 0.6}, recorded=[0.5, 0.55, 0.9]) == {"b"}
    assert median_survivors({"a": 0.2, "b": 0.3}, recorded=[0.8, 0.9, 0.95]) == {"b"}  # at least the best
    assert median_survivors({"a": 0.7, "b": 0.8}, recorded=[0.1, 0.2]) == {"a", "b"}


def test_asynchronous_rule_keeps_the_top_fraction_recorded_so_far():
    assert continues(0.1, [], 1 / 3)  # the first result at a rung always continues
    recorded = [0.2, 0.4, 0.6, 0.8, 0.9]
    assert continues(0.85, recorded, 1 / 3) and not continues(0.5, recorded, 1 / 3)
    assert continues(0.6, recorded, 0.5) and not continues(0.3, recorded, 0.5)


def test_partial_accuracy_never_ranks_as_a_full_one():
    full = {"status": "ok", "fitness": 0.3, "val_accuracy": 0.3, "epochs": 20}
    stopped_late = {"status": "stopped", "fitness": 0.0, "val_accuracy": 0.9, "epochs": 7}
    stopped_early = {"status": "stopped", "fitness": 0.0, "val_accuracy": 0.95, "epochs": 2}
    failed = {"status": "failed", "fitness": 0.0, "val_accuracy": 0.0, "epochs": 1}
    s = {k: standing(r, 20) for k, r in
         {"full": full, "late": stopped_late, "early": stopped_early, "failed": failed}.items()}
    assert s["full"] == (1.0, 0.3) and s["late"] == (0.35, 0.9) and s["early"] == (0.1, 0.95)
    assert sorted(s, key=lambda k: s[k], reverse=True) == ["full", "late", "early", "failed"]
    genomes = [Genome.from_json(genome_path(n).read_text()) for n in ("small_cnn", "study_table1", "study_table2",
                                                                        "study_table3")]
    population = [Individual(g, score, fidelity) for g, (fidelity, score) in zip(genomes, s.values())]
    assert [p.fitness for p in select(population, 3)] == [0.3, 0.9, 0.95]


@pytest.fixture(scope="module")
def data():
    return make_synthetic(examples_per_class=20, rounds=2)


def test_a_paused_training_continues_exactly_as_one_straight_through(data):
    settings = TrainSettings(epochs=4, noise_level=0.1)
    straight, _, none = train_model(GENOME, data, settings, "cpu", seed=3)
    assert none is None and straight.status == "ok"
    assert len(straight.curve) == len(straight.losses) == 4 and straight.curve[-1] == straight.val_accuracy
    part, _, state = train_model(GENOME, data, settings, "cpu", seed=3, until=1)
    assert (part.epochs, state.epoch) == (1, 1) and part.curve == straight.curve[:1]
    # Another genome trained in between moves the global generator: the state restores it.
    train_model(Genome.from_json(genome_path("study_table3").read_text()), data, settings, "cpu", seed=9, until=1)
    mid, _, state = train_model(GENOME, data, settings, "cpu", seed=3, until=3, state=state)
    done, _, last = train_model(GENOME, data, settings, "cpu", seed=3, state=state)
    assert last is None
    assert (done.val_accuracy, done.test_accuracy, done.curve, done.losses) == (
        straight.val_accuracy, straight.test_accuracy, straight.curve, straight.losses)
    assert mid.curve == straight.curve[:3]


def test_every_training_of_an_evaluation_pauses_and_continues(data):
    settings = TrainSettings(epochs=3, repeats=2)
    rounds = [data, *data.rounds]
    whole, states = evaluate_genome(GENOME, rounds, settings, "cpu", seed=5)
    assert states is None and len(whole.val_scores) == 4 and len(whole.curve) == 3  # 2 rounds x 2 repeats
    part, states = evaluate_genome(GENOME, rounds, settings, "cpu", seed=5, until=2)
    assert len(states) == 4 and part.epochs == 2
    assert part.curve == whole.curve[:2]
    assert part.fitness == pytest.approx(np.mean(part.val_scores))
    rest, _ = evaluate_genome(GENOME, rounds, settings, "cpu", seed=5, states=states)
    assert (rest.fitness, rest.test_accuracy, rest.val_scores, rest.curve) == (
        whole.fitness, whole.test_accuracy, whole.val_scores, whole.curve)

"""Property tests of the pure GA operators."""

from dataclasses import fields

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from garay.search.blueprint import Blueprint, sample_genome
from garay.search.genome import ConvGene, DenseGene, Genome
from garay.search.operators import crossover, mutate
from garay.strategies.selection import Individual, select

BP = Blueprint()
seeds = st.integers(0, 2**32 - 1)
rates = st.floats(0.0, 1.0)
chances = st.floats(0.0, 1.0)


def genome_from(seed: int, chance: float = 0.8) -> Genome:
    return sample_genome(BP, chance, np.random.default_rng(seed))


def convs_first(g: Genome) -> bool:
    kinds = [isinstance(x, ConvGene) for x in g.genes]
    return kinds == sorted(kinds, reverse=True)


def inside(g: Genome) -> bool:
    return all(BP.contains(gene) for gene in g.genes)


@given(seeds, chances)
def test_initial_genomes_are_ordered_and_inside_the_blueprint(seed, chance):
    g = genome_from(seed, chance)
    assert 1 <= len(g) <= BP.max_layers
    assert convs_first(g) and inside(g)


@given(seeds, seeds, seeds, rates, chances)
def test_offspring_are_ordered_and_inside_the_blueprint(sa, sb, sc, rate, chance):
    rng = np.random.default_rng(sc)
    child = mutate(crossover(genome_from(sa), genome_from(sb), rng), BP, rate, rng, conv_chance=chance)
    assert convs_first(child) and inside(child)
    assert 1 <= len(child) <= 2 * BP.max_layers


@given(seeds, seeds)
def test_mutation_rate_zero_leaves_the_genome_unchanged(sa, sc):
    g = genome_from(sa)
    assert mutate(g, BP, 0.0, np.random.default_rng(sc), conv_chance=0.8) == g


@given(seeds, seeds)
def test_mutation_rate_one_changes_something_usually(sa, sc):
    # Not a certainty per genome (a redraw may pick the same value), so check the aggregate.
    rng = np.random.default_rng(sc)
    g = genome_from(sa)
    changed = sum(mutate(g, BP, 1.0, rng, conv_chance=0.8) != g for _ in range(20))
    assert changed >= 15


@given(seeds, seeds, seeds)
def test_crossover_takes_every_parameter_from_a_parent(sa, sb, sc):
    a, b = genome_from(sa), genome_from(sb)
    child = crossover(a, b, np.random.default_rng(sc))
    assert len(child) == max(len(a), len(b))
    for gene in child.genes:
        same_kind = [p for p in a.genes + b.genes if type(p) is type(gene)]
        for f in fields(gene):
            assert getattr(gene, f.name) in {getattr(p, f.name) for p in same_kind}


@given(seeds, seeds, seeds)
def test_crossover_of_aligned_parents_is_positionwise(sa, sb, sc):
    # All-conv parents: each child gene's parameters come from the genes at its own index.
    a, b = genome_from(sa, 1.0), genome_from(sb, 1.0)
    child = crossover(a, b, np.random.default_rng(sc))
    for i, gene in enumerate(child.genes):
        sources = [p.genes[i] for p in (a, b) if i < len(p)]
        for f in fields(gene):
            assert getattr(gene, f.name) in {getattr(s, f.name) for s in sources}


@given(seeds, seeds, seeds, rates)
def test_same_generator_seed_gives_the_same_offspring(sa, sb, sc, rate):
    a, b = genome_from(sa), genome_from(sb)

    def child(seed):
        rng = np.random.default_rng(seed)
        return mutate(crossover(a, b, rng), BP, rate, rng, conv_chance=0.8)

    assert child(sc) == child(sc)


@settings(max_examples=30)
@given(seeds)
def test_crossover_of_identical_parents_is_the_parent(seed):
    g = genome_from(seed)
    assert crossover(g, g, np.random.default_rng(seed)) == g


def test_mixed_kinds_keep_convs_before_denses():
    conv, dense = ConvGene(8, 3, 1, 0, 2, "relu"), DenseGene(16, "relu", 0.1)
    a = Genome((conv, conv))
    b = Genome((dense, dense, dense))
    for seed in range(50):
        child = crossover(a, b, np.random.default_rng(seed))
        assert convs_first(child) and len(child) == 3


def test_mutation_length_spread_grows_with_rate():
    g = genome_from(1)
    rng = np.random.default_rng(0)
    spread = {}
    for rate in (0.1, 0.8):
        lengths = [len(mutate(g, BP, rate, rng, conv_chance=0.8)) for _ in range(400)]
        spread[rate] = np.std(lengths)
    assert spread[0.8] > spread[0.1] > 0


def test_select_keeps_the_fittest_and_breaks_ties_by_hash():
    pop = [Individual(genome_from(s), f) for s, f in enumerate([0.3, 0.9, 0.5, 0.9, 0.1])]
    best = select(pop, 3)
    assert [i.fitness for i in best] == [0.9, 0.9, 0.5]
    assert best[0].genome.hash < best[1].genome.hash
    assert select(list(reversed(pop)), 3) == best


def test_initial_conv_proportion_follows_conv_chance():
    rng = np.random.default_rng(0)
    genomes = [sample_genome(BP, 0.8, rng) for _ in range(2000)]
    share = sum(len(g.convs) for g in genomes) / sum(len(g) for g in genomes)
    assert abs(share - 0.8) < 0.03

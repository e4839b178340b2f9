"""Genetic operators of the conv/dense genome: crossover and mutation.

Pure functions in the style of DEAP's small operators, with an explicit
`numpy.random.Generator` in place of a global random module: no I/O, no torch.
"""

from __future__ import annotations

from dataclasses import fields, replace
from typing import Sequence

import numpy as np

from garay.search.blueprint import Blueprint, redraw_param, sample_gene
from garay.search.genome import ConvGene, Gene, Genome


def _stable_partition(genes: Sequence[Gene]) -> tuple[Gene, ...]:
    """Convs before denses, keeping the relative order inside each block."""
    convs = [g for g in genes if isinstance(g, ConvGene)]
    return tuple(convs + [g for g in genes if not isinstance(g, ConvGene)])


def crossover(a: Genome, b: Genome, rng: np.random.Generator) -> Genome:
    """Uniform crossover, gene by gene.

    For each index of the shorter parent, the child's gene takes every parameter from one
    of the two parents' genes at random; where the two genes are of different kinds, one
    whole gene is taken at random. Genes only the longer parent has are copied over. The
    child has no training genes (garay.search.recipe.crossover_recipe crosses them).
    """
    short, long_ = (a, b) if len(a) <= len(b) else (b, a)
    child: list[Gene] = []
    for ga, gb in zip(short.genes, long_.genes):
        if type(ga) is type(gb):
            picks = {f.name: getattr(ga if rng.random() < 0.5 else gb, f.name) for f in fields(ga)}
            child.append(type(ga)(**picks))
        else:
            child.append(ga if rng.random() < 0.5 else gb)
    child.extend(long_.genes[len(short):])
    return Genome(_stable_partition(child))


def mutate(
    genome: Genome,
    blueprint: Blueprint,
    rate: float,
    rng: np.random.Generator,
    *,
    conv_chance: float,
) -> Genome:
    """Mutate parameters, then length.

    Every parameter of every existing gene is re-drawn from the blueprint with probability
    `rate`. The new length is round(Normal(len, variance = rate * max_layers)), clipped to
    1..2*max_layers; surplus genes are dropped at random positions and new genes, sampled
    like initial ones, are inserted at random positions of their block (convs stay first).
    `rate == 0` returns the genome unchanged. Training genes (a recipe) are kept as they
    are: garay.search.recipe mutates them.
    """
    genes: list[Gene] = []
    for gene in genome.genes:
        changes = {
            f.name: redraw_param(f.name, blueprint, rng)
            for f in fields(gene)
            if rng.random() < rate
        }
        genes.append(replace(gene, **changes) if changes else gene)

    target = int(round(rng.normal(len(genes), np.sqrt(rate * blueprint.max_layers))))
    target = int(np.clip(target, 1, 2 * blueprint.max_layers))
    while len(genes) > target:
        del genes[int(rng.integers(len(genes)))]
    while len(genes) < target:
        new = sample_gene(blueprint, conv_chance, rng)
        n_conv = sum(isinstance(g, ConvGene) for g in genes)
        if isinstance(new, ConvGene):
            pos = int(rng.integers(n_conv + 1))
        else:
            pos = n_conv + int(rng.integers(len(genes) - n_conv + 1))
        genes.insert(pos, new)
    return Genome(tuple(genes), genome.recipe)  # training genes: garay.search.recipe.mutate_recipe

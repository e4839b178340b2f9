"""A fixed-length vector for a conv/dense genome, for surrogate models of fitness: the
block lengths, then one slot per possible conv and dense layer (present, then its
numbers on a log scale and its activation one-hot). Pure: no I/O, no torch."""

from __future__ import annotations

import numpy as np

from garay.search.blueprint import Blueprint
from garay.search.genome import Genome


def genome_encoding(genome: Genome, blueprint: Blueprint) -> np.ndarray:
    """Slots for 2 x max_layers convs and as many denses (the longest genome mutation
    makes); an absent layer's slot is zeros."""
    slots = 2 * blueprint.max_layers
    acts = {a: i for i, a in enumerate(blueprint.activations)}
    n_act = len(acts)
    conv = np.zeros((slots, 6 + n_act))
    for i, g in enumerate(genome.convs[:slots]):
        conv[i, :6] = (1.0, np.log2(g.filters), g.kernel_size, g.stride, g.padding, g.pool_size)
        if g.activation in acts:
            conv[i, 6 + acts[g.activation]] = 1.0
    dense = np.zeros((slots, 3 + n_act))
    for i, g in enumerate(genome.denses[:slots]):
        dense[i, :3] = (1.0, np.log2(g.neurons), g.dropout)
        if g.activation in acts:
            dense[i, 3 + acts[g.activation]] = 1.0
    head = np.array([len(genome.convs), len(genome.denses)], dtype=float)
    return np.concatenate([head, conv.ravel(), dense.ravel()])

"""A distance between genomes, for grouping runs whose best architectures are similar.

d(a, b): align the conv blocks index by index, and the dense blocks likewise; an aligned
pair of genes costs the fraction of their parameters that differ, a gene without a partner
(one block longer than the other's) costs 1; the sum is divided by the number of aligned
slots (the longer conv block plus the longer dense block). So d is 0 for identical genomes,
1 for genomes sharing nothing, and 0.25 means "a quarter of the layers' worth of parameters
differ".
"""

from __future__ import annotations

from dataclasses import fields
from typing import Sequence

from garay.search.genome import Gene, Genome


def _gene_mismatch(a: Gene, b: Gene) -> float:
    names = [f.name for f in fields(a)]
    return sum(getattr(a, n) != getattr(b, n) for n in names) / len(names)


def _block_cost(xs: Sequence[Gene], ys: Sequence[Gene]) -> float:
    paired = sum(_gene_mismatch(x, y) for x, y in zip(xs, ys))
    return paired + abs(len(xs) - len(ys))


def genome_distance(a: Genome, b: Genome) -> float:
    """In [0, 1]; see the module docstring."""
    cost = _block_cost(a.convs, b.convs) + _block_cost(a.denses, b.denses)
    slots = max(len(a.convs), len(b.convs)) + max(len(a.denses), len(b.denses))
    return cost / slots


def group_similar(genomes: Sequence[Genome], threshold: float = 0.25) -> list[list[int]]:
    """Single-linkage groups: i and j share a group when a chain of genomes links them with
    each step at distance <= threshold. Returns index lists, largest group first."""
    parent = list(range(len(genomes)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i in range(len(genomes)):
        for j in range(i + 1, len(genomes)):
            if genome_distance(genomes[i], genomes[j]) <= threshold:
                parent[root(i)] = root(j)
    groups: dict[int, list[int]] = {}
    for i in range(len(genomes)):
        groups.setdefault(root(i), []).append(i)
    return sorted(groups.values(), key=lambda g: (-len(g), g[0]))

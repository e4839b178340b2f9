"""The distribution of a set of genomes (lengths, conv share, parameter frequencies), and
how far two such distributions lie apart: to check that what gets trained is what the
blueprint describes. Pure: no I/O, no torch."""

from __future__ import annotations

from collections import Counter
from dataclasses import fields
from typing import Any, Iterable

from garay.search.genome import ConvGene, DenseGene, Genome

PARAMS = {"conv": [f.name for f in fields(ConvGene)], "dense": [f.name for f in fields(DenseGene)]}


def _freqs(counter: Counter) -> dict[Any, float]:
    total = sum(counter.values())
    return {k: v / total for k, v in sorted(counter.items())} if total else {}


def genome_stats(genomes: Iterable[Genome]) -> dict[str, Any]:
    """Length frequencies and mean, mean conv share (convs / length per genome), the
    frequency of each conv-count, and, per gene kind and parameter, the frequency of each
    value among genes of that kind."""
    genomes = list(genomes)
    lengths: Counter = Counter(len(g) for g in genomes)
    n_convs: Counter = Counter(len(g.convs) for g in genomes)
    values: dict[str, Counter] = {f"{kind}.{p}": Counter() for kind, ps in PARAMS.items() for p in ps}
    for g in genomes:
        for gene in g.genes:
            for p in PARAMS[gene.kind]:
                values[f"{gene.kind}.{p}"][getattr(gene, p)] += 1
    n = max(len(genomes), 1)
    return {
        "genomes": len(genomes),
        "mean_length": sum(len(g) for g in genomes) / n,
        "conv_share": sum(len(g.convs) / len(g) for g in genomes) / n,
        "length": _freqs(lengths),
        "convs": _freqs(n_convs),
        "params": {k: _freqs(c) for k, c in values.items()},
    }


def tv_distance(p: dict[Any, float], q: dict[Any, float]) -> float:
    """Total variation distance between two frequency tables (0: equal, 1: disjoint)."""
    return 0.5 * sum(abs(p.get(k, 0.0) - q.get(k, 0.0)) for k in set(p) | set(q))


def compare(stats: dict[str, Any], nominal: dict[str, Any]) -> dict[str, float]:
    """How far `stats` lies from `nominal`: the differences of mean length and conv share,
    and the total variation distance of the length table and of every parameter's."""
    out = {
        "mean_length": stats["mean_length"] - nominal["mean_length"],
        "conv_share": stats["conv_share"] - nominal["conv_share"],
        "length_tv": tv_distance(stats["length"], nominal["length"]),
    }
    for key in nominal["params"]:
        out[f"{key}_tv"] = tv_distance(stats["params"].get(key, {}), nominal["params"][key])
    return out

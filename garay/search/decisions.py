"""Genomes as a sequence of named choices (define-by-run, as Optuna's trials are), for
model-based samplers such as TPE that learn one distribution per named choice.

`define_genome` builds a genome one choice at a time through `choose(name, choices,
ordered)`, which returns one of `choices`; `genome_decisions` lists the choices that build
a given genome. Names are stable across genomes, so that a sampler learns "the first conv
layer's filters" from every genome that has one: `layers` (the length), then
`convs_of_{length}` (how many of them are convs, its own name per length so that its
range never changes), then `conv{i}.{param}` and `dense{j}.{param}`, numbered within each
block. Numeric parameters are ordered (a sampler may treat near values as near);
activations are not. Pure: no I/O, no torch, no optuna.
"""

from __future__ import annotations

from dataclasses import fields
from typing import Any, Callable

from garay.search.blueprint import Blueprint
from garay.search.genome import ConvGene, DenseGene, Genome

Choose = Callable[[str, tuple, bool], Any]  # (name, choices, ordered) -> one of choices
Decision = tuple[str, tuple, bool, Any]  # (name, choices, ordered, the value chosen)


def _gene_choices(cls: type, blueprint: Blueprint, prefix: str) -> list[tuple[str, str, tuple, bool]]:
    return [(f.name, f"{prefix}.{f.name}", tuple(blueprint.choices(f.name)), f.name != "activation")
            for f in fields(cls)]


def _structure(blueprint: Blueprint, conv_chance: float, length: int) -> list[tuple[str, tuple, bool]]:
    """The choice of the conv count for a genome of `length` genes (none when conv_chance
    leaves no choice: 0 gives only dense genes, 1 only convs)."""
    if 0.0 < conv_chance < 1.0:
        return [(f"convs_of_{length}", tuple(range(length + 1)), True)]
    return []


def define_genome(blueprint: Blueprint, conv_chance: float, choose: Choose) -> Genome:
    """A genome built from `choose`'s answers (it may not fit the input yet)."""
    length = choose("layers", tuple(range(1, blueprint.max_layers + 1)), True)
    structure = _structure(blueprint, conv_chance, length)
    n_conv = choose(*structure[0]) if structure else (length if conv_chance >= 1.0 else 0)
    genes: list[Any] = []
    for i in range(length):
        cls, prefix = (ConvGene, f"conv{i}") if i < n_conv else (DenseGene, f"dense{i - n_conv}")
        genes.append(cls(**{param: choose(name, choices, ordered)
                            for param, name, choices, ordered in _gene_choices(cls, blueprint, prefix)}))
    return Genome(tuple(genes))


def genome_decisions(genome: Genome, blueprint: Blueprint, conv_chance: float) -> list[Decision]:
    """The choices that `define_genome` makes to build `genome` (with conv_chance=1, a
    genome whose convs repair made dense also records its conv count). Raises ValueError
    when a value is not one of the blueprint's, the genome is longer than max_layers, or it
    has convs where conv_chance=0 allows none."""
    out: list[Decision] = []

    def add(name: str, choices: tuple, ordered: bool, value: Any) -> None:
        if value not in choices:
            raise ValueError(f"{name}={value!r} is not one of the blueprint's choices {list(choices)}")
        out.append((name, choices, ordered, value))

    length, n_conv = len(genome.genes), len(genome.convs)
    add("layers", tuple(range(1, blueprint.max_layers + 1)), True, length)
    structure = _structure(blueprint, conv_chance, length)
    if structure:
        add(*structure[0], n_conv)
    elif conv_chance <= 0.0 and n_conv:
        raise ValueError(f"{n_conv} conv genes of {length}: conv_chance={conv_chance} allows none")
    elif conv_chance >= 1.0 and n_conv != length:
        # repair turned convs the input cannot hold into dense genes: say how many remain
        add(f"convs_of_{length}", tuple(range(length + 1)), True, n_conv)
    for i, gene in enumerate(genome.genes):
        prefix = f"conv{i}" if i < n_conv else f"dense{i - n_conv}"
        for param, name, choices, ordered in _gene_choices(type(gene), blueprint, prefix):
            add(name, choices, ordered, getattr(gene, param))
    return out

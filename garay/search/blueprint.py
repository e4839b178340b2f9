"""The blueprint: the value sets genes are drawn from, and sampling of genes and genomes.

Pure: every random choice comes from an explicit `numpy.random.Generator`.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, Mapping

import numpy as np

from garay.search.genome import ConvGene, DenseGene, Gene, Genome
from garay.search.recipe import RecipeSpace

# Every activation a blueprint may name, and the torch.nn class that computes it (named,
# so that this module stays torch-free): the one list of them.
ACTIVATIONS = {
    "sigmoid": "Sigmoid",
    "relu": "ReLU",
    "leaky_relu": "LeakyReLU",
    "swish": "SiLU",
    "tanh": "Tanh",
    "elu": "ELU",
    "gelu": "GELU",
}

# Blueprint fields that are choice lists, and the parameter they feed.
CHOICE_FIELDS = {
    "layer_sizes": "neurons",
    "activations": "activation",
    "dropouts": "dropout",
    "filters": "filters",
    "kernel_sizes": "kernel_size",
    "strides": "stride",
    "paddings": "padding",
    "pool_sizes": "pool_size",
}


@dataclass(frozen=True)
class Blueprint:
    """Every value a gene parameter may take, and the longest initial genome."""

    max_layers: int = 6
    layer_sizes: tuple[int, ...] = (8, 16, 32, 64, 128, 256, 512)
    activations: tuple[str, ...] = ("sigmoid", "relu", "leaky_relu", "swish")
    dropouts: tuple[float, ...] = (0.1, 0.2, 0.25)
    filters: tuple[int, ...] = (8, 16, 32, 64)
    kernel_sizes: tuple[int, ...] = (3, 5, 7)
    strides: tuple[int, ...] = (1, 2)
    paddings: tuple[int, ...] = (0, 1)
    pool_sizes: tuple[int, ...] = (2, 3)
    # Training genes (garay.search.recipe): every genome also carries a recipe drawn from `recipe`.
    train_genes: bool = False
    recipe: RecipeSpace = RecipeSpace()

    @classmethod
    def from_config(cls, cfg: Mapping[str, Any]) -> "Blueprint":
        """Build from a config mapping (lists become tuples; unknown keys are ignored)."""
        kwargs: dict[str, Any] = {"max_layers": int(cfg["max_layers"])}
        for name in CHOICE_FIELDS:
            kwargs[name] = tuple(cfg[name])
        kwargs["train_genes"] = bool(cfg.get("train_genes", False))
        if cfg.get("recipe") is not None:
            kwargs["recipe"] = RecipeSpace.from_config(cfg["recipe"])
        return cls(**kwargs)

    def choices(self, param: str) -> tuple[Any, ...]:
        """The allowed values of one gene parameter."""
        for name, p in CHOICE_FIELDS.items():
            if p == param:
                return getattr(self, name)
        raise KeyError(param)

    def contains(self, gene: Gene) -> bool:
        """True when every parameter of `gene` is one of the blueprint's values."""
        return all(getattr(gene, f.name) in self.choices(f.name) for f in fields(gene))


def _pick(values: tuple[Any, ...], rng: np.random.Generator) -> Any:
    value = values[int(rng.integers(len(values)))]
    return value.item() if isinstance(value, np.generic) else value


def redraw_param(param: str, blueprint: Blueprint, rng: np.random.Generator) -> Any:
    """A fresh value for one gene parameter, uniform over the blueprint's choices."""
    return _pick(blueprint.choices(param), rng)


def sample_conv_gene(blueprint: Blueprint, rng: np.random.Generator) -> ConvGene:
    return ConvGene(
        filters=_pick(blueprint.filters, rng),
        kernel_size=_pick(blueprint.kernel_sizes, rng),
        stride=_pick(blueprint.strides, rng),
        padding=_pick(blueprint.paddings, rng),
        pool_size=_pick(blueprint.pool_sizes, rng),
        activation=_pick(blueprint.activations, rng),
    )


def sample_dense_gene(blueprint: Blueprint, rng: np.random.Generator) -> DenseGene:
    return DenseGene(
        neurons=_pick(blueprint.layer_sizes, rng),
        activation=_pick(blueprint.activations, rng),
        dropout=_pick(blueprint.dropouts, rng),
    )


def sample_gene(blueprint: Blueprint, conv_chance: float, rng: np.random.Generator) -> Gene:
    """A conv gene with probability `conv_chance`, else a dense gene."""
    if rng.random() < conv_chance:
        return sample_conv_gene(blueprint, rng)
    return sample_dense_gene(blueprint, rng)


def sample_genome(blueprint: Blueprint, conv_chance: float, rng: np.random.Generator) -> Genome:
    """A random initial genome: length uniform in 1..max_layers, each gene a conv with
    probability `conv_chance` (so `conv_chance` is the mean conv proportion), convs first."""
    length = int(rng.integers(1, blueprint.max_layers + 1))
    n_conv = int(rng.binomial(length, conv_chance))
    convs = [sample_conv_gene(blueprint, rng) for _ in range(n_conv)]
    denses = [sample_dense_gene(blueprint, rng) for _ in range(length - n_conv)]
    return Genome(tuple(convs + denses))

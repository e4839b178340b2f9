"""Search spaces: what a strategy may do with candidates without looking inside them.

A strategy draws candidates (`sample`), breeds them (`vary`: crossover, then mutation),
makes what it bred fit the task (`fit`: repair, or draw again), and keys, stores and shows
them (`key`, `encode`/`decode`, `describe`). Candidates are frozen, picklable values with a
`hash` (their canonical key) and a `to_dict()`.

`GenomeSpace` is the study's: conv/dense genomes over a blueprint, fitted to an input
shape (garay.search.fitting), with an optional limit on parameters.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Callable, Protocol, TypeVar

import numpy as np

from garay.errors import ConfigError
from garay.search.blueprint import Blueprint, sample_genome
from garay.search.fitting import Room, repair, sample_fitting_genome
from garay.search.genome import Genome
from garay.search.decisions import Choose, Decision, define_genome, genome_decisions
from garay.search.encoding import genome_encoding
from garay.search.operators import crossover, mutate
from garay.search.recipe import GENES, Recipe, crossover_recipe, mutate_recipe, recipe_encoding, sample_recipe
from garay.search.shapes import is_valid, param_count

C = TypeVar("C")


class SearchSpace(Protocol[C]):
    """The operations a strategy uses; every random choice comes from the `rng` passed in."""

    def sample(self, rng: np.random.Generator) -> C:
        """A random candidate, as initial ones are drawn, that fits."""
        ...

    def vary(self, a: C, b: C, rng: np.random.Generator) -> C:
        """A child of `a` and `b`: crossover, then mutation (it may not fit yet)."""
        ...

    def mutate(self, a: C, rng: np.random.Generator) -> C:
        """A mutant of `a` alone (it may not fit yet), as regularized evolution breeds."""
        ...

    def neighbours(self, a: C, rng: np.random.Generator) -> list[C]:
        """Candidates one step from `a` that fit, in random order (local search's moves)."""
        ...

    def encoding(self, candidate: C) -> np.ndarray:
        """A fixed-length vector of numbers standing for the candidate (what a surrogate
        model of fitness is fitted on)."""
        ...

    def define(self, choose: Choose) -> C:
        """A candidate built one named choice at a time, `choose(name, choices, ordered)`
        giving each (define-by-run, as a model-based sampler such as TPE drives it:
        garay.search.decisions); it may not fit yet."""
        ...

    def decisions(self, candidate: C) -> list[Decision]:
        """The (name, choices, ordered, value) choices that `define` makes to build `candidate`."""
        ...

    def fit(self, draw: Callable[[], C], rng: np.random.Generator, what: str) -> C:
        """A candidate from `draw` that fits: repaired, or drawn again (so `draw` may be
        called more than once). Raises ConfigError when none can be made to fit."""
        ...

    def key(self, candidate: C) -> str: ...

    def encode(self, candidate: C) -> dict[str, Any]:
        """A JSON-ready mapping (`decode` gives the candidate back)."""
        ...

    def decode(self, data: dict[str, Any]) -> C: ...

    def describe(self, candidate: C) -> str:
        """One line for tables and logs."""
        ...

    def params(self, candidate: C) -> int:
        """The size of the network the candidate stands for (0 when unknown)."""
        ...

    def counters(self) -> dict[str, int]:
        """How often candidates were drawn again or repaired (checkpoint.json keeps them)."""
        ...

    def restore_counters(self, counters: dict[str, Any]) -> None: ...


class BreedingError(ConfigError):
    """No genome that fits the input was found within ga.max_redraws draws: the blueprint
    does not suit the input shape (the CLI reports it in one line, exit status 2)."""

    def __init__(self, message: str):
        super().__init__("blueprint", message)


def check_feasible(blueprint: Blueprint, conv_chance: float, input_shape: tuple[int, int], num_classes: int,
                   conv_dim: int, tries: int, seed: int = 0, fit: str = "repair") -> None:
    """Raise BreedingError when the blueprint cannot suit the input, before any worker
    starts: with ga.fit=repair, when conv genes are asked for and not one conv layer fits;
    with ga.fit=redraw, when not one of `tries` random genomes fits."""
    if fit == "repair":
        room = Room.of(blueprint, input_shape, conv_dim, limit=1)
        if conv_chance > 0 and room.max_convs == 0:
            raise BreedingError(
                f"not one conv layer fits inputs of shape {input_shape} (conv_dim={conv_dim}); allow smaller "
                "kernels, strides or pool sizes, or more padding, in the blueprint, use longer inputs, "
                "or set ga.conv_chance=0"
            )
        return
    rng = np.random.default_rng(seed)
    for _ in range(tries):
        if is_valid(sample_genome(blueprint, conv_chance, rng), input_shape, num_classes, conv_dim):
            return
    raise BreedingError(
        f"no genome fits inputs of shape {input_shape} in ga.max_redraws={tries} draws; allow smaller "
        "kernels, strides or pool sizes in the blueprint, or longer inputs"
    )


class GenomeSpace:
    """The study's search space: conv/dense genomes drawn from `blueprint` (mean conv share
    `conv_chance`), mutated at `mutation_rate`, fitted to inputs of `input_shape`
    (`fit`: repair or redraw, at most `max_redraws` draws), at most `max_params` parameters."""

    def __init__(self, blueprint: Blueprint, *, input_shape: tuple[int, int], num_classes: int, conv_dim: int = 1,
                 conv_chance: float = 0.8, mutation_rate: float = 0.2, fit: str = "repair", max_redraws: int = 100,
                 max_params: int | None = None):
        self.blueprint, self.conv_chance, self.mutation_rate = blueprint, conv_chance, mutation_rate
        self.input_shape, self.num_classes, self.conv_dim = tuple(input_shape), num_classes, conv_dim
        self.fit_mode, self.max_redraws, self.max_params = fit, max_redraws, max_params
        # The longest genome mutation makes is 2 x max_layers.
        self.room = Room.of(blueprint, self.input_shape, conv_dim, limit=2 * blueprint.max_layers)
        self.redraws = 0  # genomes drawn again (did not fit, or too large)
        self.repairs = 0  # genomes changed so that they fit

    @classmethod
    def from_config(cls, cfg: Any, input_shape: tuple[int, int], num_classes: int) -> "GenomeSpace":
        """From a composed garay config (the blueprint and ga groups)."""
        return cls.for_ga(Blueprint.from_config(cfg.blueprint), cfg.ga, input_shape, num_classes,
                          cfg.blueprint.conv_dim)

    @classmethod
    def for_ga(cls, blueprint: Blueprint, ga: Any, input_shape: tuple[int, int], num_classes: int,
               conv_dim: int = 1) -> "GenomeSpace":
        """With the `ga` group's operator settings (a GAConfig, or the composed group)."""
        return cls(blueprint, input_shape=input_shape, num_classes=num_classes, conv_dim=conv_dim,
                   conv_chance=ga.conv_chance, mutation_rate=ga.mutation_rate, fit=ga.fit,
                   max_redraws=ga.max_redraws, max_params=ga.max_params)

    def check(self, seed: int = 0) -> None:
        """Raise BreedingError when the blueprint cannot suit the input (before Ray starts)."""
        check_feasible(self.blueprint, self.conv_chance, self.input_shape, self.num_classes, self.conv_dim,
                       self.max_redraws, seed, self.fit_mode)

    def sample(self, rng: np.random.Generator) -> Genome:
        if self.fit_mode == "repair":  # drawn fitting (no bias towards short genomes)
            return self._sized(lambda: self._drawn(sample_fitting_genome(self.blueprint, self.conv_chance,
                                                                         self.room, rng), rng), "initial genome")
        return self.fit(lambda: self._drawn(sample_genome(self.blueprint, self.conv_chance, rng), rng), rng,
                        "initial genome")

    def vary(self, a: Genome, b: Genome, rng: np.random.Generator) -> Genome:
        kid = crossover(a, b, rng)
        kid = mutate(kid, self.blueprint, self.mutation_rate, rng, conv_chance=self.conv_chance)
        if not self.blueprint.train_genes:  # no draws: a run without training genes breeds as it always did
            return kid
        recipe = crossover_recipe(self._recipe_of(a, rng), self._recipe_of(b, rng), rng)
        return replace(kid, recipe=mutate_recipe(recipe, self.blueprint.recipe, self.mutation_rate, rng))

    def mutate(self, a: Genome, rng: np.random.Generator) -> Genome:
        kid = mutate(a, self.blueprint, self.mutation_rate, rng, conv_chance=self.conv_chance)
        if not self.blueprint.train_genes:
            return kid
        return replace(kid, recipe=mutate_recipe(self._recipe_of(a, rng), self.blueprint.recipe,
                                                 self.mutation_rate, rng))

    def _drawn(self, genome: Genome, rng: np.random.Generator) -> Genome:
        """An initial genome, with training genes drawn after its layers when they are on."""
        return replace(genome, recipe=sample_recipe(self.blueprint.recipe, rng)) if self.blueprint.train_genes \
            else genome

    def _recipe_of(self, parent: Genome, rng: np.random.Generator) -> Recipe:
        # A parent without training genes (a genome file seeded into the run) gets drawn ones.
        return parent.recipe if parent.recipe is not None else sample_recipe(self.blueprint.recipe, rng)

    def neighbours(self, a: Genome, rng: np.random.Generator, n: int = 16) -> list[Genome]:
        """`n` fitting mutants of `a` (a genome has too many neighbours to list)."""
        return [self.fit(lambda: self.mutate(a, rng), rng, "neighbour") for _ in range(n)]

    def encoding(self, candidate: Genome) -> np.ndarray:
        layers = genome_encoding(candidate, self.blueprint)
        if not self.blueprint.train_genes:
            return layers
        return np.concatenate([layers, recipe_encoding(candidate.recipe, self.blueprint.recipe)])

    def define(self, choose: Choose) -> Genome:
        genome = define_genome(self.blueprint, self.conv_chance, choose)
        if not self.blueprint.train_genes:
            return genome
        space = self.blueprint.recipe
        return replace(genome, recipe=Recipe(**{g: choose(f"recipe.{g}", getattr(space, g), True) for g in GENES}))

    def decisions(self, candidate: Genome) -> list[Decision]:
        out = genome_decisions(candidate, self.blueprint, self.conv_chance)
        if self.blueprint.train_genes and candidate.recipe is not None:
            for g in GENES:
                choices, value = getattr(self.blueprint.recipe, g), getattr(candidate.recipe, g)
                if value not in choices:
                    raise ValueError(f"recipe.{g}={value!r} is not one of the blueprint's choices {list(choices)}")
                out.append((f"recipe.{g}", choices, True, value))
        return out

    def fit(self, draw: Callable[[], Genome], rng: np.random.Generator, what: str) -> Genome:
        """Repaired (ga.fit=repair, see garay.search.fitting), or drawn again whole until it
        fits, at most ga.max_redraws times (ga.fit=redraw, which favours short, conv-poor
        genomes). With ga.max_params, one that is too large is drawn again, at most
        ga.max_redraws times."""
        return self._sized(lambda: self._fitting(draw, rng, what), what)

    def _sized(self, draw: Callable[[], Genome], what: str) -> Genome:
        for _ in range(self.max_redraws if self.max_params is not None else 1):
            genome = draw()
            if self.max_params is None or self.params(genome) <= self.max_params:
                return genome
            self.redraws += 1
        raise ConfigError("ga.max_params", f"no {what} with at most {self.max_params} parameters in "
                                           f"ga.max_redraws={self.max_redraws} draws; raise the limit, or narrow the "
                                           "blueprint (smaller layer_sizes, filters, max_layers)")

    def _fitting(self, draw: Callable[[], Genome], rng: np.random.Generator, what: str) -> Genome:
        if self.fit_mode == "repair":
            genome = draw()
            fixed = repair(genome, self.room, self.blueprint, rng)
            self.repairs += fixed != genome
            return fixed
        for _ in range(self.max_redraws):
            genome = draw()
            if is_valid(genome, self.input_shape, self.num_classes, self.conv_dim):
                return genome
            self.redraws += 1
        raise BreedingError(
            f"no {what} fits inputs of shape {self.input_shape} in ga.max_redraws={self.max_redraws} "
            "draws; allow smaller kernels, strides or pool sizes in the blueprint, or longer inputs"
        )

    def key(self, candidate: Genome) -> str:
        return candidate.hash

    def encode(self, candidate: Genome) -> dict[str, Any]:
        return candidate.to_dict()

    def decode(self, data: dict[str, Any]) -> Genome:
        return Genome.from_dict(data)

    def describe(self, candidate: Genome) -> str:
        return candidate.describe()

    def params(self, candidate: Genome) -> int:
        return param_count(candidate, self.input_shape, self.num_classes, self.conv_dim)

    def counters(self) -> dict[str, int]:
        return {"redraws": self.redraws, "repairs": self.repairs}

    def restore_counters(self, counters: dict[str, Any]) -> None:
        self.redraws = int(counters.get("redraws", 0))
        self.repairs = int(counters.get("repairs", 0))

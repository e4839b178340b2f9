"""Regularized evolution in generations (`ga.mode=regularized`): Real et al.'s ageing
population with a barrier, so that it runs where generations are wanted (sweeps,
per-generation halving, the same budget axis as the study's GA).

Generation 0 draws `population_size` genomes. Each later one breeds `population_size -
num_parents` children, each from a tournament winner over the whole population
(ga.tournament_size; with ga.crossover, crossed with a second winner, then mutated),
evaluates them, and as many of the oldest leave, however fit. The asynchronous form of
the same method is `ga.mode=async`.
"""

from __future__ import annotations

from typing import Any, Sequence

from garay.strategies.generational import Generational
from garay.strategies.selection import Individual, tournament


class Regularized(Generational):
    mode = "regularized"

    def next_population(self, generation: int) -> list[Individual]:
        """The population (oldest first) without its oldest members, then the children that
        take their places."""
        if generation == 0:
            return super().next_population(generation)
        n = self.ga.population_size - self.ga.num_parents
        children = self.breed(self.population, generation, n)
        return self.population[n:] + [Individual(child) for child in children]

    def child(self, parents: Sequence[Individual]) -> Any:
        """A mutant of a tournament winner (with ga.crossover, a child of two winners)."""
        a = tournament(parents, self.ga.tournament_size, self.rng, self.multi)
        if not self.ga.crossover:
            return self.space.mutate(a.genome, self.rng)
        b = tournament(parents, self.ga.tournament_size, self.rng, self.multi)
        return self.space.vary(a.genome, b.genome, self.rng)

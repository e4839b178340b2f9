"""Random search (`ga.mode=random`): the baseline every search method has to beat.

Every genome is drawn like an initial one (the same sampler, and the same repair when it
does not fit) and trained the same way. Generation 0 draws `population_size` genomes and
each later generation as many as the generational run breeds (`population_size -
num_parents`), so the two spend the same budget along the same axis, and the barrier,
checkpoint and resume of the generational strategy carry over unchanged.
"""

from __future__ import annotations

from typing import Any

from garay.strategies.generational import Generational
from garay.strategies.selection import Individual


class RandomSearch(Generational):
    mode = "random"

    def next_population(self, generation: int) -> list[Individual]:
        """Fresh random genomes, none of them evaluated before in this run."""
        n = self.ga.population_size if generation == 0 else self.ga.population_size - self.ga.num_parents
        return [Individual(genome) for genome in self.fresh_genomes(n, generation)]

    def fresh_genomes(self, n: int, generation: int) -> list[Any]:
        """Up to `n` distinct random genomes not evaluated in an earlier generation; a draw
        that repeats one is drawn again, at most ga.max_redraws times in a row (a tiny search
        space ends early). Results of this generation that a resumed run already holds do
        not count as seen, so a resumed run draws what the uninterrupted one drew."""
        seen = self.ledger.seen_before(generation)
        out: dict[str, Any] = {}
        repeats = 0
        while len(out) < n and repeats < self.ga.max_redraws:
            genome = self.space.sample(self.rng)
            if genome.hash in seen or genome.hash in out:
                repeats += 1
                self.duplicates += 1
                continue
            repeats = 0
            out[genome.hash] = genome
        return list(out.values())

"""Who breeds: an evaluated candidate as the strategies rank it (`Individual`), truncation
selection, NSGA-II order and selection, and tournaments. Pure, no I/O; candidates are
compared by fitness, fidelity, costs and their key, never by what is inside them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from garay.results.pareto import nsga2_order


@dataclass(frozen=True)
class Individual:
    """A candidate (a genome, or any search space's point: it has a `hash`, its canonical
    key) and its fitness (None until evaluated). `fidelity` is the share of the full
    training the fitness stands for: 1 for a full training, epochs reached / full for a
    genome early stopping ended (its fitness a partial accuracy), 0 for an evaluation that
    produced no model (garay.fidelity.rules.standing)."""

    genome: Any
    fitness: float | None = None
    fidelity: float = 1.0
    costs: tuple[float, ...] = ()  # multi-objective (ga.objectives): parameters, latency; lower is better

    @property
    def evaluated(self) -> bool:
        return self.fitness is not None

    @property
    def rank(self) -> tuple[float, float, str]:
        """Sort key, best first: higher fidelity, then higher fitness, then lower hash. A
        partial accuracy never outranks a full one."""
        return (-self.fidelity, -float(self.fitness or 0.0), self.genome.hash)


def select(population: Sequence[Individual], num_parents: int) -> list[Individual]:
    """Truncation selection: the `num_parents` fittest, best first (`Individual.rank`:
    full trainings before early-stopped ones).

    Ties break on the genome hash so the result never depends on arrival order.
    """
    if any(not ind.evaluated for ind in population):
        raise ValueError("select needs an evaluated population")
    ranked = sorted(population, key=lambda ind: ind.rank)
    return ranked[:num_parents]


def pareto_order(population: Sequence[Individual]) -> list[Individual]:
    """Best first by NSGA-II (garay.results.pareto): fitness against the costs. Only full, successful
    trainings are feasible; the rest follow in `rank` order."""
    points = [(float(ind.fitness or 0.0), *(-c for c in ind.costs)) for ind in population]
    feasible = [ind.fidelity == 1.0 and len(ind.costs) > 0 for ind in population]
    order = nsga2_order(points, feasible, [ind.genome.hash for ind in population],
                        [ind.rank for ind in population])
    return [population[i] for i in order]


def select_pareto(population: Sequence[Individual], num_parents: int) -> list[Individual]:
    """NSGA-II selection: the first `num_parents` of `pareto_order`."""
    if any(not ind.evaluated for ind in population):
        raise ValueError("select needs an evaluated population")
    return pareto_order(population)[:num_parents]


def tournament(members: Sequence[Individual], size: int, rng: np.random.Generator, multi: bool = False) -> Individual:
    """The fittest of `size` members drawn at random without replacement; with several
    objectives, the one NSGA-II ranks first among all the members (front, then crowding).
    Ties break towards the lower hash, as in `select`."""
    members = list(members)
    picks = rng.choice(len(members), size=min(size, len(members)), replace=False)
    if multi:
        place = {id(ind): n for n, ind in enumerate(pareto_order(members))}
        return min((members[i] for i in picks), key=lambda ind: place[id(ind)])
    return min((members[i] for i in picks), key=lambda ind: ind.rank)

"""The study's generational genetic algorithm as an ask/tell strategy: evaluate a
population, keep the best `num_parents` (NSGA-II with several objectives), breed children
of random parent pairs back up to `population_size`, evaluate them; `generations` times,
or until ga.budget_epochs is spent, or until the population has converged (ga.max_redraws
generations in a row bred nothing that was not evaluated before)."""

from __future__ import annotations

import logging
import statistics
from typing import Any, Sequence

import numpy as np

from garay.config.schema import GAConfig
from garay.execution.evaluation import evaluation_seed
from garay.execution.protocol import Task
from garay.results.ledger import Ledger
from garay.search.space import SearchSpace
from garay.strategies.base import CohortStart, GenerationEnd, Listeners
from garay.strategies.screening import Screen
from garay.strategies.selection import Individual, select, select_pareto

log = logging.getLogger(__name__)


class Generational:
    """Generations with a barrier: each ask is the next generation's new genomes (those
    not evaluated in an earlier one); the generation ends when all of them are told."""

    mode = "generational"
    barrier = True

    def __init__(self, space: SearchSpace, ga: GAConfig, ledger: Ledger, *, seed: int = 0):
        self.space, self.ga, self.ledger, self.seed = space, ga, ledger, seed
        self.rng = np.random.default_rng(seed)
        self.multi = len(ga.objectives) > 1
        self.population: list[Individual] = []
        self.generation = 0  # the next generation to run
        self.duplicates = 0  # drawn or bred genomes already evaluated in this run (not trained again)
        self.rebred = 0  # ga.unique_children: children bred again because they were known
        self.generation_stats: list[dict[str, Any]] = []
        self.events = Listeners()
        self.screen = Screen(ga.screen, space.encoding)  # ga.screen > 1: a surrogate picks each child
        self._cohort: list[Individual] | None = None  # the generation being evaluated
        self._waiting: set[str] = set()  # its genomes not told yet
        self.stale = 0  # generations in a row with nothing new to evaluate (see ask)

    @property
    def fresh(self) -> bool:
        """Nothing done yet (a checkpoint now records the run's start)."""
        return self.generation == 0 and not self.population

    def done(self) -> bool:
        return self.generation >= self.ga.generations or self.converged or self.budget_spent()

    @property
    def converged(self) -> bool:
        """ga.max_redraws generations in a row bred nothing that was not evaluated before."""
        return self.stale >= self.ga.max_redraws

    def budget_spent(self) -> bool:
        """ga.budget_epochs reached by the generations done (a resumed run does not count
        results it holds of the generation it is in: it decides as the uninterrupted run)."""
        return self.ga.budget_epochs is not None and self.ledger.epochs_spent(self.generation) >= self.ga.budget_epochs

    def ask(self, n: int) -> list[Task]:
        """The next generation's genomes to evaluate, once the last one is complete: each
        genome once, and none evaluated in an earlier generation. A generation with nothing
        new to evaluate is complete at once, and the next one is bred; after ga.max_redraws
        such generations in a row the population has converged (every child its parents
        breed is known: a small or tabular space) and the run ends, instead of breeding
        known genomes until ga.generations."""
        while self._cohort is None and not self.done():
            cohort = self._next_cohort()
            if cohort:
                return cohort
            if self.converged and self.generation < self.ga.generations:
                log.info("generation %d: the last %d generations bred nothing that was not evaluated before; "
                         "the population has converged and the run ends", self.generation - 1, self.stale)
        return []

    def _next_cohort(self) -> list[Task]:
        g = self.generation
        population = self.next_population(g)
        if not population:  # random search found nothing new: the search space is spent
            log.info("generation %d: no genome left that was not evaluated already; the run ends", g)
            self.generation = self.ga.generations
            return []
        seen = self.ledger.seen_before(g)
        cohort: dict[str, Task] = {}
        for i, ind in enumerate(population):
            h = ind.genome.hash
            if ind.evaluated:
                continue
            if h in seen or h in cohort:
                self.duplicates += 1  # bred again: its fitness is known (or coming) already
                continue
            cohort[h] = Task(f"g{g}-{i}", ind.genome, evaluation_seed(self.seed, h, g), g)
        self._cohort, self._waiting = population, set(cohort)
        self.stale = 0 if cohort else self.stale + 1  # before _close: its checkpoint holds it
        self.events.emit(CohortStart(g, len(cohort)))
        if not cohort:  # every genome known already: the generation is complete
            self._close()
        return list(cohort.values())

    def tell(self, record: dict[str, Any]) -> None:
        self._waiting.discard(record["hash"])
        if self._cohort is not None and not self._waiting:
            self._close()

    def _close(self) -> None:
        """Every genome of the generation is told: its population, its statistics (over full
        trainings and failures, never partial accuracies)."""
        g, cache = self.generation, self.ledger.cache
        assert self._cohort is not None
        self.population = [ind if ind.evaluated else self.individual(cache[ind.genome.hash], ind.genome)
                           for ind in self._cohort]
        self._cohort = None
        self.generation = g + 1
        fitness = [ind.fitness for ind in self.population if not 0 < ind.fidelity < 1] or [0.0]
        stats = {"generation": g, "best": max(fitness), "median": statistics.median(fitness),
                 "mean": statistics.fmean(fitness), "best_so_far": self.ledger.best()["fitness"]}
        self.generation_stats.append(stats)
        self.events.emit(GenerationEnd(g, stats))

    def next_population(self, generation: int) -> list[Individual]:
        """Generation 0: random genomes. Then the parents (evaluated) and their children
        (not yet evaluated)."""
        if generation == 0:
            return [Individual(self.space.sample(self.rng)) for _ in range(self.ga.population_size)]
        parents = (select_pareto if self.multi else select)(self.population, self.ga.num_parents)
        n = self.ga.population_size - len(parents)
        return parents + [Individual(child) for child in self.breed(parents, generation, n)]

    def breed(self, parents: list[Individual], generation: int, n: int) -> list[Any]:
        """`n` children of `parents` (`child`), to fill the population back up. With
        ga.unique_children a child already evaluated (or bred twice in this generation) is
        bred again, at most ga.max_redraws times, so that no place goes to a known genome."""

        seen = self.ledger.seen_before(generation)
        children = []

        def draw() -> Any:
            return self.screen.pick(lambda: self.space.fit(lambda: self.child(parents), self.rng, "child"),
                                    self.ledger.scored, self.space.decode, lambda h: h in seen, self.rng)

        for _ in range(n):
            kid = draw()
            for _ in range(self.ga.max_redraws if self.ga.unique_children else 0):
                if kid.hash not in seen:
                    break
                self.rebred += 1
                kid = draw()
            seen.add(kid.hash)
            children.append(kid)
        return children

    def child(self, parents: Sequence[Individual]) -> Any:
        """A child of a random pair of parents (it may not fit yet); with ga.crossover=false,
        a mutant of one random parent."""
        if not self.ga.crossover:
            return self.space.mutate(parents[int(self.rng.integers(len(parents)))].genome, self.rng)
        i, j = self.rng.choice(len(parents), size=2, replace=False)
        return self.space.vary(parents[i].genome, parents[j].genome, self.rng)

    def individual(self, record: dict[str, Any], genome: Any = None) -> Individual:
        """An evaluation as the strategy ranks it (garay.fidelity.rules.standing)."""
        fidelity, score = self.ledger.standing(record)
        return Individual(genome or self.space.decode(record["genome"]), score, fidelity, self.ledger.costs(record))

    def _members(self, population: Sequence[Individual]) -> list[dict[str, Any]]:
        return [{"genome": self.space.encode(ind.genome), "fitness": ind.fitness, "fidelity": ind.fidelity,
                 **({"costs": list(ind.costs)} if ind.costs else {})} for ind in population]

    def state(self) -> dict[str, Any]:
        return {"next_generation": self.generation, "population": self._members(self.population),
                "rng_state": self.rng.bit_generator.state, **self.space.counters(), "duplicates": self.duplicates,
                "rebred": self.rebred, **({"stale": self.stale} if self.stale else {}),  # only if any
                "generation_stats": self.generation_stats}

    def restore(self, checkpoint: dict[str, Any] | None, history: Sequence[dict[str, Any]],
                rung_history: Sequence[dict[str, Any]] = ()) -> None:
        """Back where the last finished generation left it (the checkpoint's population and
        generator state); results of the generation it was in come from the ledger. Without
        a checkpoint (killed in generation 0) it starts again from the seed."""
        if checkpoint is None:
            return
        self.generation = checkpoint["next_generation"]
        self.population = [Individual(self.space.decode(p["genome"]), p["fitness"], p.get("fidelity", 1.0),
                                      tuple(p.get("costs", ()))) for p in checkpoint["population"]]
        self.rng.bit_generator.state = checkpoint["rng_state"]
        self.space.restore_counters(checkpoint)
        self.duplicates = checkpoint.get("duplicates", 0)
        self.rebred = checkpoint.get("rebred", 0)
        self.stale = checkpoint.get("stale", 0)
        self.generation_stats = checkpoint["generation_stats"]

    def summary(self) -> dict[str, Any]:
        return {"mode": self.mode, "generations": self.generation, "duplicates": self.duplicates,
                "rebred": self.rebred, **({"converged": True} if self.converged else {}), "fit": self.ga.fit,
                **self.space.counters(),
                "generation_stats": self.generation_stats}

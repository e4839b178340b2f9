"""Asynchronous steady-state evolution (`ga.mode=async`): regularized evolution (Real et
al. 2019) as an ask/tell strategy, with no generation barrier.

Whenever workers are free it breeds children from the current population by tournament
selection (crossover of two winners, then mutation; with ga.crossover=false a mutant of
one winner, as Real et al.; with ga.screen, the child a surrogate ranks first among
that many bred: garay.strategies.screening); each finished child joins the population and the oldest member leaves. The
budget is the number of evaluations the generational run would make (or ga.budget_epochs).
History lines carry a birth order. Early stopping, if any, is the fidelity scheduler's
(ASHA); a stopped genome joins with its partial standing.

Resume: every finished genome is in history.jsonl, which is also the population's join
order; the checkpoint holds the generator state.
"""

from __future__ import annotations

from collections import deque
from typing import Any, Sequence

import numpy as np

from garay.config.schema import GAConfig
from garay.execution.evaluation import evaluation_seed
from garay.execution.protocol import Task
from garay.results.ledger import Ledger
from garay.search.space import SearchSpace
from garay.strategies.base import Joined, Listeners
from garay.strategies.screening import Screen
from garay.strategies.selection import Individual, tournament


class SteadyState:
    mode = "async"
    barrier = False
    fresh = True  # its checkpoint is written at every start

    def __init__(self, space: SearchSpace, ga: GAConfig, ledger: Ledger, *, seed: int = 0):
        self.space, self.ga, self.ledger, self.seed = space, ga, ledger, seed
        self.rng = np.random.default_rng(seed)
        self.multi = len(ga.objectives) > 1
        self.members: deque[Individual] = deque()  # oldest first
        self.births = 0  # the next birth number (keys b{n} are unique in a run's files)
        self.duplicates = 0  # bred genomes already evaluated or in flight (not trained again)
        self.finished = 0  # genomes told in this process
        self.generation_stats: list[dict[str, Any]] = []  # kept for the checkpoint's schema
        self.events = Listeners()
        self.screen = Screen(ga.screen, space.encoding)  # ga.screen > 1: a surrogate picks each child

    def started(self, extra: int = 0) -> int:
        """Genomes finished or in flight (and `extra` about to be). Every birth is one or the
        other (a repeat is not born); a resumed run does not count genomes lost in flight,
        and breeds others in their place."""
        return len(self.ledger.cache) + len(self.ledger.in_flight) + extra

    def may_breed(self, extra: int = 0) -> bool:
        """Births left: until ga.budget genomes are finished or in flight, or with
        ga.budget_epochs, while the epochs spent and those in flight are trained to stay
        below it."""
        if self.ga.budget_epochs is None:
            return self.started(extra) < self.ga.budget
        book = self.ledger
        return book.epochs_finished + sum(book.in_flight.values()) + extra * book.first_epochs() < self.ga.budget_epochs

    def done(self) -> bool:
        return not self.may_breed()

    def ask(self, n: int) -> list[Task]:
        """Up to `n` children (initial genomes while the population fills). A child already
        evaluated or in flight is not born; after ga.max_redraws such repeats in one ask it
        waits for a result to change the population."""
        out: list[Task] = []
        repeats = 0
        while len(out) < n and self.may_breed(len(out)):
            genome = self.next_genome(len(out))
            if genome is None:
                break  # too few evaluated members to breed from yet
            h = genome.hash
            if h in self.ledger.cache or h in self.ledger.in_flight or any(t.genome.hash == h for t in out):
                self.duplicates += 1  # not trained again, and no second place in the population
                repeats += 1
                if repeats >= self.ga.max_redraws:
                    break
                continue
            birth, self.births = self.births, self.births + 1
            out.append(Task(f"b{birth}", genome, evaluation_seed(self.seed, h, birth), birth=birth))
        return out

    def next_genome(self, extra: int = 0) -> Any:
        """An initial genome while the population fills, then a child of two tournament
        winners; None when fewer than two members are evaluated yet."""
        if self.started(extra) < self.ga.population_size:
            return self.space.sample(self.rng)
        if len(self.members) < 2:
            return None

        def child() -> Any:
            a = tournament(self.members, self.ga.tournament_size, self.rng, self.multi)
            if not self.ga.crossover:  # regularized evolution's own way: a mutant of the winner
                return self.space.mutate(a.genome, self.rng)
            b = tournament(self.members, self.ga.tournament_size, self.rng, self.multi)
            return self.space.vary(a.genome, b.genome, self.rng)

        return self.screen.pick(lambda: self.space.fit(child, self.rng, "child"), self.ledger.scored,
                                self.space.decode, self.ledger.known, self.rng)

    def tell(self, record: dict[str, Any]) -> None:
        self._join(self.individual(record))
        self.finished += 1
        self.events.emit(Joined(self.finished))

    def _join(self, ind: Individual) -> None:
        self.members.append(ind)
        if len(self.members) > self.ga.population_size:
            self.members.popleft()  # ageing: the oldest leaves, however fit

    def individual(self, record: dict[str, Any]) -> Individual:
        fidelity, score = self.ledger.standing(record)
        return Individual(self.space.decode(record["genome"]), score, fidelity, self.ledger.costs(record))

    def state(self) -> dict[str, Any]:
        members = [{"genome": self.space.encode(i.genome), "fitness": i.fitness, "fidelity": i.fidelity,
                    **({"costs": list(i.costs)} if i.costs else {})} for i in self.members]
        return {"mode": self.mode, "next_generation": 0, "population": members, "births": self.births,
                "rng_state": self.rng.bit_generator.state, **self.space.counters(), "duplicates": self.duplicates,
                "rebred": 0, "generation_stats": self.generation_stats}

    def restore(self, checkpoint: dict[str, Any] | None, history: Sequence[dict[str, Any]],
                rung_history: Sequence[dict[str, Any]] = ()) -> None:
        """The population is the last population_size genomes of `history` (its order is the
        join order); birth numbers go on after the largest one on file; the generator and
        counters come from the checkpoint."""
        if checkpoint is not None:
            self.rng.bit_generator.state = checkpoint["rng_state"]
            self.space.restore_counters(checkpoint)
            self.duplicates = checkpoint.get("duplicates", 0)
            self.generation_stats = checkpoint["generation_stats"]
        self.members = deque(self.individual(r) for r in history[-self.ga.population_size:])
        self.births = 1 + max((r.get("birth", -1) for r in (*history, *rung_history)), default=-1)

    def summary(self) -> dict[str, Any]:
        return {"mode": self.mode, "generations": 0, "duplicates": self.duplicates, "rebred": 0,
                "fit": self.ga.fit, **self.space.counters(), "generation_stats": self.generation_stats,
                "births": self.births}

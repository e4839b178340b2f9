"""Asynchronous steady-state evolution (`ga.mode=async`): no generation barrier.

Whenever a worker frees up, the driver breeds a child from the current population by
tournament selection and sends it out; each finished child joins the population and the
oldest member leaves (regularized evolution, Real et al. 2019). The budget is the number of
evaluations the generational run would make. History lines carry a birth order.

With early stopping (train.early_stop) a child trains to the first rung; at each rung it
continues at once, from where it paused, while its accuracy is in the top 1/eta (halving:
asynchronous successive halving in its stopping form, as Ray Tune's ASHA) or the top half
(median) of every result recorded at that rung so far; otherwise it is recorded `stopped`
and joins the population with its partial standing (garay.fidelity). No barrier.

Resume (`resume=true`, after any kill): every finished genome is in history.jsonl, which
is also the population's join order; the checkpoint, rewritten after every finished genome,
holds the generator state. A genome that passed a rung but had not finished is decided
again from rungs.jsonl alone (the rule depends only on what was recorded before it) and
sent on to its next rung, or recorded `stopped`.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import replace
from typing import Any

from garay.evaluation import evaluation_seed
from garay.evolution import Evolution
from garay.progress import progress_bar
from garay.fidelity import continues
from garay.genome import Genome
from garay.operators import Individual, crossover, mutate, pareto_order
from garay.runlog import CHECKPOINT, RUNGS
from garay.workers import Result, Task


class SteadyStateEvolution(Evolution):
    mode = "async"

    def __init__(self, **kwargs: Any):
        super().__init__(**kwargs)
        self.members: deque[Individual] = deque()  # oldest first
        self.births = 0  # the next birth number (keys b{n} are unique in a run's files)
        self.recorded: dict[int, list[float]] = {}  # rung epochs -> accuracies recorded there
        self.in_flight: dict[str, int] = {}  # hash -> the epochs it is training to
        self.pending: list[Task] = []  # restored genomes to send on when run() starts

    def restore(self, checkpoint: dict[str, Any] | None, history: list[dict[str, Any]],
                rung_history: list[dict[str, Any]] = ()) -> None:
        """Continue an async run from its files (see Evolution.restore for the caches and
        counters). The population is the last population_size genomes of `history` (its
        order is the join order); birth numbers go on after the largest one on file. A
        genome with rung records but no final one was in flight when the run was killed: the
        rule is replayed at its highest rung against what was recorded there before it, as
        `advance` decided it; it is recorded `stopped`, or goes to `pending`, sent on to its
        next rung when run() starts (trained again from its seed: the same numbers). A
        genome in flight before its first rung result is lost, not counted, and its place in
        the budget goes to a new birth."""
        super().restore(checkpoint, history, rung_history)
        self.population = []  # generational state: the population lives in `members`
        self.members = deque(self.individual(r) for r in history[-self.ga.population_size:])
        self.births = 1 + max((r.get("birth", -1) for r in (*history, *rung_history)), default=-1)
        finished = {r["hash"] for r in history}
        unfinished: dict[str, tuple[dict[str, Any], str | None]] = {}  # hash -> highest rung record, its fate
        for r in rung_history:  # file order is the order `advance` recorded them in
            reason = self._judge(r.get("rung", r["epochs"]), r["val_accuracy"])
            if r["hash"] not in finished:
                unfinished[r["hash"]] = (r, reason)
        for h, (r, reason) in unfinished.items():
            if reason is not None:  # killed between the rung record and the stop record
                self._join(self.individual(self.stop(r, reason)))
                continue
            nxt = self.rungs.after(r.get("rung", r["epochs"]))
            self.pending.append(Task(r["key"], Genome.from_dict(r["genome"]), r["seed"], birth=r["birth"], epochs=nxt))
            self.in_flight[h] = nxt or self.rungs.full
            self.spent[h] = r["seconds"]  # as the generational resume counts an unfinished genome's rungs

    def run(self) -> dict[str, Any]:
        start = time.perf_counter()
        in_flight = self.in_flight
        bar = progress_bar(self.ga.budget if self.ga.budget_epochs is None else None, "async", self.progress, tick=True)
        bar.update(len(self.cache))  # finished before a resume
        # Before any evaluation: a run killed before its first result still leaves its
        # settings (and its generator's state) for resume to check against.
        self.runlog.write(CHECKPOINT, self.checkpoint())
        for task in self.pending:
            self.evaluator.submit(task)
        self.pending = []
        done = 0
        while True:
            # Keep every worker busy while the budget lasts.
            repeats = 0  # children in a row that were already evaluated (a small search space)
            # Live workers (the pool follows the cluster); at least one, so that a run whose
            # workers are all being replaced waits for them instead of ending.
            while len(in_flight) < max(1, self.evaluator.num_workers) and self.may_breed():
                genome = self.next_genome()
                if genome is None:
                    break  # too few evaluated members to breed from yet
                if genome.hash in self.cache or genome.hash in in_flight:
                    self.duplicates += 1  # not trained again, and no second place in the population
                    repeats += 1
                    if repeats >= self.ga.max_redraws:
                        break  # wait for a result to change the population
                    continue
                birth = self.births
                self.births += 1
                first = self.rungs.epochs[0] if self.rungs.active else None
                in_flight[genome.hash] = first or self.rungs.full
                self.evaluator.submit(Task(f"b{birth}", genome, evaluation_seed(self.seed, genome.hash, birth),
                                           birth=birth, epochs=first))
            if not in_flight:
                break
            result = self.evaluator.next_result(return_when_idle=True)
            if result is None:  # a worker joined: breed work for it now, not after the next result
                continue
            record, follow = self.advance(result)
            if follow is not None:
                in_flight[record["hash"]] = follow.epochs
                self.evaluator.submit(follow)  # promoted: it keeps its place in flight
                continue
            in_flight.pop(record["hash"], None)
            self._join(self.individual(record))
            done += 1
            bar.update(1)
            bar.set_postfix(best=f"{self.best()['fitness']:.3f}")
            if done % self.ga.population_size == 0:
                self.write_results()
            # After every finished genome: a resumed run breeds on from a recent generator
            # state, so it rarely draws again children it already has.
            self.runlog.write(CHECKPOINT, self.checkpoint())
        bar.close()
        self.write_results()
        self.runlog.write(CHECKPOINT, self.checkpoint())
        self.population = list(self.members)
        return self.summary(time.perf_counter() - start)

    def started(self) -> int:
        """Genomes finished or in flight. Every birth is one or the other (a repeat is not
        born), so in an uninterrupted run this is the number of births; a resumed run does
        not count genomes lost in flight, and breeds others in their place."""
        return len(self.cache) + len(self.in_flight)

    def may_breed(self) -> bool:
        """Births left: until ga.budget genomes are finished or in flight, or with
        ga.budget_epochs, while the epochs spent and those in flight are trained to stay
        below it."""
        if self.ga.budget_epochs is None:
            return self.started() < self.ga.budget
        return self.epochs_finished + sum(self.in_flight.values()) < self.ga.budget_epochs

    def advance(self, result: Result) -> tuple[dict[str, Any], Task | None]:
        """A result has arrived: its final record, or (early stopping, a rung passed) its
        rung record and the task that continues it to the next rung."""
        if result.task.epochs is None:
            return self.finish(result), None
        record = self.segment(result)
        rung = result.task.epochs
        nxt = self.rungs.after(rung)
        if record["status"] != "ok" or nxt is None:
            return self.commit(record), None
        self.runlog.append(record, RUNGS)
        self.rung_cache[(record["hash"], rung)] = record
        reason = self._judge(rung, record["val_accuracy"])
        if reason is None:
            return record, replace(result.task, epochs=nxt, state=result.state)
        return self.stop(record, reason), None

    def _judge(self, rung: int, accuracy: float) -> str | None:
        """Record an accuracy reached at a rung; why the genome stops there (None: it
        continues). Depends only on what was recorded at the rung before, so a resumed run
        replaying rungs.jsonl in file order decides alike."""
        recorded = self.recorded.setdefault(rung, [])
        go = continues(accuracy, recorded, self.rungs.keep_fraction)
        recorded.append(accuracy)
        if go:
            return None
        return (f"{self.rungs.policy} at epoch {rung}: {accuracy:.4f} below the "
                f"top {self.rungs.keep_fraction:.2f} of {len(recorded)} recorded")

    def _join(self, ind: Individual) -> None:
        self.members.append(ind)
        if len(self.members) > self.ga.population_size:
            self.members.popleft()  # ageing: the oldest leaves, however fit

    def next_genome(self) -> Genome | None:
        """An initial genome while the population fills, then a child of two tournament
        winners; None when fewer than two members are evaluated yet."""
        if self.started() < self.ga.population_size:
            return self.random_genome()
        if len(self.members) < 2:
            return None

        def child() -> Genome:
            a, b = self.tournament(), self.tournament()
            kid = crossover(a.genome, b.genome, self.rng)
            return mutate(kid, self.blueprint, self.ga.mutation_rate, self.rng, conv_chance=self.ga.conv_chance)

        return self._draw_valid(child, "child")

    def tournament(self) -> Individual:
        """The fittest of `tournament_size` members drawn at random; with several
        objectives, the one NSGA-II ranks first among the members (front, then crowding)."""
        members = list(self.members)
        size = min(self.ga.tournament_size, len(members))
        picks = self.rng.choice(len(members), size=size, replace=False)
        if self.multi:
            place = {id(ind): n for n, ind in enumerate(pareto_order(members))}
            return min((members[i] for i in picks), key=lambda ind: place[id(ind)])
        # Ties break towards the lower hash, as in `select`.
        return min((members[i] for i in picks), key=lambda ind: ind.rank)

    def checkpoint(self) -> dict[str, Any]:
        state = super().checkpoint()
        state.update(mode=self.mode, births=self.births,
                     population=[{"genome": i.genome.to_dict(), "fitness": i.fitness, "fidelity": i.fidelity,
                                  **({"costs": list(i.costs)} if i.costs else {})}
                                 for i in self.members])
        return state

    def summary(self, seconds: float) -> dict[str, Any]:
        out = super().summary(seconds)
        out.update(births=self.births)
        return out

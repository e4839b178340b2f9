"""The ledger: the book of one run. Every result becomes a record here; final ones go to
history.jsonl before anything else hears of them, results at early-stopping rungs to
rungs.jsonl. It answers what strategies and callbacks ask of the run so far: has this
genome been evaluated (the cache), the best and the front, how a record ranks and what
it costs, the budget spent, and what is training now.
"""

from __future__ import annotations

import math
from typing import Any, Optional, Sequence

from garay.execution.protocol import Result, Task
from garay.fidelity.rules import Rungs, record_rank, standing
from garay.results.pareto import non_dominated_sort
from garay.results.records import Record, best_entry, front_entry, history_record, stopped_record
from garay.results.runlog import RUNGS, RunLog
from garay.search.space import SearchSpace


class Ledger:
    """One run's records. `runlog` None keeps them in memory only (the ask/tell API).
    `space` stores and sizes candidates; `objectives` are ga.objectives (costs after
    fitness: lower is better); `rungs` the training's (what a full evaluation is)."""

    def __init__(self, runlog: Optional[RunLog], *, space: SearchSpace, run_id: str, seed: int = 0,
                 identity: dict[str, Any] | None = None, objectives: Sequence[str] = ("fitness",),
                 rungs: Rungs | None = None):
        self.runlog, self.run_id, self.seed, self.identity = runlog, run_id, seed, identity or {}
        self.space = space
        self.objectives = tuple(objectives)
        self.rungs = rungs or Rungs((0,))
        self.cache: dict[str, Record] = {}  # genome hash -> its final record
        self.rung_records: dict[tuple[str, int], Record] = {}  # (hash, epochs) -> its result at that rung
        self.in_flight: dict[str, int] = {}  # hash -> the epochs it is training to now
        self.spent: dict[str, float] = {}  # worker seconds spent on an unfinished genome's rungs
        self.epochs_finished = 0  # epochs reached, summed over finished genomes (ga.budget_epochs)
        self.busy_seconds = 0.0  # worker time spent on this process's evaluations
        self.resumed = 0  # records found on disk when the run was resumed
        self._best: Record | None = None
        self.repeats: dict[str, list[Record]] = {}  # hash -> its re-evaluations (ga.reevaluate)

    @property
    def multi(self) -> bool:
        return len(self.objectives) > 1

    # --- writing ------------------------------------------------------------------------

    def record(self, result: Result) -> Record:
        """A result as a record (not yet committed): its seconds count every rung the genome
        trained for so far."""
        h = result.task.genome.hash
        self.busy_seconds += result.evaluation.seconds
        self.spent[h] = self.spent.get(h, 0.0) + result.evaluation.seconds
        return history_record(result, run_id=self.run_id, seconds=self.spent[h], encode=self.space.encode,
                              params=self.space.params)

    def stopped(self, rung_record: Record, reason: str) -> Record:
        """The final record of a genome early stopping ended at a rung (not yet committed)."""
        return stopped_record(rung_record, reason)

    def decode(self, data: dict[str, Any]) -> Any:
        return self.space.decode(data)

    def mean_fitness(self, h: str) -> float:
        """A genome's fitness averaged over its evaluation and re-evaluations."""
        every = [self.cache[h], *self.repeats.get(h, ())]
        return sum(float(r["fitness"]) for r in every) / len(every)

    def submitted(self, task: Task) -> None:
        self.in_flight[task.genome.hash] = task.epochs or self.rungs.full

    def commit(self, record: Record) -> None:
        """A genome's final record: on disk first, then in the book."""
        self.spent.pop(record["hash"], None)
        self.in_flight.pop(record["hash"], None)
        if self.runlog is not None:
            self.runlog.append(dict(record))
        self._remember(record)

    def record_rung(self, record: Record) -> None:
        """A result at an early-stopping rung the genome passed (rungs.jsonl, for resume)."""
        if self.runlog is not None:
            self.runlog.append(dict(record), RUNGS)
        self.rung_records[(record["hash"], record["rung"])] = record

    def restore(self, history: Sequence[Record], rung_history: Sequence[Record],
                checkpoint: dict[str, Any] | None) -> None:
        """The records a killed run left: never trained again."""
        for record in history:
            self._remember(record)
        for record in rung_history:
            self.rung_records[(record["hash"], record["epochs"])] = record
        self.resumed = len(history)
        if history:
            self.run_id = history[0]["run_id"]
        if checkpoint is not None:
            self.run_id = checkpoint["run_id"]

    def _remember(self, record: Record) -> None:
        self.epochs_finished += int(record.get("epochs") or 0)
        if record.get("repeat"):  # the first record stays the genome's; best() takes the mean
            self.repeats.setdefault(record["hash"], []).append(record)
            return
        self.cache[record["hash"]] = record
        if self._best is None or record_rank(record) < record_rank(self._best):
            self._best = record

    # --- reading ------------------------------------------------------------------------

    def best(self) -> dict[str, Any]:
        """The fittest evaluation so far (ties: lower hash), as best.json holds it. Once
        genomes were re-evaluated (ga.reevaluate), the one of them with the best mean over
        its evaluations (one lucky training does not choose)."""
        if not self.repeats:
            return best_entry(self._best)
        return max((best_entry(self.cache[h], rs) for h, rs in self.repeats.items()),
                   key=lambda e: (e["fitness"], [-ord(c) for c in e["hash"]]))

    def standing(self, record: Record) -> tuple[float, float]:
        """(fidelity, score) as the strategies rank a record (garay.fidelity.rules.standing)."""
        return standing(record, self.rungs.full)

    def costs(self, record: Record) -> tuple[float, ...]:
        """The objectives after fitness, as costs (lower is better); () for fitness alone."""
        if not self.multi:
            return ()
        value = {"params": float(record["params"]), "latency": float(record.get("latency_ms") or math.inf)}
        return tuple(value[o] for o in self.objectives[1:])

    def front(self) -> list[dict[str, Any]]:
        """The non-dominated full, successful evaluations (fitness against the costs),
        smallest first: what pareto.json holds."""
        done = sorted((r for r in self.cache.values() if r["status"] == "ok"), key=lambda r: r["hash"])
        points = [(r["fitness"], *(-c for c in self.costs(r))) for r in done]
        front = [done[i] for i in (non_dominated_sort(points) or [[]])[0]]
        return [front_entry(r) for r in sorted(front, key=lambda r: (r["params"], -r["fitness"]))]

    def scored(self) -> list[Record]:
        """Final records of full, successful evaluations (what a surrogate is fitted on)."""
        return [r for r in self.cache.values() if r["status"] == "ok"]

    def known(self, h: str) -> bool:
        """Evaluated already, or training now."""
        return h in self.cache or h in self.in_flight

    def seen_before(self, generation: int) -> set[str]:
        """Hashes evaluated in earlier generations. (A resumed run may already hold results
        of this one; counting them would make it breed differently from the run it resumes.)"""
        return {h for h, r in self.cache.items() if r.get("generation", -1) < generation}

    def epochs_spent(self, before: int | None = None) -> int:
        """Training epochs spent so far: every finished genome's epochs reached (a genome
        early stopping ended counts only what it trained), rungs of unfinished ones too;
        with `before`, only generations before it."""
        def counted(r: Record) -> bool:
            return before is None or r.get("generation", -1) < before

        finished = (self.epochs_finished if before is None
                    else sum(int(r.get("epochs") or 0) for r in self.cache.values() if counted(r)))
        pending: dict[str, int] = {}
        for (h, e), r in self.rung_records.items():
            if h not in self.cache and counted(r):
                pending[h] = max(pending.get(h, 0), e)
        return finished + sum(pending.values())

    def first_epochs(self) -> int:
        """The epochs a new evaluation trains to first: the first rung (early stopping), or all."""
        return self.rungs.epochs[0] if self.rungs.active else self.rungs.full

    def checkpoint(self) -> dict[str, Any]:
        """The ledger's part of checkpoint.json."""
        return {"run_id": self.run_id, "seed": self.seed, "identity": self.identity,
                "evaluated_hashes": sorted(self.cache)}

    def statuses(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for r in self.cache.values():
            out[r["status"]] = out.get(r["status"], 0) + 1
        return out

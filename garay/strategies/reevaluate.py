"""Incumbent re-evaluation (`ga.reevaluate`): when the strategy is done, its `k` fittest
genomes are trained once more, each with a seed of its own, and the best is chosen by
the mean of its evaluations (best.json says how many). A pick by one noisy training is
the winner's curse: the luckiest training wins, not the best network.

A wrapper around any strategy: it asks the strategy's own tasks until the strategy is
done and nothing is training, then the k re-evaluations (k more evaluations than the
strategy's budget). Resume: the re-evaluations on file are not trained again.
"""

from __future__ import annotations

import logging
from typing import Any, Sequence

from garay.execution.evaluation import evaluation_seed
from garay.execution.protocol import Task
from garay.fidelity.rules import record_rank
from garay.results.ledger import Ledger
from garay.strategies.base import Strategy

log = logging.getLogger(__name__)

REEVALUATION_SALT = 1_000_003  # keeps a re-evaluation's seed apart from any first evaluation's


class Reevaluating:
    """`strategy`, then its `k` fittest genomes trained again."""

    def __init__(self, strategy: Strategy, ledger: Ledger, k: int, seed: int = 0):
        self.strategy, self.ledger, self.k, self.seed = strategy, ledger, k, seed
        self.mode, self.barrier, self.events = strategy.mode, strategy.barrier, strategy.events
        self._asked: set[str] = set()  # hashes whose re-evaluation was asked for

    @property
    def fresh(self) -> bool:
        return self.strategy.fresh

    @property
    def generation(self) -> int:
        return getattr(self.strategy, "generation", 0)

    def chosen(self) -> list[dict[str, Any]]:
        """The k fittest full, successful evaluations (as the strategy ranked them)."""
        return sorted(self.ledger.scored(), key=record_rank)[: self.k]

    def ask(self, n: int) -> list[Task]:
        if not self.strategy.done():
            return self.strategy.ask(n)
        if self.ledger.in_flight:
            return []  # the search's last results may change who is chosen
        out = []
        for i, record in enumerate(self.chosen()):
            h = record["hash"]
            if h in self._asked or self.ledger.repeats.get(h):
                continue
            self._asked.add(h)
            task = Task(f"re{i}", self.ledger.decode(record["genome"]),
                        evaluation_seed(self.seed + REEVALUATION_SALT, h, 1), record.get("generation"),
                        record.get("birth"), repeat=1)
            out.append(task)
            if len(out) >= n and not self.barrier:
                break
        if out and len(self._asked) == len(out):
            log.info("the search is done: training its %d fittest genomes again, to choose by the mean",
                     len(self.chosen()))
        return out

    def tell(self, record: dict[str, Any]) -> None:
        if not record.get("repeat"):
            self.strategy.tell(record)

    def done(self) -> bool:
        return self.strategy.done() and all(self.ledger.repeats.get(r["hash"]) for r in self.chosen())

    def state(self) -> dict[str, Any]:
        return self.strategy.state()

    def restore(self, checkpoint: dict[str, Any] | None, history: Sequence[dict[str, Any]],
                rung_history: Sequence[dict[str, Any]]) -> None:
        self.strategy.restore(checkpoint, [r for r in history if not r.get("repeat")], rung_history)

    def summary(self) -> dict[str, Any]:
        return {**self.strategy.summary(), "reevaluated": sum(len(v) for v in self.ledger.repeats.values())}

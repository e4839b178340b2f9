"""garay's search with your own training loop (ask and tell, as Optuna and Nevergrad
offer): no Ray, no Hydra, no files unless you ask for them.

    from garay import AskTell
    from garay.search import Blueprint, GenomeSpace

    space = GenomeSpace(Blueprint(), input_shape=(32, 32), num_classes=10)
    search = AskTell(space, population_size=8, generations=3, num_parents=3, seed=0)
    while not search.done():
        for candidate in search.ask():
            search.tell(candidate, my_score(candidate.genome))
    print(search.best["fitness"], search.best_genome)
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any, Optional

from garay.config.schema import GAConfig
from garay.execution.evaluation import Evaluation
from garay.execution.protocol import Result, Task
from garay.results.ledger import Ledger
from garay.results.runlog import BEST, RunLog
from garay.search.space import SearchSpace
from garay.strategies import make_strategy


class AskTell:
    """A strategy (`mode`: generational, async or random; the other keyword arguments are
    the `ga` group's keys) over `space`, fed by your scores. With `run_dir`, every score
    is also appended to run_dir/history.jsonl and the best to best.json."""

    def __init__(self, space: SearchSpace, *, mode: str = "generational", seed: int = 0,
                 run_dir: Optional[Path | str] = None, **ga: Any):
        self.ga = GAConfig(mode=mode, **ga)
        self.space = space
        self.runlog = RunLog(run_dir) if run_dir is not None else None
        self.ledger = Ledger(self.runlog, space=space, run_id=uuid.uuid4().hex[:12], seed=seed,
                             objectives=self.ga.objectives)
        self.strategy = make_strategy(space, self.ga, self.ledger, seed=seed)

    def ask(self, n: int = 1) -> list[Task]:
        """Candidates to score (each a Task: `.genome`, `.key`, `.seed` for your training):
        a whole generation (generational, random; none until the last one is told), or up
        to `n` (async)."""
        tasks = self.strategy.ask(n)
        for task in tasks:
            self.ledger.submitted(task)
        return tasks

    def tell(self, candidate: Task, fitness: float, *, test_score: float = 0.0, failed: bool = False) -> None:
        """`candidate`'s score (higher is better; `test_score` is kept beside it, never
        used to choose). `failed=True`: it could not be scored (it ranks last)."""
        if candidate.genome.hash not in self.ledger.in_flight:
            raise ValueError(f"{candidate.key} was not asked for, or was told already")
        status = "failed" if failed else "ok"
        evaluation = Evaluation(0.0 if failed else float(fitness), 0.0 if failed else float(fitness),
                                float(test_score), status, "told as failed" if failed else None, 0.0, 0, 0)
        record = self.ledger.record(Result(candidate, evaluation, worker="ask-tell"))
        self.ledger.commit(record)
        self.strategy.tell(record)
        if self.runlog is not None:
            self.runlog.write(BEST, self.ledger.best())

    def done(self) -> bool:
        """The budget is spent and every candidate asked for was told."""
        return self.strategy.done() and not self.ledger.in_flight

    @property
    def best(self) -> dict[str, Any]:
        """The best scored candidate as best.json holds it ({"fitness": 0.0} before any)."""
        return self.ledger.best()

    @property
    def best_genome(self) -> Any:
        return self.space.decode(self.best["genome"]) if "genome" in self.best else None

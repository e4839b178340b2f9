"""One search wired: the ledger, the strategy for ga.mode, the fidelity scheduler for the
rungs, and the callbacks that write the run directory; restored from its files when the
run resumes, then run to its end. What the CLI, the Python API, tests and benchmarks run."""

from __future__ import annotations

import logging
import time
import uuid
from typing import Any, Optional

from garay.config.schema import GAConfig
from garay.execution.protocol import Evaluator
from garay.fidelity.rules import Rungs
from garay.fidelity.schedulers import Action, scheduler_for
from garay.results import callbacks as cb
from garay.results.ledger import Ledger
from garay.results.runlog import RunLog
from garay.results.summary import search_summary
from garay.search.space import SearchSpace
from garay.strategies import make_strategy
from garay.strategies.driver import drive

log = logging.getLogger("garay")


class Search:
    """Search `space` with the strategy ga.mode names, training on `evaluator`, writing
    `runlog`'s directory (None: records stay in memory, as benchmarks over tabular spaces
    want). `rungs`: early stopping (None: every genome trains in full)."""

    def __init__(self, space: SearchSpace, ga: GAConfig, evaluator: Evaluator, runlog: Optional[RunLog], *, seed: int = 0,
                 rungs: Optional[Rungs] = None, identity: Optional[dict[str, Any]] = None, progress: bool = False,
                 tracker: Any = None, metric: str = "accuracy"):
        self.ga, self.evaluator, self.runlog = ga, evaluator, runlog
        self.rungs = rungs or Rungs((0,))  # one rung, the full training, however long
        self.ledger = Ledger(runlog, space=space, run_id=uuid.uuid4().hex[:12], seed=seed, identity=identity,
                             objectives=ga.objectives, rungs=self.rungs)
        self.strategy = make_strategy(space, ga, self.ledger, seed=seed)
        self.scheduler = scheduler_for(self.ledger, self.rungs, self.strategy.barrier)
        self.restarted: list[Action] = []  # what a resumed run had in flight
        self.callbacks = cb.Callbacks([
            cb.ProgressBars(self.ledger, progress, ga.budget + ga.reevaluate if ga.budget_epochs is None else None,
                            not self.strategy.barrier),
            cb.GenerationLog(self.ledger, metric),
            *([cb.Tracking(tracker, self.ledger)] if tracker is not None else []),
            *([cb.ResultFiles(runlog, self.ledger, every=ga.population_size, max_params=ga.max_params),
               cb.CheckpointFile(runlog, self.ledger, self.strategy)] if runlog is not None else []),
        ])

    def restore(self, checkpoint: Optional[dict[str, Any]]) -> None:
        """Continue the run in the directory: every finished evaluation is known (never
        trained again), the strategy is back where `checkpoint` left it, and genomes in
        flight at the kill are sent on or stopped as the scheduler decided them."""
        self.runlog.repair()
        history, rung_history = self.runlog.history(), self.runlog.rung_history()
        self.ledger.restore(history, rung_history, checkpoint)
        self.strategy.restore(checkpoint, history, rung_history)
        self.restarted = self.scheduler.restart(rung_history)
        where = "" if not self.strategy.barrier else f" at generation {self.strategy.generation}"
        log.info("resuming run %s%s with %d finished evaluations", self.ledger.run_id, where, self.ledger.resumed)

    def run(self) -> dict[str, Any]:
        """Run to the end; the search's part of summary.json."""
        start, before = time.perf_counter(), self.evaluator.worker_seconds()
        drive(self.strategy, self.evaluator, self.scheduler, self.ledger, self.callbacks, self.restarted)
        return search_summary(self.strategy, self.ledger, self.ga, self.rungs, seconds=time.perf_counter() - start,
                              worker_seconds=self.evaluator.worker_seconds() - before)

"""What a run writes and shows, as callbacks of the driver loop (garay.strategies.driver)
and listeners of the strategy's events: checkpoint.json, best.json and pareto.json, the
progress bars, the generation log line, TensorBoard. The loop only calls them."""

from __future__ import annotations

import logging
from typing import Any, Iterable, Optional

from garay.progress import progress_bar
from garay.results.ledger import Ledger
from garay.results.runlog import BEST, CHECKPOINT, PARETO, RunLog
from garay.results.tables import new_genome_stats

log = logging.getLogger(__name__)


class Callback:
    """Every hook, doing nothing: subclasses take the ones they need."""

    def on_start(self) -> None: ...

    def on_record(self, record: dict[str, Any], resumed: bool) -> None:
        """A genome's final record, just committed (`resumed`: found on disk instead)."""

    def on_event(self, event: Any) -> None:
        """A strategy's event (garay.strategies.base: CohortStart, GenerationEnd, Joined)."""

    def on_end(self) -> None: ...


class Callbacks(Callback):
    """Several callbacks, called in order."""

    def __init__(self, callbacks: Iterable[Callback]):
        self.callbacks = list(callbacks)

    def on_start(self) -> None:
        for c in self.callbacks:
            c.on_start()

    def on_record(self, record: dict[str, Any], resumed: bool) -> None:
        for c in self.callbacks:
            c.on_record(record, resumed)

    def on_event(self, event: Any) -> None:
        for c in self.callbacks:
            c.on_event(event)

    def on_end(self) -> None:
        for c in self.callbacks:
            c.on_end()


def _kind(event: Any) -> str:
    return type(event).__name__


class CheckpointFile(Callback):
    """checkpoint.json (the ledger's part and the strategy's): at the start of a fresh run
    (so a run killed before its first result leaves its settings for resume to check),
    after every generation or joined genome, and at the end."""

    def __init__(self, runlog: RunLog, ledger: Ledger, strategy: Any):
        self.runlog, self.ledger, self.strategy = runlog, ledger, strategy

    def write(self) -> None:
        self.runlog.write(CHECKPOINT, {**self.ledger.checkpoint(), **self.strategy.state()})

    def on_start(self) -> None:
        if self.strategy.fresh:
            self.write()

    def on_event(self, event: Any) -> None:
        if _kind(event) in ("GenerationEnd", "Joined"):
            self.write()

    def on_end(self) -> None:
        self.write()


class ResultFiles(Callback):
    """best.json, and with several objectives pareto.json (the front takes the place of
    honour: no single genome is best): after every generation, every `every` genomes an
    asynchronous strategy joins, and at the end."""

    def __init__(self, runlog: RunLog, ledger: Ledger, every: int, max_params: Optional[int] = None):
        self.runlog, self.ledger, self.every, self.max_params = runlog, ledger, every, max_params

    def write(self) -> None:
        self.runlog.write(BEST, self.ledger.best())
        if self.ledger.multi:
            self.runlog.write(PARETO, {"objectives": list(self.ledger.objectives), "max_params": self.max_params,
                                       "front": self.ledger.front()})

    def on_event(self, event: Any) -> None:
        if _kind(event) == "GenerationEnd" or (_kind(event) == "Joined" and event.finished % self.every == 0):
            self.write()

    def on_end(self) -> None:
        self.write()


class ProgressBars(Callback):
    """A bar per generation (its new genomes), or one for an asynchronous run's budget."""

    def __init__(self, ledger: Ledger, enabled: bool, budget: Optional[int], asynchronous: bool):
        self.ledger, self.enabled, self.budget, self.asynchronous = ledger, enabled, budget, asynchronous
        self.bar: Any = None
        # The strategy ends a generation as it is told the last record, before the callbacks
        # hear of that record: the bar closes once it has counted it.
        self.closing = False

    def _open(self, total: Optional[int], desc: str) -> None:
        self._close()
        self.bar = progress_bar(total, desc, self.enabled, tick=True)

    def _close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None
        self.closing = False

    def on_start(self) -> None:
        if self.asynchronous:
            self._open(self.budget, "async")
            self.bar.update(len(self.ledger.cache))  # finished before a resume

    def on_event(self, event: Any) -> None:
        if _kind(event) == "CohortStart":
            self._open(event.size, f"gen {event.generation}")
        elif _kind(event) == "GenerationEnd" and not self.asynchronous:
            self.closing = True

    def on_record(self, record: dict[str, Any], resumed: bool) -> None:
        if self.bar is not None:
            self.bar.update(1)
            if not resumed:
                self.bar.set_postfix(best=f"{self.ledger.best()['fitness']:.3f}")
        if self.closing:
            self._close()

    def on_end(self) -> None:
        self._close()


class GenerationLog(Callback):
    """One log line a generation: its population's statistics and its new genomes'."""

    def __init__(self, ledger: Ledger, metric: str = "accuracy"):
        self.ledger, self.metric = ledger, metric

    def on_event(self, event: Any) -> None:
        if _kind(event) != "GenerationEnd":
            return
        stats = event.stats
        new = generation_news(self.ledger, event.generation)
        counted = f"{new['evaluated']}" + (f", {new['stopped']} stopped early" if new["stopped"] else "")
        fresh = (f"new genomes ({counted}) best {new['best']:.4f}, median {new['median']:.4f}"
                 if new["best"] is not None else f"no new genome ranked ({counted})")
        log.info("generation %d (validation %s): population best %.4f, median %.4f; %s; best so far %.4f",
                 event.generation, self.metric, stats["best"], stats["median"], fresh, stats["best_so_far"])


class Tracking(Callback):
    """Every evaluation and generation to a tracker (garay.results.tracking)."""

    def __init__(self, tracker: Any, ledger: Ledger):
        self.tracker, self.ledger = tracker, ledger

    def on_record(self, record: dict[str, Any], resumed: bool) -> None:
        if not resumed:
            self.tracker.evaluation(record)

    def on_event(self, event: Any) -> None:
        if _kind(event) == "GenerationEnd":
            self.tracker.generation(event.stats, generation_news(self.ledger, event.generation))


def generation_news(ledger: Ledger, generation: int) -> dict[str, Any]:
    """Fitness statistics of the genomes first evaluated in `generation` (its lines in
    history.jsonl), beside generation_stats' population ones (parents and children)."""
    return new_genome_stats(r for r in ledger.cache.values() if r.get("generation") == generation)
